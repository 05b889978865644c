/**
 * The one place where failures become MASQNode-UIv2 error replies: handlers throw
 * {@linkcode ProtocolError} with a code; anything else is logged and answered as UNKNOWN_ERROR.
 */
import { errorText, type Logger } from "../../core/mod.ts";
import { ErrorCode } from "./codes.ts";
import { errorMessage } from "./envelope.ts";

/** A failure a handler reports to the client with a protocol error code. */
export class ProtocolError extends Error {
  readonly code: bigint;
  constructor(code: bigint, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
    this.code = code;
  }
}

/** The error reply for a failed conversation (logs anything that is not a ProtocolError). */
export function errorReply(
  error: unknown,
  opcode: string,
  contextId: bigint | null,
  log: Logger,
): string {
  if (error instanceof ProtocolError) {
    return errorMessage(opcode, contextId, error.code, error.message);
  }
  log.error("handler failed", { opcode, error: errorText(error) });
  return errorMessage(
    opcode,
    contextId,
    ErrorCode.UNKNOWN_ERROR,
    `Internal error handling ${opcode}: ${errorText(error)}`,
  );
}
