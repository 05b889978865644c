/**
 * The one place where failures become sozu ERROR replies. sozu's wire has a single error status
 * with a free-text message, so every neutral domain error from core maps to `ERROR` with its
 * message unchanged, whatever its kind:
 *
 * | thrown | reply |
 * | --- | --- |
 * | `InvalidError` (bad frame, envelope or payload; an order the state refuses; unsupported) | ERROR |
 * | `NotFoundError` (no such listener, application, front, backend, certificate, worker) | ERROR |
 * | `ConflictError` (already exists elsewhere, still in use) | ERROR |
 * | `ForbiddenError` (a state path outside the allowed directory) | ERROR |
 * | `UnavailableError` (the proxy is stopped or stopping) | ERROR |
 * | `FailedError` (a data-plane or file operation failed) | ERROR |
 * | anything else | ERROR `internal error: …`, logged |
 */
import { DomainError, errorText, type Logger } from "../../core/mod.ts";
import { type CommandResponse, response } from "./schemas.ts";

/** Maps any error to the ERROR reply for request `id`. */
export function errorResponse(id: string, error: unknown, log: Logger): CommandResponse {
  if (error instanceof DomainError) return response(id, "ERROR", error.message);
  log.error("sozu request failed", { id, error });
  return response(id, "ERROR", `internal error: ${errorText(error)}`);
}
