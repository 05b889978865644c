/**
 * The `[masq]` service: opens the Daemon's state document, re-adopts a Node that outlived the
 * previous run, and serves the Daemon on 127.0.0.1:`ui_port`.
 */
import { resolve } from "node:path";
import type { JsonDocument, Service, ServiceContext, StatusPageSource } from "../../core/mod.ts";
import { DAEMON_DOCUMENT, type DaemonDocument, type MasqConfig, NODE_ENV } from "./config.ts";
import { Daemon } from "./daemon/daemon.ts";
import type { MasqBackends } from "./definition.ts";
import { MasqServer } from "./server.ts";
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

  constructor(backends: MasqBackends) {
    this.#backends = backends;
  }

  async start(ctx: ServiceContext<MasqConfig>): Promise<void> {
    const config = ctx.config;
    const daemon = this.#daemon = await this.#createDaemon(ctx);
    ctx.setDetail({ node: null });
    await daemon.adopt();
    this.#server = await MasqServer.listen({
      port: config.ui_port,
      allowedOrigins: config.allowed_origins,
      maxMessageBytes: config.max_message_bytes,
      log: ctx.log,
      onMessage: (client, message) => daemon.dispatch(client, message),
    });
    ctx.log.info("daemon listening", {
      port: this.#server.port,
      dataRoot: resolve(config.data_root),
    });
    ctx.listening(`ws://127.0.0.1:${this.#server.port}`);
  }

  async #createDaemon(ctx: ServiceContext<MasqConfig>): Promise<Daemon> {
    const config = ctx.config;
    const backends = this.#backends;
    const dataRoot = resolve(config.data_root);
    const builtIn = config.node_command.length === 0;
    return new Daemon({
      log: ctx.log,
      doc: await openDaemonDocument(ctx),
      host: { dataRoot, ...backends.hostFacts() },
      send: (target, text) => this.#server?.send(target, text),
      nodes: backends.nodeControl(ctx.runner),
      nodeCommand: builtIn ? backends.selfCommand("masq-node") : config.node_command,
      builtIn,
      nodeEnv: {
        [NODE_ENV.dataRoot]: dataRoot,
        [NODE_ENV.allowedOrigins]: JSON.stringify(config.allowed_origins),
        [NODE_ENV.maxMessageBytes]: String(config.max_message_bytes),
      },
      launchTimeoutMs: config.launch_timeout_ms,
      onNodeChange: (node) =>
        ctx.setDetail({ node: node ? { pid: node.pid, port: node.port } : null }),
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
