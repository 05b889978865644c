/**
 * The `[masq]` service: opens the Daemon's state document, re-adopts a Node that outlived the
 * previous run, and serves the Daemon on 127.0.0.1:`ui_port`.
 */
import { resolve } from "node:path";
import type { Service, ServiceContext } from "../../core/mod.ts";
import { realUser, selfCommand, systemDnsServers } from "../../backends/masq_node/mod.ts";
import { DAEMON_DOCUMENT, type MasqConfig, NODE_ENV } from "./config.ts";
import { Daemon } from "./daemon.ts";
import type { HostFacts } from "./setup_model.ts";
import { UiServer } from "./ui_server.ts";

function randomClandestinePort(): string {
  const bytes = crypto.getRandomValues(new Uint16Array(1));
  return String(1025 + (bytes[0]! % (9999 - 1025)));
}

/** One running Daemon. */
export class MasqService implements Service<MasqConfig> {
  #server: UiServer | null = null;
  #daemon: Daemon | null = null;

  async start(ctx: ServiceContext<MasqConfig>): Promise<void> {
    const config = ctx.config;
    const doc = await ctx.openDocument(DAEMON_DOCUMENT);
    if (doc.value.configured["clandestine-port"] === undefined) {
      // The real Node's fresh database picks a random clandestine port: ours does it once here.
      await doc.write({
        ...doc.value,
        configured: { ...doc.value.configured, "clandestine-port": randomClandestinePort() },
      });
    }
    const dataRoot = resolve(config.data_root);
    const host: HostFacts = {
      dataRoot,
      dnsServers: systemDnsServers(),
      realUser: realUser(),
    };
    const builtIn = config.node_command.length === 0;
    const daemon = new Daemon({
      log: ctx.log,
      doc,
      host,
      send: (target, text) => this.#server?.send(target, text),
      nodeCommand: builtIn ? selfCommand("masq-node") : config.node_command,
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
    this.#daemon = daemon;
    ctx.setDetail({ node: null });
    await daemon.adopt();
    this.#server = await UiServer.listen({
      port: config.ui_port,
      allowedOrigins: config.allowed_origins,
      maxMessageBytes: config.max_message_bytes,
      log: ctx.log,
      onMessage: (client, message) => daemon.dispatch(client, message),
    });
    ctx.log.info("daemon listening", { port: this.#server.port, dataRoot });
    ctx.listening(`ws://127.0.0.1:${this.#server.port}`);
  }

  async stop(): Promise<void> {
    this.#daemon?.close();
    this.#daemon = null;
    const server = this.#server;
    this.#server = null;
    if (server) await server.close();
  }
}
