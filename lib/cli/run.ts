/**
 * The entry point. A plain `serve` (only `--config` and `--set`) is started without loading
 * commander: the agent then never parses another command line, and commander with the Node
 * modules it pulls in would stay resident for the daemon's whole life (about 5 MB). Anything
 * else — help, a typo, every other command — goes through the full commander program.
 */
import { exitStatusFor } from "./exit_status.ts";
import type { CliOptions } from "./program.ts";
import { type ServeArgs, serveFromArgs } from "./serve.ts";

/**
 * Reads `serve [-c|--config FILE] [--set K=V]...` (also `--opt=value`); returns null for
 * anything else so commander can answer it with its usual help and errors.
 */
export function plainServeArgs(argv: readonly string[]): ServeArgs | null {
  if (argv[0] !== "serve") return null;
  const result: ServeArgs = { config: undefined, sets: [] };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    let value: string | undefined;
    if (eq > 0) {
      value = arg.slice(eq + 1);
    } else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith("-")) return null;
      i++;
    }
    if (name === "--config" || (name === "-c" && eq < 0)) result.config = value;
    else if (name === "--set") result.sets.push(value);
    else return null;
  }
  return result;
}

/** Runs the CLI; resolves with the process exit status. */
export async function runCli(argv: readonly string[], options: CliOptions): Promise<number> {
  const plain = plainServeArgs(argv);
  if (!plain) {
    const { runProgram } = await import("./program.ts");
    return await runProgram(argv, options);
  }
  try {
    return await serveFromArgs(plain, options.definitions);
  } catch (error) {
    return exitStatusFor(error);
  }
}
