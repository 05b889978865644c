/** How a failed command becomes a message on stderr and an exit status. */
import { CliExit, ConfigError, UsageError } from "../core/mod.ts";

/** Prints what went wrong (never a stack trace) and returns the exit status for it. */
export function exitStatusFor(error: unknown): number {
  if (error instanceof ConfigError || error instanceof UsageError) {
    console.error(`polyagent: ${error.message}`);
    return 2;
  }
  if (error instanceof CliExit) {
    if (error.message) console.error(`polyagent: ${error.message}`);
    return error.exitCode;
  }
  console.error(`polyagent: ${error instanceof Error ? error.message : String(error)}`);
  return 1;
}
