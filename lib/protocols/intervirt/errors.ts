/** Intervirt error codes and the one place errors become wire replies. */
import { CommandError } from "../../core/mod.ts";

/** The document's error codes. */
export const ErrorCode = {
  undefined: 1,
  unsuccessful: 2,
  alreadyDone: 3,
  guest: 4,
  guestCommand: 5,
  notFound: 6,
  unsupported: 7,
  badInput: 8,
} as const;

/** One of the codes 1–8. */
export type ErrorCodeValue = typeof ErrorCode[keyof typeof ErrorCode];

/** An error with an Intervirt code, raised anywhere below the handlers. */
export class IntervirtError extends Error {
  readonly code: ErrorCodeValue;
  constructor(code: ErrorCodeValue, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IntervirtError";
    this.code = code;
  }
}

/** The error part of a `General` reply. */
export interface ErrorFields {
  code: ErrorCodeValue;
  error: string;
}

/**
 * Maps any thrown value to the reply fields: command failures are code 5, or code 2 when the
 * command failed without saying why (no stderr); anything unexpected is code 1.
 */
export function errorFields(error: unknown): ErrorFields {
  if (error instanceof IntervirtError) return { code: error.code, error: error.message };
  if (error instanceof CommandError && !error.timedOut && error.stderrTail.trim() === "") {
    return { code: ErrorCode.unsuccessful, error: error.message };
  }
  if (error instanceof CommandError) {
    const detail = error.stderrTail.trim().split("\n").slice(-2).join(" | ");
    return {
      code: ErrorCode.guestCommand,
      error: `${error.message}${detail && !error.message.includes(detail) ? `: ${detail}` : ""}`,
    };
  }
  return {
    code: ErrorCode.undefined,
    error: error instanceof Error ? error.message : String(error),
  };
}
