/**
 * `polyagent masq-node --name value … --ui-port N`: the built-in Node the Daemon launches. It
 * checks its arguments with the setup table, opens its data directory, serves MASQNode-UIv2 on
 * 127.0.0.1:N, prints its readiness line (the Daemon's launch event) and closes stdout, then runs
 * until `shutdown`, a crash point or SIGTERM.
 */
import { join } from "node:path";
import { createLogger, errorText, InvalidError, type LogLevel } from "../../../core/mod.ts";
import { NodeActor } from "../node_actor.ts";
import { NodeStore } from "../node_store.ts";
import { NODE_ENV } from "../config.ts";
import { DEFAULT_CHAIN, PARAMS_BY_NAME } from "../setup_params.ts";
import { UiServer } from "../ui_server.ts";

/** Parses `--name value` pairs; throws InvalidError naming the bad argument. */
export function parseNodeArguments(argv: readonly string[]): Map<string, string> {
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
    if (name === "ui-port") {
      if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
        throw new InvalidError(
          `masq-node: --ui-port: expected a port from 1 to 65535, got ${JSON.stringify(value)}`,
        );
      }
    } else {
      const spec = PARAMS_BY_NAME.get(name);
      if (!spec) throw new InvalidError(`masq-node: unknown argument ${JSON.stringify(flag)}`);
      const problem = spec.check(value);
      if (problem) throw new InvalidError(`masq-node: --${name}: ${problem}`);
    }
    args.set(name, value);
  }
  if (!args.has("ui-port")) throw new InvalidError("masq-node: --ui-port is required");
  return args;
}

function logLevel(value: string | undefined): LogLevel {
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

function allowedOrigins(): string[] {
  try {
    const value = JSON.parse(Deno.env.get(NODE_ENV.allowedOrigins) ?? "[]");
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  } catch {
    return [];
  }
}

/** Runs the Node; resolves with its exit status. */
export async function runMasqNode(argv: readonly string[]): Promise<number> {
  const args = parseNodeArguments(argv);
  const chain = args.get("chain") ?? DEFAULT_CHAIN;
  const root = Deno.env.get(NODE_ENV.dataRoot) ??
    join(Deno.env.get("HOME") ?? "/tmp", ".local", "share", "MASQ");
  const dataDir = args.get("data-directory") ?? join(root, chain);
  const store = await NodeStore.open(dataDir);
  const logFile = Deno.openSync(join(dataDir, "polyagent-node.log"), {
    append: true,
    create: true,
    mode: 0o600,
  });
  const encoder = new TextEncoder();
  const log = createLogger("masq-node", {
    level: logLevel(args.get("log-level")),
    format: "json",
    sink: (line) => {
      try {
        logFile.writeSync(encoder.encode(line + "\n"));
      } catch {
        // the log file is best effort
      }
    },
  });
  const done = Promise.withResolvers<number>();
  let server: UiServer | null = null;
  const finish = (code: number) => {
    const s = server;
    server = null;
    (s ? s.close() : Promise.resolve()).finally(() => done.resolve(code));
  };
  const actor: NodeActor = new NodeActor({
    args,
    store,
    log,
    send: (target, text) => server?.send(target, text),
    shutdown: () => finish(0),
    crash: (actorName, message) => {
      try {
        Deno.stderr.writeSync(encoder.encode(`thread '${actorName}' panicked at '${message}'\n`));
      } catch {
        // stderr gone
      }
      done.resolve(101);
    },
  });
  const maxBytes = Number(Deno.env.get(NODE_ENV.maxMessageBytes) ?? "");
  server = await UiServer.listen({
    port: Number(args.get("ui-port")),
    allowedOrigins: allowedOrigins(),
    ...(Number.isInteger(maxBytes) && maxBytes >= 1024 ? { maxMessageBytes: maxBytes } : {}),
    log,
    onMessage: (client, message) => actor.dispatch(client, message),
  });
  const onTerm = () => {
    log.info("SIGTERM: shutting down");
    finish(0);
  };
  Deno.addSignalListener("SIGTERM", onTerm);
  log.info("node listening", { port: server.port, dataDir, pid: Deno.pid });
  try {
    Deno.stdout.writeSync(encoder.encode(`MASQNode-UIv2 node ready on 127.0.0.1:${server.port}\n`));
    Deno.stdout.close();
  } catch (error) {
    log.warn("could not announce readiness on stdout", { error: errorText(error) });
  }
  const code = await done.promise;
  Deno.removeSignalListener("SIGTERM", onTerm);
  log.info("node exiting", { code });
  return code;
}
