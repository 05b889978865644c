/**
 * `polyagent masq-node --name value … --ui-port N`: the built-in Node the Daemon launches. It
 * checks its arguments with the setup table; started as root (its code is loaded by then), it
 * creates its data directory for its `real-user` and switches to that user for good, as the real
 * Node does; then it opens its data directory (its log, and its settings
 * in a core state-store document, through `backends/masq_node`), serves MASQNode-UIv2 on
 * 127.0.0.1:N, prints its readiness line (the Daemon's launch event) and closes stdout, then runs
 * until `shutdown`, a crash point or SIGTERM.
 */
import { createLogger, errorText, type Logger } from "../../../core/mod.ts";
import {
  announceReady,
  onTerminate,
  openNodeDocument,
  openNodeLog,
  parseRealUser,
  prepareDataDirectory,
  realUser,
  RealUserError,
  runsAsRoot,
  switchToRealUser,
  writeStderr,
} from "../../../backends/masq_node/mod.ts";
import { MasqServer, type MasqTarget } from "../server.ts";
import {
  nodeDataRoot,
  type NodeEnvironment,
  nodeEnvironment,
  nodeLogLevel,
  parseNodeArguments,
} from "./args.ts";
import { NodeActor } from "./node_actor.ts";
import { NodeStore } from "./node_store.ts";

/** The exit status of a Node that crashed on purpose (a Rust panic's). */
const PANIC_STATUS = 101;

/** A running Node program: its server, and the promise of its exit status. */
class NodeProgram {
  readonly #done = Promise.withResolvers<number>();
  #server: MasqServer | null = null;

  /** Resolves with the exit status. */
  get exited(): Promise<number> {
    return this.#done.promise;
  }

  /** Closes the server, then exits with `code`. */
  finish(code: number): void {
    const server = this.#server;
    this.#server = null;
    (server ? server.close() : Promise.resolve()).finally(() => this.#done.resolve(code));
  }

  /** Exits at once as a panic of `actor`. */
  panic(actor: string, message: string): void {
    this.#done.resolve(panic(actor, message));
  }

  /** Serves `actor` on the UI port. */
  async serve(
    actor: NodeActor,
    port: number,
    env: NodeEnvironment,
    log: Logger,
  ): Promise<number> {
    this.#server = await MasqServer.listen({
      port,
      allowedOrigins: env.allowedOrigins,
      service: "masq-node",
      ...(env.maxMessageBytes !== null ? { maxMessageBytes: env.maxMessageBytes } : {}),
      log,
      onMessage: (client, message) => actor.dispatch(client, message),
    });
    return this.#server.port;
  }

  /** Sends through the server while it runs. */
  readonly send = (target: MasqTarget, text: string): void => {
    this.#server?.send(target, text);
  };
}

/** Writes a Rust-style panic line for `actor`; returns the panic exit status. */
function panic(actor: string, message: string): number {
  writeStderr(`thread '${actor}' panicked at '${message}'`);
  return PANIC_STATUS;
}

/**
 * As root, like the real Node: creates the data directory, hands it to the real user and switches
 * to that user for good (every file the Node writes is then the user's). Not root: creates the
 * data directory. Resolves null, or the exit status of the panic that stopped it.
 */
async function becomeRealUser(env: NodeEnvironment): Promise<number | null> {
  try {
    const user = runsAsRoot() ? parseRealUser(env.realUser, realUser("")) : null;
    await prepareDataDirectory(env.dataRoot, env.dataDir, user);
    if (user) switchToRealUser(user);
    return null;
  } catch (error) {
    if (error instanceof RealUserError) return panic("main", error.message);
    throw error;
  }
}

/** Runs the Node; resolves with its exit status. */
export async function runMasqNode(argv: readonly string[]): Promise<number> {
  const getEnv = (name: string) => Deno.env.get(name);
  const args = parseNodeArguments(argv, { dataRoot: nodeDataRoot(getEnv) });
  const env = nodeEnvironment(args, getEnv);
  const failed = await becomeRealUser(env);
  if (failed !== null) return failed;
  const log = createLogger("masq-node", {
    level: nodeLogLevel(args.get("log-level")),
    format: "json",
    sink: await openNodeLog(env.dataDir),
  });
  const store = await NodeStore.open((options) => openNodeDocument(env.dataDir, options, log));
  const program = new NodeProgram();
  const actor = new NodeActor({
    args,
    store,
    log,
    send: program.send,
    shutdown: () => program.finish(0),
    crash: (actorName, message) => program.panic(actorName, message),
  });
  const port = await program.serve(actor, Number(args.get("ui-port")), env, log);
  const removeTerm = onTerminate(() => {
    log.info("SIGTERM: shutting down");
    program.finish(0);
  });
  log.info("node listening", { port, dataDir: env.dataDir, pid: Deno.pid });
  try {
    announceReady(`MASQNode-UIv2 node ready on 127.0.0.1:${port}`);
  } catch (error) {
    log.warn("could not announce readiness on stdout", { error: errorText(error) });
  }
  const code = await program.exited;
  removeTerm();
  log.info("node exiting", { code });
  return code;
}
