/**
 * The one place where failures become sozu ERROR replies: {@linkcode SozuError} carries a message
 * fit for the wire; anything else is an internal error, logged and answered generically.
 */
import { errorText, type Logger } from "../../core/mod.ts";
import { type CommandResponse, response } from "./reply.ts";

/** A refusal the client should read: bad input, inconsistent order, unsupported feature. */
export class SozuError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SozuError";
  }
}

/** Maps any error to the ERROR reply for request `id`. */
export function errorResponse(id: string, error: unknown, log: Logger): CommandResponse {
  if (error instanceof SozuError) return response(id, "ERROR", error.message);
  log.error("sozu request failed", { id, error });
  return response(id, "ERROR", `internal error: ${errorText(error)}`);
}
