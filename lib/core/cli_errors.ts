/** Errors a command-line action throws to set the exit status without a stack trace. */

/** Ends the command with `exitCode` after printing `message` to stderr (when non-empty). */
export class CliExit extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = "CliExit";
    this.exitCode = exitCode;
  }
}

/** Bad usage: exit status 2. */
export class UsageError extends CliExit {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}
