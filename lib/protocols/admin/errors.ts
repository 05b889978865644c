/**
 * The one place where failures of a status-page action become HTTP answers: core's neutral
 * errors keep their message and get the matching status; anything else is logged and answered
 * 500 with a generic message.
 */
import { DomainError, type DomainErrorKind, type Logger } from "../../core/mod.ts";

const STATUS: Record<DomainErrorKind, number> = {
  invalid: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  busy: 409,
  failed: 502,
  unavailable: 503,
};

/** The HTTP status and the operator's message for an action that failed. */
export function actionFailure(error: unknown, log: Logger): { status: number; message: string } {
  if (error instanceof DomainError) return { status: STATUS[error.kind], message: error.message };
  log.error("status page action failed", { error });
  return { status: 500, message: "internal error (see the agent's log)" };
}
