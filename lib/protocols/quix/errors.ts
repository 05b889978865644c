/**
 * Errors as Quix replies, in one place: `{"result":"error","reason":<code>,"detail":…}`.
 * Anything not recognised is an `internal_error` and is logged.
 */
import type { z } from "zod";
import type { Logger } from "../../core/mod.ts";
import { NotPermittedError, ProcessExitedError, SpawnError } from "../../backends/processes/mod.ts";
import { WireguardConfigError } from "../../backends/wireguard/mod.ts";

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

/** An error that becomes a reply with its own reason. */
export class QuixError extends Error {
  readonly reason: QuixReason;
  constructor(reason: QuixReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "QuixError";
    this.reason = reason;
  }
}

/** The body of an error reply. */
export interface ErrorBody {
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

/** Maps any error to the reply body (the one mapper of this protocol). */
export function errorBody(error: unknown, log?: Logger): ErrorBody {
  const body = (reason: QuixReason, detail: string): ErrorBody => ({
    result: "error",
    reason,
    detail,
  });
  if (error instanceof QuixError) return body(error.reason, error.message);
  if (error instanceof NotPermittedError) return body("not_permitted", error.message);
  if (error instanceof ProcessExitedError) return body("not_found", error.message);
  if (error instanceof SpawnError) return body("spawn_failed", error.message);
  if (error instanceof WireguardConfigError) return body("invalid_config", error.message);
  log?.error("request failed", { error });
  return body("internal_error", error instanceof Error ? error.message : String(error));
}
