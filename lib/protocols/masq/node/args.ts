/**
 * The built-in Node's command line (`--name value` pairs checked with the setup table, plus
 * `--ui-port`) and the settings the Daemon passes it in the environment.
 */
import { join } from "node:path";
import { InvalidError, type LogLevel } from "../../../core/mod.ts";
import { NODE_ENV } from "../config.ts";
import { type CheckContext, DEFAULT_CHAIN, PARAMS_BY_NAME } from "../setup_params.ts";

/** Checks one `--name value` pair; throws InvalidError naming the bad argument. */
function checkArgument(flag: string, name: string, value: string, ctx: CheckContext): void {
  if (name === "ui-port") {
    if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
      throw new InvalidError(
        `masq-node: --ui-port: expected a port from 1 to 65535, got ${JSON.stringify(value)}`,
      );
    }
    return;
  }
  const spec = PARAMS_BY_NAME.get(name);
  if (!spec) throw new InvalidError(`masq-node: unknown argument ${JSON.stringify(flag)}`);
  const problem = spec.check(value, ctx);
  if (problem) throw new InvalidError(`masq-node: --${name}: ${problem}`);
}

/**
 * Parses `--name value` pairs (a `--data-directory` must lie below `ctx.dataRoot`); throws
 * InvalidError naming the bad argument.
 */
export function parseNodeArguments(
  argv: readonly string[],
  ctx: CheckContext,
): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (!flag.startsWith("--") || value === undefined) {
      throw new InvalidError(
        `masq-node: expected "--name value" pairs, got ${JSON.stringify(flag)}`,
      );
    }
    const name = flag.slice(2);
    checkArgument(flag, name, value, ctx);
    args.set(name, value);
  }
  if (!args.has("ui-port")) throw new InvalidError("masq-node: --ui-port is required");
  return args;
}

/** The agent's log level for the Node's `--log-level`. */
export function nodeLogLevel(value: string | undefined): LogLevel {
  switch (value) {
    case "trace":
    case "debug":
      return "debug";
    case "info":
      return "info";
    case "error":
    case "off":
      return "error";
    default:
      return "warn";
  }
}

/** What the Daemon passed in the environment. */
export interface NodeEnvironment {
  /** `masq.data_root`: the data directory lies below it. */
  dataRoot: string;
  /** The data directory of this chain (`--data-directory`, else `<data root>/<chain>`). */
  dataDir: string;
  /** `--real-user`, else the Daemon's default (`uid:gid:home`, fields may be blank). */
  realUser: string;
  allowedOrigins: string[];
  maxMessageBytes: number | null;
}

function allowedOrigins(text: string | undefined): string[] {
  try {
    const value = JSON.parse(text ?? "[]");
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}

/** The data root the Daemon passed (else the real Node's `~/.local/share/MASQ`). */
export function nodeDataRoot(env: (name: string) => string | undefined): string {
  return env(NODE_ENV.dataRoot) ?? join(env("HOME") ?? "/tmp", ".local", "share", "MASQ");
}

/** Reads the Node's settings from its arguments and the environment. */
export function nodeEnvironment(
  args: ReadonlyMap<string, string>,
  env: (name: string) => string | undefined,
): NodeEnvironment {
  const chain = args.get("chain") ?? DEFAULT_CHAIN;
  const root = nodeDataRoot(env);
  const maxBytes = Number(env(NODE_ENV.maxMessageBytes) ?? "");
  return {
    dataRoot: root,
    realUser: args.get("real-user") ?? env(NODE_ENV.realUser) ?? "",
    dataDir: args.get("data-directory") ?? join(root, chain),
    allowedOrigins: allowedOrigins(env(NODE_ENV.allowedOrigins)),
    maxMessageBytes: Number.isInteger(maxBytes) && maxBytes >= 1024 ? maxBytes : null,
  };
}
