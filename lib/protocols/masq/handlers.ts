/**
 * The MASQNode-UIv2 handler tables, on core's `HandlerTable`: the Daemon's (`setup`, `start`) and
 * the built-in Node's (`shutdown`, `descriptor`, …). Each handler checks its payload against
 * `schemas.ts` first (a bad one is an InvalidError with reason `unmarshal`, which `errors.ts`
 * answers with UNMARSHAL_ERROR naming the field), then calls the domain.
 */
import type { z } from "zod";
import { HandlerTable, InvalidError } from "../../core/mod.ts";
import type { UiMessage } from "./codec.ts";
import type { ClientId } from "./connection.ts";
import {
  type ChangePasswordRequest,
  changePasswordRequest,
  crashRequest,
  emptyRequest,
  passwordOptRequest,
  setConfigurationRequest,
  setupRequest,
  type SetupRequestValue,
} from "./schemas.ts";

/** What a handler gets for one inbound message. */
export interface MasqRequest {
  client: ClientId;
  opcode: string;
  contextId: bigint | null;
  payload: Record<string, unknown>;
  message: UiMessage;
}

/** Handles one opcode; throws a neutral domain error for a wire error. */
export type MasqHandler = (request: MasqRequest) => Promise<void> | void;

/** Opcode → handler. */
export type MasqHandlerTable = HandlerTable<string, MasqHandler>;

/** Parses a request's payload or throws InvalidError (reason `unmarshal`) naming the bad field. */
export function parsePayload<T extends z.ZodType>(schema: T, request: MasqRequest): z.infer<T> {
  const result = schema.safeParse(request.payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "payload";
  throw new InvalidError(
    `Bad ${request.opcode} payload: field ${where}: ${issue?.message ?? "invalid"}`,
    { reason: "unmarshal" },
  );
}

/** What the Daemon does for the conversations it handles itself. */
export interface MasqDaemonOperations {
  setup(request: MasqRequest, values: readonly SetupRequestValue[]): Promise<void>;
  start(request: MasqRequest): Promise<void>;
}

/** The Daemon's table. */
export function daemonHandlers(daemon: MasqDaemonOperations): MasqHandlerTable {
  return new HandlerTable<string, MasqHandler>("MASQ Daemon opcode")
    .register("setup", (r) => daemon.setup(r, parsePayload(setupRequest, r).values))
    .register("start", (r) => {
      parsePayload(emptyRequest, r);
      return daemon.start(r);
    });
}

/** What the built-in Node does for each opcode it serves. */
export interface MasqNodeOperations {
  shutdown(request: MasqRequest): void;
  descriptor(request: MasqRequest): void;
  connectionStatus(request: MasqRequest): void;
  checkPassword(request: MasqRequest, password: string | null): Promise<void>;
  changePassword(request: MasqRequest, change: ChangePasswordRequest): Promise<void>;
  configuration(request: MasqRequest, password: string | null): Promise<void>;
  setConfiguration(request: MasqRequest, name: string, value: string): Promise<void>;
  crash(request: MasqRequest, actor: string, panicMessage: string): void;
}

/** Runs `then` after checking that the payload is an object (extra keys ignored). */
function empty(then: (r: MasqRequest) => void): MasqHandler {
  return (r) => {
    parsePayload(emptyRequest, r);
    then(r);
  };
}

/** The built-in Node's table. */
export function nodeHandlers(node: MasqNodeOperations): MasqHandlerTable {
  const password = (r: MasqRequest) => parsePayload(passwordOptRequest, r).dbPasswordOpt ?? null;
  return new HandlerTable<string, MasqHandler>("MASQ Node opcode")
    .register("shutdown", empty((r) => node.shutdown(r)))
    .register("descriptor", empty((r) => node.descriptor(r)))
    .register("connectionStatus", empty((r) => node.connectionStatus(r)))
    .register("checkPassword", (r) => node.checkPassword(r, password(r)))
    .register(
      "changePassword",
      (r) => node.changePassword(r, parsePayload(changePasswordRequest, r)),
    )
    .register("configuration", (r) => node.configuration(r, password(r)))
    .register("setConfiguration", (r) => {
      const { name, value } = parsePayload(setConfigurationRequest, r);
      return node.setConfiguration(r, name, value);
    })
    .register("crash", (r) => {
      const { actor, panicMessage } = parsePayload(crashRequest, r);
      node.crash(r, actor, panicMessage);
    });
}
