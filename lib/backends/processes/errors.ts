/** Errors the supervisor's callers tell apart. */

/** The pid is not one this agent started (or the command is not allowed). */
export class NotPermittedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotPermittedError";
  }
}

/** The process was started by this agent but has exited. */
export class ProcessExitedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProcessExitedError";
  }
}

/** The command could not be started. */
export class SpawnError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpawnError";
  }
}
