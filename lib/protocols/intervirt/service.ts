/** The `[intervirt]` service: state, manager, reconcile, then the WebSocket listener. */
import { isAbsolute, join } from "node:path";
import { type Service, type ServiceContext, splitHostPort, withDefaults } from "../../core/mod.ts";
import { missingPrerequisites } from "../../backends/bridge/mod.ts";
import { NftSession } from "../../backends/netfilter/mod.ts";
import { createIntervirtApp } from "./app.ts";
import type { IntervirtConfig } from "./config.ts";
import type { ClientSession } from "./connection.ts";
import { buildHandlerTable } from "./handlers.ts";
import { ContainerManager } from "./manager.ts";
import { createRuntime } from "./runtime.ts";
import { emptyState, type IntervirtState, parseState } from "./state.ts";

/** Options for {@linkcode IntervirtService} (tests replace the host check). */
export interface IntervirtServiceOptions {
  /** Names what the host lacks; empty when ready. */
  checkHost?: (tools: readonly string[]) => string[];
}

/** One running Intervirt agent. */
export class IntervirtService implements Service<IntervirtConfig> {
  readonly #checkHost: (tools: readonly string[]) => string[];
  #server: Deno.HttpServer | null = null;
  #sessions = new Set<ClientSession>();
  #manager: ContainerManager | null = null;
  #nft: NftSession | null = null;

  constructor(options: IntervirtServiceOptions = {}) {
    this.#checkHost = options.checkHost ?? missingPrerequisites;
  }

  /** The manager (after start). */
  get manager(): ContainerManager | null {
    return this.#manager;
  }

  async start(ctx: ServiceContext<IntervirtConfig>): Promise<void> {
    const config = ctx.config;
    // nft, ip, sysctl and lxc-* start no children of their own: spawn them without a process
    // group (a cheaper spawn); host update/shutdown commands ask for one explicitly.
    const systemTools = withDefaults(ctx.runner, { processGroup: false });
    const resolve = (p: string) => (isAbsolute(p) ? p : join(Deno.cwd(), p));
    const runtime = createRuntime(config.runtime, systemTools, {
      lxcPath: resolve(config.lxc_path),
      workDir: join(ctx.paths.state, "intervirt-work"),
    });
    const missing = this.#checkHost([...runtime.requiredTools(), "ip", "nft", "sysctl", "nsenter"]);
    const unavailable = missing.length > 0 ? missing.join(", ") : null;
    if (unavailable) {
      ctx.log.warn("containers cannot be managed here; every request will answer code 4", {
        missing: unavailable,
      });
    }
    const document = await ctx.openDocument<IntervirtState>({
      version: 1,
      empty: emptyState,
      parse: (data) => parseState(data),
    });
    const manager = new ContainerManager({
      config,
      runner: systemTools,
      runtime,
      document,
      imagesDir: config.images_dir ? resolve(config.images_dir) : join(ctx.paths.state, "images"),
      log: ctx.log,
      unavailable,
      onChange: () => detail(),
      ...(unavailable ? {} : { nft: this.#nft = new NftSession() }),
    });
    this.#manager = manager;
    const detail = () => {
      const s = manager.state;
      ctx.setDetail({
        runtime: config.runtime,
        ...(unavailable ? { unavailable } : {}),
        containers: Object.keys(s.containers).length,
        connections: s.connections.length,
        forwards: s.forwards.length,
        clients: this.#sessions.size,
        drift: [...manager.drift],
      });
    };
    this.#nft?.warm();
    try {
      await manager.reconcile();
    } catch (error) {
      ctx.log.error("reconcile failed; serving anyway", { error });
    }
    detail();
    const app = createIntervirtApp({
      path: config.path,
      token: config.token,
      allow: config.allow,
      allowedOrigins: config.allowed_origins,
      maxClients: config.max_clients,
      table: buildHandlerTable(),
      manager,
      log: ctx.log,
      maxMessageBytes: config.max_message_bytes,
      maxInFlight: config.max_in_flight,
      sessions: this.#sessions,
      onSessionsChanged: detail,
    });
    const { hostname, port } = splitHostPort(config.listen);
    const ready = Promise.withResolvers<Deno.NetAddr>();
    this.#server = Deno.serve({
      hostname,
      port,
      signal: ctx.signal,
      onListen: (addr) => ready.resolve(addr as Deno.NetAddr),
      onError: (error) => {
        ctx.log.error("intervirt request failed", { error });
        return new Response("internal error\n", { status: 500 });
      },
    }, (req, info) => app.fetch(req, { remoteAddr: info.remoteAddr }));
    this.#server.finished.catch(() => {});
    const addr = await ready.promise;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    ctx.listening(`ws://${host}:${addr.port}${config.path}`);
  }

  /** Prometheus lines: containers, connections, forwards, clients. */
  metrics(): string {
    const m = this.#manager;
    if (!m) return "";
    const s = m.state;
    const gauge = (name: string, help: string, value: number) =>
      `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}\n`;
    return gauge(
      "polyagent_intervirt_containers",
      "Containers the agent manages.",
      Object.keys(s.containers).length,
    ) +
      gauge(
        "polyagent_intervirt_running_containers",
        "Containers that should be running.",
        Object.values(s.containers).filter((c) => c.running).length,
      ) +
      gauge("polyagent_intervirt_connections", "Connected container pairs.", s.connections.length) +
      gauge("polyagent_intervirt_forwards", "Port forwards.", s.forwards.length) +
      gauge("polyagent_intervirt_clients", "Connected WebSocket clients.", this.#sessions.size);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sessions) s.terminate();
    if (server) await server.shutdown().catch(() => {});
    await this.#nft?.close();
    this.#nft = null;
  }
}
