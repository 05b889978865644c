/**
 * The `[intervirt]` service's lifecycle: start builds the backends, opens the state, makes the
 * container manager, reconciles the host with the state, then listens; stop closes every client
 * connection, the listener and the backends.
 */
import {
  type Service,
  type ServiceContext,
  type StatusPageSource,
  type TcpHttpServer,
  ToolHealth,
} from "../../core/mod.ts";
import type { IntervirtConfig } from "./config.ts";
import type { IntervirtConnection } from "./connection.ts";
import {
  ContainerManager,
  emptyState,
  type IntervirtBackends,
  type IntervirtBackendsFactory,
  type IntervirtState,
  parseState,
} from "./containers/mod.ts";
import { buildIntervirtHandlers } from "./handlers.ts";
import { createIntervirtApp, intervirtLimits, serveIntervirt } from "./server.ts";
import { intervirtStatusPage } from "./status_page.ts";

/** Tools every runtime needs besides its own. */
const NETWORK_TOOLS = ["ip", "nft", "sysctl", "nsenter", "ss"];

/** One running Intervirt agent. */
export class IntervirtService implements Service<IntervirtConfig> {
  readonly #createBackends: IntervirtBackendsFactory;
  #backends: IntervirtBackends | null = null;
  #server: TcpHttpServer | null = null;
  #connections = new Set<IntervirtConnection>();
  #manager: ContainerManager | null = null;
  /** This service's own listener, once bound. */
  #listener: string | null = null;
  #runtime = "";
  /** Whether the runtime and network tools answer (`backend` in /healthz). */
  #health: ToolHealth | null = null;

  /** `createBackends` builds the system side when the service starts (tests pass fakes). */
  constructor(createBackends: IntervirtBackendsFactory) {
    this.#createBackends = createBackends;
  }

  /** The manager (after start). */
  get manager(): ContainerManager | null {
    return this.#manager;
  }

  async start(ctx: ServiceContext<IntervirtConfig>): Promise<void> {
    const config = ctx.config;
    this.#runtime = config.runtime;
    const manager = await this.#openManager(ctx);
    const detail = () => this.#publishDetail(ctx);
    try {
      await manager.reconcile();
    } catch (error) {
      ctx.log.error("reconcile failed; serving anyway", { error });
    }
    detail();
    const limits = intervirtLimits(config.listen, config.limits, config.max_clients, ctx.log);
    const app = createIntervirtApp({
      path: config.path,
      token: config.token,
      allow: config.allow,
      allowedOrigins: config.allowed_origins,
      maxClients: config.max_clients,
      table: buildIntervirtHandlers(),
      manager,
      log: ctx.log,
      maxMessageBytes: config.max_message_bytes,
      maxInFlight: config.max_in_flight,
      connections: this.#connections,
      onConnectionsChanged: detail,
      onRefusal: (reason) => limits.refuse(reason),
    });
    const listener = await serveIntervirt(app, {
      listen: config.listen,
      signal: ctx.signal,
      log: ctx.log,
      limits,
    });
    this.#server = listener.server;
    const { hostname, port } = listener.address;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    this.#listener = `ws://${host}:${port}${config.path}`;
    ctx.listening(this.#listener);
  }

  /** Backends, host check, state document and the manager over them. */
  async #openManager(ctx: ServiceContext<IntervirtConfig>): Promise<ContainerManager> {
    const health = this.#health = new ToolHealth(() => this.#publishDetail(ctx));
    const backends = this.#backends = await this.#createBackends({
      config: ctx.config,
      runner: health.wrap(ctx.runner),
      stateDir: ctx.paths.state,
    });
    const missing = backends.host.missing([...backends.runtime.requiredTools(), ...NETWORK_TOOLS]);
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
    this.#manager = new ContainerManager({
      config: ctx.config,
      backends,
      document,
      log: ctx.log,
      unavailable,
      onChange: () => this.#publishDetail(ctx),
      agentListeners: () => [
        ...(this.#listener ? [this.#listener] : []),
        ...ctx.statuses().flatMap((s) => s.listeners),
      ],
    });
    if (!unavailable) backends.netfilter.warm();
    return this.#manager;
  }

  /** The /healthz detail: runtime, counts, drift. */
  #publishDetail(ctx: ServiceContext<IntervirtConfig>): void {
    const manager = this.#manager;
    if (!manager) return;
    const s = manager.state;
    ctx.setDetail({
      runtime: ctx.config.runtime,
      ...(manager.unavailable ? { unavailable: manager.unavailable } : {}),
      containers: Object.keys(s.containers).length,
      connections: s.connections.length,
      forwards: s.forwards.length,
      clients: this.#connections.size,
      drift: [...manager.drift],
      ...(this.#health ? { backend: this.#health.current } : {}),
    });
  }

  /** The status page's Intervirt section (read-only). */
  statusPage(): StatusPageSource {
    return intervirtStatusPage({
      manager: () => this.#manager,
      runtime: this.#runtime,
      listener: () => this.#listener,
      clients: () => this.#connections.size,
    });
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
      gauge("polyagent_intervirt_clients", "Connected WebSocket clients.", this.#connections.size);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const c of this.#connections) c.terminate();
    if (server) await server.shutdown().catch(() => {});
    await this.#backends?.netfilter.close();
    this.#backends = null;
  }
}
