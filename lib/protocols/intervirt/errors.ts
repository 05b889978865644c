/**
 * The Intervirt error codes and the one place anything thrown becomes the error fields of a
 * `{"type":"General","refID","code","error"}` reply. The domain and the handlers throw core's
 * neutral errors; this module picks the code:
 *
 * | thrown | code |
 * | --- | --- |
 * | `InvalidError` (failed parse, conflicting address, same pair) | 8 bad input |
 * | `InvalidError` reason "unsupported" (unknown request type or command) | 7 unsupported |
 * | `ForbiddenError` (host commands not allowed) | 7 unsupported |
 * | `NotFoundError` (unknown container, image, forward) | 6 not found |
 * | `FailedError` reason "guest-command" (wipe, container update step) | 5 guest command |
 * | `CommandError` with stderr or timed out | 5 guest command |
 * | `UnavailableError` (no root, missing runtime tools) | 4 guest |
 * | `ConflictError` (already exists, running, stopped) | 3 already done |
 * | `FailedError`, `CommandError` without stderr | 2 unsuccessful |
 * | `BusyError` (too many in flight), anything else | 1 undefined |
 */
import { CommandError, DomainError, type DomainErrorKind } from "../../core/mod.ts";

/** The document's error codes. */
export const IntervirtErrorCode = {
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
export type IntervirtErrorCodeValue = typeof IntervirtErrorCode[keyof typeof IntervirtErrorCode];

/** The `reason` of an `InvalidError` that is code 7 rather than 8. */
export const UNSUPPORTED = "unsupported";
/** The `reason` of a `FailedError` that is code 5 rather than 2. */
export const GUEST_COMMAND = "guest-command";

/** The error part of a `General` reply. */
export interface IntervirtErrorFields {
  code: IntervirtErrorCodeValue;
  error: string;
}

/** The code of each kind of neutral error. */
const KIND_CODES: Record<DomainErrorKind, IntervirtErrorCodeValue> = {
  invalid: IntervirtErrorCode.badInput,
  forbidden: IntervirtErrorCode.unsupported,
  not_found: IntervirtErrorCode.notFound,
  failed: IntervirtErrorCode.unsuccessful,
  unavailable: IntervirtErrorCode.guest,
  conflict: IntervirtErrorCode.alreadyDone,
  busy: IntervirtErrorCode.undefined,
};

/** Reasons whose code differs from their kind's. */
const REASON_CODES: Readonly<Record<string, IntervirtErrorCodeValue>> = {
  [UNSUPPORTED]: IntervirtErrorCode.unsupported,
  [GUEST_COMMAND]: IntervirtErrorCode.guestCommand,
};

function domainCode(error: DomainError): IntervirtErrorCodeValue {
  const byReason = error.reason !== undefined && Object.hasOwn(REASON_CODES, error.reason)
    ? REASON_CODES[error.reason]
    : undefined;
  return byReason ?? KIND_CODES[error.kind];
}

/**
 * Maps any thrown value to the reply fields: neutral errors by kind (table above), command
 * failures are code 5, or code 2 when the command failed without saying why (no stderr);
 * anything unexpected is code 1.
 */
export function errorFields(error: unknown): IntervirtErrorFields {
  if (error instanceof DomainError) return { code: domainCode(error), error: error.message };
  if (error instanceof CommandError && !error.timedOut && error.stderrTail.trim() === "") {
    return { code: IntervirtErrorCode.unsuccessful, error: error.message };
  }
  if (error instanceof CommandError) {
    const detail = error.stderrTail.trim().split("\n").slice(-2).join(" | ");
    return {
      code: IntervirtErrorCode.guestCommand,
      error: `${error.message}${detail && !error.message.includes(detail) ? `: ${detail}` : ""}`,
    };
  }
  return {
    code: IntervirtErrorCode.undefined,
    error: error instanceof Error ? error.message : String(error),
  };
}
