/**
 * Neutral domain errors. Domain code (state models, managers, registries) throws these; each
 * protocol's `errors.ts` is the one place that turns them into that protocol's wire error, and the
 * CLI turns them into an exit status. `reason` is an optional machine-readable tag for the cases a
 * protocol distinguishes more finely than the kind (for example cryptoded's IMPORT_EXIST_PROFILE
 * for a conflict with reason "profile-exists").
 */

/** What went wrong, independent of any wire format. */
export type DomainErrorKind =
  | "invalid"
  | "not_found"
  | "conflict"
  | "busy"
  | "unavailable"
  | "forbidden"
  | "failed";

/** Options of every domain error. */
export interface DomainErrorOptions {
  /** A tag naming the case more finely than the kind. */
  reason?: string;
  /** The underlying error. */
  cause?: unknown;
}

/** The base of the neutral errors; catch this, switch on `kind` (and `reason`). */
export class DomainError extends Error {
  readonly kind: DomainErrorKind;
  readonly reason: string | undefined;

  constructor(kind: DomainErrorKind, message: string, options: DomainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DomainError";
    this.kind = kind;
    this.reason = options.reason;
  }
}

/** Bad input that passed the wire schema but not the domain's rules (or bad CLI usage). */
export class InvalidError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super("invalid", message, options);
    this.name = "InvalidError";
  }
}

/** The named thing does not exist. */
export class NotFoundError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super("not_found", message, options);
    this.name = "NotFoundError";
  }
}

/** The request contradicts the current state (already exists, still in use, wrong state). */
export class ConflictError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super("conflict", message, options);
    this.name = "ConflictError";
  }
}

/** Something else holds the resource right now; the same request may succeed later. */
export class BusyError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super("busy", message, options);
    this.name = "BusyError";
  }
}

/** A backend, tool or peer the request needs is missing or not answering. */
export class UnavailableError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super("unavailable", message, options);
    this.name = "UnavailableError";
  }
}

/** The caller may not do this (privilege, policy, allow-list). */
export class ForbiddenError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super("forbidden", message, options);
    this.name = "ForbiddenError";
  }
}

/**
 * The operation was attempted and failed. An empty message means the failure was already
 * reported (the CLI then prints nothing more and exits 1).
 */
export class FailedError extends DomainError {
  constructor(message: string, options?: DomainErrorOptions) {
    super("failed", message, options);
    this.name = "FailedError";
  }
}
