/**
 * zod schemas for every payload the Daemon and the built-in Node read, and a helper that turns a
 * failed parse into the UNMARSHAL_ERROR reply naming the field.
 */
import { z } from "zod";
import { ErrorCode } from "./codes.ts";
import { ProtocolError } from "./errors.ts";

/** `setup` request. */
export const setupRequest = z.object({
  values: z.array(z.object({
    name: z.string(),
    value: z.string().nullable().optional(),
  })),
});

/** `start`, `shutdown`, `descriptor`, `connectionStatus`: an empty object (extra keys ignored). */
export const emptyRequest = z.object({});

/** `checkPassword` and `configuration`. */
export const passwordOptRequest = z.object({
  dbPasswordOpt: z.string().nullable().optional(),
});

/** `changePassword`. */
export const changePasswordRequest = z.object({
  oldPasswordOpt: z.string().nullable().optional(),
  newPassword: z.string(),
});

/** `setConfiguration`. */
export const setConfigurationRequest = z.object({
  name: z.string(),
  value: z.string(),
});

/** `crash` (one-way, UI → Node). */
export const crashRequest = z.object({
  actor: z.string(),
  panicMessage: z.string(),
});

/** Parses a payload or throws UNMARSHAL_ERROR naming the first bad field. */
export function parsePayload<T extends z.ZodType>(
  schema: T,
  opcode: string,
  payload: Record<string, unknown>,
): z.infer<T> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "payload";
  throw new ProtocolError(
    ErrorCode.UNMARSHAL_ERROR,
    `Bad ${opcode} payload: field ${where}: ${issue?.message ?? "invalid"}`,
  );
}
