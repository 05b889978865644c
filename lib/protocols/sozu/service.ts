/**
 * The `[sozu]` service: restores the saved state, starts the data plane and feeds it, then serves
 * the command socket. A client's SOFT_STOP / HARD_STOP ends this service only (the supervisor is
 * told it stopped on purpose and does not restart it); the agent keeps running.
 */
import { join, resolve } from "node:path";
import {
  errorText,
  type JsonDocument,
  ListenerLimits,
  type Service,
  type ServiceContext,
  type ServiceHandover,
  type StatusPageSource,
  type StopReason,
} from "../../core/mod.ts";
import type { DataPlane } from "../../backends/http_proxy/mod.ts";
import { type SozuConfig, trafficOptions } from "./config.ts";
import { ControlPlane } from "./control_plane.ts";
import type { SozuBackends } from "./definition.ts";
import { SozuEventHub } from "./events.ts";
import { createSozuHandlers, type SozuHandlers } from "./handlers.ts";
import { tcpListenerInput } from "./order_schemas.ts";
import { TrafficCache } from "./traffic_cache.ts";
import { SozuCommandServer } from "./server.ts";
import { sozuStatusPage } from "./status_page.ts";
import {
  ConfigState,
  type ConfigStateOptions,
  ordersFromDocument,
  ordersFromDump,
} from "./state/mod.ts";

/** Version of the automatic state document (1: DUMP_STATE form, 2: tuples). */
export const STATE_DOCUMENT_VERSION = 2;

/** The default directory of saved states under the agent's state directory. */
export function savedStateDir(stateDir: string): string {
  return join(stateDir, "sozu");
}

function restore(data: unknown, version: number, options: ConfigStateOptions): ConfigState {
  const state = new ConfigState(options);
  if (data === null || data === undefined) return state;
  const orders = version === 1 ? ordersFromDump(data, state) : ordersFromDocument(data, state);
  for (const order of orders) state.apply(order);
  return state;
}

/** The state saved by automatic state save (when on), and its document. */
async function loadState(
  ctx: ServiceContext<SozuConfig>,
): Promise<{ state: ConfigState; document: JsonDocument<unknown> | null }> {
  const options: ConfigStateOptions = {
    defaultHttpListener: ctx.config.default_http_listener,
    defaultHttpsListener: ctx.config.default_https_listener,
  };
  let state = new ConfigState(options);
  if (!ctx.config.automatic_state_save) return { state, document: null };
  const document = await ctx.openDocument<unknown>({
    version: STATE_DOCUMENT_VERSION,
    empty: () => null,
    parse: (data, version) => {
      state = restore(data, version, options);
      return data;
    },
  });
  return { state, document };
}

/**
 * Upgrade, successor: the state the old agent handed over (its state document's form), or null
 * (then the saved state is loaded as at any start).
 */
function inheritedState(ctx: ServiceContext<SozuConfig>): ConfigState | null {
  const given = ctx.inherited as { version?: unknown; state?: unknown } | undefined;
  if (!given || typeof given.version !== "number") return null;
  return restore(given.state, given.version, {
    defaultHttpListener: ctx.config.default_http_listener,
    defaultHttpsListener: ctx.config.default_https_listener,
  });
}

/** Adds and activates the configured listeners the state lacks; whether anything changed. */
function addConfiguredListeners(state: ConfigState, config: SozuConfig): boolean {
  let changed = false;
  const lists = [
    ["http", config.listeners],
    ["https", config.https_listeners],
    ["tcp", config.tcp_listeners],
  ] as const;
  for (const [proxy, addresses] of lists) {
    for (const address of addresses) {
      if (!state.hasListener(address)) {
        state.apply(
          proxy === "http"
            ? { type: "ADD_HTTP_LISTENER", data: defaultHttpListener(address) }
            : proxy === "https"
            ? { type: "ADD_HTTPS_LISTENER", data: defaultHttpsListener(address) }
            : { type: "ADD_TCP_LISTENER", data: tcpListenerInput.parse({ front: address }) },
        );
        changed = true;
      }
      changed = state.apply({
        type: "ACTIVATE_LISTENER",
        data: { front: address, proxy, from_scm: false },
      }).changed || changed;
    }
  }
  return changed;
}

/** One running sozu service. */
export class SozuService implements Service<SozuConfig> {
  #backends: SozuBackends;
  #ctx: ServiceContext<SozuConfig> | null = null;
  #server: SozuCommandServer | null = null;
  #socketPath = "";
  #plane: DataPlane | null = null;
  #control: ControlPlane | null = null;
  #proxyStopped = false;
  #replies = { OK: 0, ERROR: 0 };
  #detailPending = false;
  #handlers: SozuHandlers | null = null;
  #events = new SozuEventHub();
  /** Upgrade, successor: the state the plane was started with by `prepare`. */
  #prepared: { state: ConfigState; changed: boolean } | null = null;
  /** Upgrade, old agent: releases the control queue held since `handover`. */
  #held: (() => void) | null = null;
  /** The workers' traffic figures for admin /metrics. */
  #traffic = new TrafficCache();

  constructor(backends: SozuBackends) {
    this.#backends = backends;
  }

  /** Upgrade, successor: the proxy serves the handed-over state beside the old agent's. */
  async prepare(ctx: ServiceContext<SozuConfig>): Promise<void> {
    this.#ctx = ctx;
    const state = inheritedState(ctx) ?? (await loadState(ctx)).state;
    const changed = addConfiguredListeners(state, ctx.config);
    this.#prepared = { state, changed };
    await this.#startPlane(ctx, state, false);
  }

  async start(ctx: ServiceContext<SozuConfig>): Promise<void> {
    this.#ctx = ctx;
    const prepared = this.#prepared;
    this.#prepared = null;
    const { state, document } = prepared
      ? { state: prepared.state, document: await openStateDocument(ctx) }
      : await loadState(ctx);
    const changed = prepared?.changed ?? addConfiguredListeners(state, ctx.config);
    const plane = prepared && this.#plane ? this.#plane : await this.#startPlane(ctx, state);
    const control = this.#createControl(ctx, state, plane, document);
    if (changed) await control.persist();
    await this.#serve(ctx, control, document);
    this.#updateDetail();
    this.#traffic.start(plane);
    ctx.listening(this.#socketPath);
    for (const order of state.proxyOrders()) {
      if (order.op !== "activate_listener") continue;
      ctx.listening(`${state.listenerProtocol(order.address)}://${order.address}`);
    }
  }

  /** `refuseShared`: false for an upgrade's successor (it binds beside the old agent). */
  async #startPlane(
    ctx: ServiceContext<SozuConfig>,
    state: ConfigState,
    refuseShared = true,
  ): Promise<DataPlane> {
    const plane = this.#backends.createDataPlane({
      refuseShared,
      workerCount: ctx.config.worker_count,
      tlsEngine: ctx.config.tls_engine,
      directReads: ctx.config.direct_reads,
      ...trafficOptions(ctx.config, ctx.paths.log),
      currentOrders: () => state.proxyOrders(),
      log: ctx.log,
      migrateQueued: ctx.agent.tcp_migrate_req,
      onEvent: (event) => this.#events.publish(event),
    });
    this.#plane = plane;
    try {
      await plane.start();
    } catch (error) {
      throw new Error(`Could not start the proxy with the saved state: ${errorText(error)}`, {
        cause: error,
      });
    }
    return plane;
  }

  #createControl(
    ctx: ServiceContext<SozuConfig>,
    state: ConfigState,
    plane: DataPlane,
    document: JsonDocument<unknown> | null,
  ): ControlPlane {
    this.#control = new ControlPlane({
      state,
      plane,
      document,
      log: ctx.log,
      onDivergence: (error) => ctx.fail(error),
      onChange: () => {
        if (this.#detailPending) return;
        this.#detailPending = true;
        queueMicrotask(() => {
          this.#detailPending = false;
          this.#updateDetail();
        });
      },
    });
    return this.#control;
  }

  /** Builds the handler tables and listens on the command socket. */
  async #serve(
    ctx: ServiceContext<SozuConfig>,
    control: ControlPlane,
    document: JsonDocument<unknown> | null,
  ): Promise<void> {
    const config = ctx.config;
    const handlers = createSozuHandlers({
      control,
      log: ctx.log,
      stateFiles: this.#backends.stateFiles({
        dir: savedStateDir(ctx.paths.state),
        allowAbsolutePaths: config.allow_absolute_state_paths,
        protectedPaths: document ? [document.path] : [],
      }),
      stopProxy: (hard) => this.#stopProxy(hard),
      events: this.#events,
      endService: (reason) => this.#end(reason),
      upgrades: {
        ...(ctx.upgrade ? { upgradeAgent: ctx.upgrade } : {}),
        workerUpgrade: {
          drainTimeoutMs: config.drain_timeout_ms,
          idleGraceMs: idleGrace(config.drain_timeout_ms),
        },
      },
    });
    this.#handlers = handlers;
    this.#socketPath = resolve(config.command_socket);
    this.#server = await SozuCommandServer.listen(this.#socketPath, {
      handlers,
      log: ctx.log,
      maxFrame: config.max_command_size,
      processingAfterMs: config.processing_after_ms,
      maxInFlight: config.max_in_flight,
      refusal: () => this.#proxyStopped ? "the proxy is stopped" : null,
      onReply: (status) => this.#replies[status]++,
      limits: new ListenerLimits("sozu", this.#socketPath, config.limits, ctx.log),
    }, (error) => ctx.fail(error));
  }

  /** The status page's sozu section; its action runs REMOVE_BACKEND through the handler table. */
  statusPage(): StatusPageSource {
    return sozuStatusPage({
      state: () => this.#control?.state ?? null,
      plane: () => this.#plane,
      handlers: () => this.#handlers,
      proxyStopped: () => this.#proxyStopped,
      socket: this.#socketPath,
      log: this.#ctx!.log,
    });
  }

  /** Prometheus lines: replies by status, clients, objects in the state, events, proxy traffic. */
  metrics(): string {
    const counts = this.#control?.state.counts ?? {};
    let out = "# HELP polyagent_sozu_replies_total Final replies on the sozu command socket.\n" +
      "# TYPE polyagent_sozu_replies_total counter\n" +
      `polyagent_sozu_replies_total{status="OK"} ${this.#replies.OK}\n` +
      `polyagent_sozu_replies_total{status="ERROR"} ${this.#replies.ERROR}\n` +
      "# HELP polyagent_sozu_clients Open connections to the sozu command socket.\n" +
      "# TYPE polyagent_sozu_clients gauge\n" +
      `polyagent_sozu_clients ${this.#server?.clients ?? 0}\n` +
      "# HELP polyagent_sozu_state_objects Objects in the sozu configuration state.\n" +
      "# TYPE polyagent_sozu_state_objects gauge\n";
    for (const [kind, n] of Object.entries(counts)) {
      out += `polyagent_sozu_state_objects{kind="${kind}"} ${n}\n`;
    }
    return out + this.#events.metrics() +
      this.#traffic.prometheus(this.#ctx?.config.metrics_max_series ?? 10_000);
  }

  #updateDetail(): void {
    const control = this.#control;
    if (!this.#ctx || !control) return;
    this.#ctx.setDetail({
      socket: this.#socketPath,
      proxy: this.#proxyStopped ? "stopped" : "running",
      workers: this.#plane?.workers().length ?? 0,
      ...control.state.counts,
    });
  }

  async #stopProxy(hard: boolean): Promise<void> {
    if (this.#proxyStopped || !this.#plane) return;
    this.#proxyStopped = true;
    this.#traffic.stop();
    this.#control?.close("the proxy is stopped");
    this.#ctx?.log.info(hard ? "hard stop requested" : "soft stop requested");
    if (hard) await this.#plane.hardStop();
    else await this.#plane.softStop();
    this.#updateDetail();
  }

  #end(reason: string): void {
    const ctx = this.#ctx;
    if (!ctx) return;
    if (ctx.stopped) ctx.stopped(reason);
    else void this.stop("shutdown");
  }

  /**
   * Upgrade, old agent: changes wait in the control queue from now on; the successor gets the
   * state as it is. `resume` lets them through (the upgrade failed); `stop("upgrade")` refuses
   * them (send them to the successor).
   */
  handover(): Promise<ServiceHandover> {
    const control = this.#control;
    if (!control) return Promise.resolve({ data: null, resume: () => {} });
    const held = Promise.withResolvers<void>();
    const snapshot = Promise.withResolvers<unknown>();
    void control.serial(async () => {
      snapshot.resolve(control.state.toDocument());
      await held.promise;
    });
    this.#held = held.resolve;
    return snapshot.promise.then((state) => ({
      data: { version: STATE_DOCUMENT_VERSION, state },
      resume: () => this.#release(),
    }));
  }

  #release(): void {
    this.#held?.();
    this.#held = null;
  }

  async stop(reason: StopReason): Promise<void> {
    this.#traffic.stop();
    const upgrade = reason === "upgrade";
    const server = this.#server;
    this.#server = null;
    // at an upgrade, a client's UPGRADE_MAIN still gets its answer on its connection
    await server?.close({ keepClients: upgrade });
    const plane = this.#plane;
    this.#control?.close(
      upgrade
        ? "the agent was replaced by a new process: send this request again"
        : "the sozu service is stopping",
    );
    this.#release();
    if (plane && !this.#proxyStopped) {
      this.#proxyStopped = true;
      const drainMs = this.#ctx?.config.drain_timeout_ms ?? 0;
      const graceful = upgrade || reason === "start-failed";
      const drained = this.#drain(plane, drainMs, graceful ? idleGrace(drainMs) : 0);
      if (upgrade && this.#ctx?.keepAlive) this.#ctx.keepAlive(drained);
      else await drained;
    }
  }

  /** Soft stop, turned hard when it takes longer than `drainMs`. */
  async #drain(plane: DataPlane, drainMs: number, idleGraceMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), drainMs));
    const outcome = await Promise.race([
      plane.softStop({ idleGraceMs }).then(() => "done" as const),
      timedOut,
    ]).catch(() => "timeout" as const);
    clearTimeout(timer);
    if (outcome === "timeout") await plane.hardStop().catch(() => {});
  }
}

/** How long idle keep-alive clients may send one more request while draining for an upgrade. */
function idleGrace(drainMs: number): number {
  return Math.min(1000, Math.floor(drainMs / 2));
}

/** Upgrade, successor: the state document only (the state itself was handed over). */
async function openStateDocument(
  ctx: ServiceContext<SozuConfig>,
): Promise<JsonDocument<unknown> | null> {
  if (!ctx.config.automatic_state_save) return null;
  return await ctx.openDocument<unknown>({ version: STATE_DOCUMENT_VERSION, empty: () => null });
}

function defaultHttpListener(address: string) {
  return {
    front: address,
    public_address: null,
    answer_404: "",
    answer_503: "",
    expect_proxy: false,
    sticky_name: "SOZUBALANCEID",
    front_timeout: 60,
    back_timeout: 30,
    connect_timeout: 3,
    request_timeout: 10,
  };
}

function defaultHttpsListener(address: string) {
  return {
    ...defaultHttpListener(address),
    versions: ["TLSv1.2", "TLSv1.3"] as ("TLSv1.2" | "TLSv1.3")[],
    cipher_list: "",
    rustls_cipher_list: [],
    tls_provider: "rustls",
    certificate: null,
    certificate_chain: [],
    key: null,
  };
}
