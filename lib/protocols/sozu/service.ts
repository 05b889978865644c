/**
 * The `[sozu]` service: restores the saved state, starts the data plane and feeds it, then serves
 * the command socket. A client's SOFT_STOP / HARD_STOP ends this service only (the supervisor is
 * told it stopped on purpose and does not restart it); the agent keeps running.
 */
import { join, resolve } from "node:path";
import {
  errorText,
  type JsonDocument,
  type Service,
  type ServiceContext,
  type StopReason,
} from "../../core/mod.ts";
import type { DataPlane } from "../../backends/http_proxy/mod.ts";
import type { SozuConfig } from "./config.ts";
import { ControlPlane } from "./control_plane.ts";
import type { SozuBackends } from "./definition.ts";
import { createSozuHandlers } from "./handlers.ts";
import { SozuCommandServer } from "./server.ts";
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

/** Adds and activates the configured listeners the state lacks; whether anything changed. */
function addConfiguredListeners(state: ConfigState, config: SozuConfig): boolean {
  let changed = false;
  const lists = [["http", config.listeners], ["https", config.https_listeners]] as const;
  for (const [proxy, addresses] of lists) {
    for (const address of addresses) {
      if (!state.hasListener(address)) {
        state.apply(
          proxy === "http"
            ? { type: "ADD_HTTP_LISTENER", data: defaultHttpListener(address) }
            : { type: "ADD_HTTPS_LISTENER", data: defaultHttpsListener(address) },
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

  constructor(backends: SozuBackends) {
    this.#backends = backends;
  }

  async start(ctx: ServiceContext<SozuConfig>): Promise<void> {
    this.#ctx = ctx;
    const { state, document } = await loadState(ctx);
    const changed = addConfiguredListeners(state, ctx.config);
    const plane = await this.#startPlane(ctx, state);
    const control = this.#createControl(ctx, state, plane, document);
    if (changed) await control.persist();
    await this.#serve(ctx, control, document);
    this.#updateDetail();
    ctx.listening(this.#socketPath);
    for (const order of state.proxyOrders()) {
      if (order.op !== "activate_listener") continue;
      ctx.listening(`${state.listenerProtocol(order.address)}://${order.address}`);
    }
  }

  async #startPlane(ctx: ServiceContext<SozuConfig>, state: ConfigState): Promise<DataPlane> {
    const plane = this.#backends.createDataPlane({
      workerCount: ctx.config.worker_count,
      tlsEngine: ctx.config.tls_engine,
      currentOrders: () => state.proxyOrders(),
      log: ctx.log,
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
      endService: (reason) => this.#end(reason),
    });
    this.#socketPath = resolve(config.command_socket);
    this.#server = await SozuCommandServer.listen(this.#socketPath, {
      handlers,
      log: ctx.log,
      maxFrame: config.max_command_size,
      processingAfterMs: config.processing_after_ms,
      maxInFlight: config.max_in_flight,
      refusal: () => this.#proxyStopped ? "the proxy is stopped" : null,
      onReply: (status) => this.#replies[status]++,
    }, (error) => ctx.fail(error));
  }

  /** Prometheus lines: replies by status, clients, objects in the state. */
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
    return out;
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

  async stop(_reason: StopReason): Promise<void> {
    const server = this.#server;
    this.#server = null;
    await server?.close();
    const plane = this.#plane;
    this.#control?.close("the sozu service is stopping");
    if (plane && !this.#proxyStopped) {
      this.#proxyStopped = true;
      await this.#drain(plane, this.#ctx?.config.drain_timeout_ms ?? 0);
    }
  }

  /** Soft stop, turned hard when it takes longer than `drainMs`. */
  async #drain(plane: DataPlane, drainMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), drainMs));
    const outcome = await Promise.race([plane.softStop().then(() => "done" as const), timedOut])
      .catch(() => "timeout" as const);
    clearTimeout(timer);
    if (outcome === "timeout") await plane.hardStop().catch(() => {});
  }
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
