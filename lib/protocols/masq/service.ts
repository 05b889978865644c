/**
 * The `[masq]` service: says at start when the Node's default real-user cannot reach `data_root`,
 * opens the Daemon's state document, re-adopts a Node that outlived the previous run, and serves
 * the Daemon on 127.0.0.1:`ui_port` (a port another program holds refuses the start for good).
 */
import { resolve } from "node:path";
import {
  type JsonDocument,
  type Service,
  type ServiceContext,
  StartRefusedError,
  type StatusPageSource,
} from "../../core/mod.ts";
import { DAEMON_DOCUMENT, type DaemonDocument, type MasqConfig, NODE_ENV } from "./config.ts";
import { Daemon } from "./daemon/daemon.ts";
import type { MasqBackends } from "./definition.ts";
import { MasqServer, PortBusyError } from "./server.ts";
import type { HostFacts } from "./setup_model.ts";
import { masqStatusPage } from "./status_page.ts";

function randomClandestinePort(): string {
  const bytes = crypto.getRandomValues(new Uint16Array(1));
  return String(1025 + (bytes[0]! % (9999 - 1025)));
}

/** Opens the Daemon's document; a fresh one gets its clandestine port once. */
async function openDaemonDocument(
  ctx: ServiceContext<MasqConfig>,
): Promise<JsonDocument<DaemonDocument>> {
  const doc = await ctx.openDocument(DAEMON_DOCUMENT);
  if (doc.value.configured["clandestine-port"] === undefined) {
    // The real Node's fresh database picks a random clandestine port: ours does it once here.
    await doc.write({
      ...doc.value,
      configured: { ...doc.value.configured, "clandestine-port": randomClandestinePort() },
    });
  }
  return doc;
}

/** One running Daemon. */
export class MasqService implements Service<MasqConfig> {
  #backends: MasqBackends;
  #server: MasqServer | null = null;
  #daemon: Daemon | null = null;
  #detail: Record<string, unknown> = {};

  constructor(backends: MasqBackends) {
    this.#backends = backends;
  }

  async start(ctx: ServiceContext<MasqConfig>): Promise<void> {
    const host = this.#hostFacts(ctx);
    this.#checkDataRoot(ctx, host);
    const daemon = this.#daemon = await this.#createDaemon(ctx, host);
    this.#setDetail(ctx, { node: null });
    await daemon.adopt();
    this.#server = await this.#listen(ctx, daemon);
    ctx.log.info("daemon listening", {
      port: this.#server.port,
      dataRoot: host.dataRoot,
      realUser: host.realUser,
    });
    ctx.listening(`ws://127.0.0.1:${this.#server.port}`);
  }

  /** Listens on `ui_port`; a port another program holds refuses the start, naming the holder. */
  async #listen(ctx: ServiceContext<MasqConfig>, daemon: Daemon): Promise<MasqServer> {
    const config = ctx.config;
    try {
      return await MasqServer.listen({
        port: config.ui_port,
        allowedOrigins: config.allowed_origins,
        maxMessageBytes: config.max_message_bytes,
        limits: config.limits,
        log: ctx.log,
        onMessage: (client, message) => daemon.dispatch(client, message),
      });
    } catch (error) {
      if (!(error instanceof PortBusyError)) throw error;
      const holder = await this.#backends.portHolder(config.ui_port, ctx.runner);
      const by = holder ? `; it is held by ${holder}` : "";
      throw new StartRefusedError(`masq.ui_port: ${error.message}${by}`);
    }
  }

  #hostFacts(ctx: ServiceContext<MasqConfig>): HostFacts {
    try {
      return {
        dataRoot: resolve(ctx.config.data_root),
        ...this.#backends.hostFacts(ctx.agent.user),
      };
    } catch (error) {
      throw new Error(`agent.user: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Says at start when the Node's default real-user cannot reach `data_root`. */
  #checkDataRoot(ctx: ServiceContext<MasqConfig>, host: HostFacts): void {
    const problem = this.#backends.dataRootProblem(host.dataRoot, host.realUser);
    this.#detail = { dataRootProblem: problem };
    if (!problem) return;
    ctx.log.error(
      `masq.data_root "${host.dataRoot}" is not reachable by the Node's real-user ` +
        `${host.realUser}: ${problem}; the built-in Node cannot start until it is`,
      { dataRoot: host.dataRoot, realUser: host.realUser },
    );
  }

  #setDetail(ctx: ServiceContext<MasqConfig>, detail: Record<string, unknown>): void {
    this.#detail = { ...this.#detail, ...detail };
    ctx.setDetail(this.#detail);
  }

  async #createDaemon(ctx: ServiceContext<MasqConfig>, host: HostFacts): Promise<Daemon> {
    const config = ctx.config;
    const backends = this.#backends;
    const builtIn = config.node_command.length === 0;
    return new Daemon({
      log: ctx.log,
      doc: await openDaemonDocument(ctx),
      host,
      send: (target, text) => this.#server?.send(target, text),
      nodes: backends.nodeControl(ctx.runner),
      nodeCommand: builtIn ? backends.selfCommand("masq-node") : config.node_command,
      builtIn,
      nodeEnv: {
        [NODE_ENV.dataRoot]: host.dataRoot,
        [NODE_ENV.realUser]: host.realUser,
        [NODE_ENV.allowedOrigins]: JSON.stringify(config.allowed_origins),
        [NODE_ENV.maxMessageBytes]: String(config.max_message_bytes),
      },
      launchTimeoutMs: config.launch_timeout_ms,
      onNodeChange: (node) =>
        this.#setDetail(ctx, { node: node ? { pid: node.pid, port: node.port } : null }),
    });
  }
  /** The status page's MASQ section (read-only). */
  statusPage(): StatusPageSource {
    return masqStatusPage({
      daemon: () => this.#daemon,
      clients: () => this.#server?.clients() ?? [],
      uiPort: () => this.#server?.port ?? null,
    });
  }

  async stop(): Promise<void> {
    this.#daemon?.close();
    this.#daemon = null;
    const server = this.#server;
    this.#server = null;
    if (server) await server.close();
  }
}
