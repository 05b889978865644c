/** How a failed command becomes a message on stderr and an exit status. */
import { ConfigError, DomainError } from "../core/mod.ts";
import { ExitStatus } from "./extension.ts";

/**
 * Prints what went wrong (never a stack trace) and returns the exit status for it: 2 for a bad
 * config or bad usage (`InvalidError`), the carried status for {@linkcode ExitStatus}, else 1. An
 * error with an empty message was already reported and prints nothing.
 */
export function exitStatusFor(error: unknown): number {
  if (error instanceof ExitStatus) return error.exitCode;
  const message = error instanceof Error ? error.message : String(error);
  if (message) console.error(`polyagent: ${message}`);
  if (error instanceof ConfigError) return 2;
  if (error instanceof DomainError && error.kind === "invalid") return 2;
  return 1;
}
