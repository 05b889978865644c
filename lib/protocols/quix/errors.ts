/**
 * Errors as Quix replies, in one place: `{"result":"error","reason":<code>,"detail":…}`.
 * Protocol code throws {@linkcode QuixError} with its own reason; the domain and the backends throw
 * neutral core errors, mapped here; anything else is an `internal_error` and is logged.
 */
import type { z } from "zod";
import { DomainError, type Logger } from "../../core/mod.ts";
import { SPAWN_FAILED } from "../../backends/processes/mod.ts";

/** Machine codes used in error replies. */
export type QuixReason =
  | "bad_request"
  | "unknown_request"
  | "not_authenticated"
  | "not_found"
  | "not_permitted"
  | "spawn_failed"
  | "invalid_config"
  | "vpn_failed"
  | "internal_error";

/** An error that becomes a reply with its own reason (thrown by the protocol layer only). */
export class QuixError extends Error {
  readonly reason: QuixReason;
  constructor(reason: QuixReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "QuixError";
    this.reason = reason;
  }
}

/** The body of an error reply. */
export interface QuixErrorBody {
  result: "error";
  reason: QuixReason;
  detail: string;
}

/** A `bad_request` naming the first offending field. */
export function badRequest(error: z.ZodError, prefix = "msg"): QuixError {
  const issue = error.issues[0];
  const path = issue ? [prefix, ...issue.path.map(String)].join(".") : prefix;
  return new QuixError("bad_request", `${path}: ${issue?.message ?? "invalid"}`);
}

/**
 * The reason of a neutral error, or null when it has none here. The only domain input a request
 * carries past its zod schema is a WireGuard config, so `invalid` is `invalid_config`; a `failed`
 * is a reply reason only when the processes backend could not start a command.
 */
function domainReason(error: DomainError): QuixReason | null {
  switch (error.kind) {
    case "forbidden":
      return "not_permitted";
    case "not_found":
      return "not_found";
    case "invalid":
      return "invalid_config";
    case "failed":
      return error.reason === SPAWN_FAILED ? "spawn_failed" : null;
    default:
      return null;
  }
}

/** Maps any error to the reply body (the one mapper of this protocol). */
export function errorBody(error: unknown, log?: Logger): QuixErrorBody {
  const body = (reason: QuixReason, detail: string): QuixErrorBody => ({
    result: "error",
    reason,
    detail,
  });
  if (error instanceof QuixError) return body(error.reason, error.message);
  const reason = error instanceof DomainError ? domainReason(error) : null;
  if (reason) return body(reason, error instanceof Error ? error.message : String(error));
  log?.error("request failed", { error });
  return body("internal_error", error instanceof Error ? error.message : String(error));
}

/** Whether a reply `msg` is an error body. */
export function isErrorBody(msg: unknown): msg is QuixErrorBody {
  return (msg as { result?: string } | null)?.result === "error";
}
