/**
 * The `[sozu]` service: restores the saved state, starts the data plane and feeds it, then serves
 * the command socket. A client's SOFT_STOP / HARD_STOP ends this service only (the supervisor is
 * told it stopped on purpose and does not restart it); the agent keeps running.
 */
import { resolve } from "node:path";
import {
  closeUnix,
  errorText,
  type JsonDocument,
  listenUnix,
  type Logger,
  type Service,
  type ServiceContext,
  type StopReason,
} from "../../core/mod.ts";
import type { DataPlane, DataPlaneOptions } from "../../backends/http_proxy/mod.ts";
import type { SozuConfig } from "./config.ts";
import { ControlPlane } from "./control_plane.ts";
import { serveConnection } from "./connection.ts";
import { createHandlers, savedStateDir } from "./handlers.ts";
import { ConfigState, type ConfigStateOptions } from "./state.ts";
import { ordersFromDocument, ordersFromDump } from "./state_file.ts";

/** Makes the data plane (the real one, or a recorder in tests). */
export type DataPlaneFactory = (options: DataPlaneOptions & { log: Logger }) => DataPlane;

/** Version of the automatic state document (1: DUMP_STATE form, 2: tuples). */
export const STATE_DOCUMENT_VERSION = 2;

function restore(data: unknown, version: number, options: ConfigStateOptions): ConfigState {
  const state = new ConfigState(options);
  if (data === null || data === undefined) return state;
  const orders = version === 1 ? ordersFromDump(data, state) : ordersFromDocument(data, state);
  for (const order of orders) state.apply(order);
  return state;
}

/** One running sozu service. */
export class SozuService implements Service<SozuConfig> {
  #factory: DataPlaneFactory;
  #ctx: ServiceContext<SozuConfig> | null = null;
  #listener: Deno.UnixListener | null = null;
  #socketPath = "";
  #plane: DataPlane | null = null;
  #control: ControlPlane | null = null;
  #conns = new Set<Deno.Conn>();
  #proxyStopped = false;
  #stopping = false;
  #accepting: Promise<void> | null = null;
  #replies = { OK: 0, ERROR: 0 };
  #detailPending = false;

  constructor(factory: DataPlaneFactory) {
    this.#factory = factory;
  }

  async start(ctx: ServiceContext<SozuConfig>): Promise<void> {
    this.#ctx = ctx;
    const config = ctx.config;
    const stateOptions: ConfigStateOptions = {
      defaultHttpListener: config.default_http_listener,
      defaultHttpsListener: config.default_https_listener,
    };
    let state = new ConfigState(stateOptions);
    let document: JsonDocument<unknown> | null = null;
    if (config.automatic_state_save) {
      document = await ctx.openDocument<unknown>({
        version: STATE_DOCUMENT_VERSION,
        empty: () => null,
        parse: (data, version) => {
          state = restore(data, version, stateOptions);
          return data;
        },
      });
    }
    let changed = false;
    for (const address of config.listeners) {
      if (!state.hasListener(address)) {
        state.apply({ type: "ADD_HTTP_LISTENER", data: defaultHttpListener(address) });
        changed = true;
      }
      changed = state.apply({
        type: "ACTIVATE_LISTENER",
        data: { front: address, proxy: "http", from_scm: false },
      }).changed || changed;
    }
    const plane = this.#factory({
      workerCount: config.worker_count,
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
    const control = new ControlPlane({
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
    this.#control = control;
    if (changed) await control.persist();

    const table = createHandlers({
      control,
      log: ctx.log,
      savedStateDir: savedStateDir(ctx.paths.state),
      allowAbsolutePaths: config.allow_absolute_state_paths,
      protectedPaths: document ? [document.path] : [],
      stopProxy: (hard) => this.#stopProxy(hard),
      endService: (reason) => this.#end(reason),
    });
    this.#socketPath = resolve(config.command_socket);
    this.#listener = await listenUnix(this.#socketPath, { mode: 0o600 });
    const listener = this.#listener;
    this.#accepting = (async () => {
      try {
        for await (const conn of listener) {
          this.#conns.add(conn);
          void serveConnection(conn, {
            table,
            log: ctx.log,
            maxFrame: config.max_command_size,
            processingAfterMs: config.processing_after_ms,
            maxInFlight: config.max_in_flight,
            refusal: () => this.#proxyStopped ? "the proxy is stopped" : null,
            onReply: (status) => this.#replies[status]++,
          }).finally(() => {
            this.#conns.delete(conn);
            try {
              conn.close();
            } catch {
              // already closed
            }
          });
        }
      } catch (error) {
        if (!this.#stopping) ctx.fail(error);
      }
    })();
    this.#updateDetail();
    ctx.listening(this.#socketPath);
    for (const order of state.proxyOrders()) {
      if (order.op === "activate_listener") ctx.listening(`http://${order.address}`);
    }
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
      `polyagent_sozu_clients ${this.#conns.size}\n` +
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
    this.#stopping = true;
    const listener = this.#listener;
    this.#listener = null;
    if (listener) await closeUnix(listener, this.#socketPath);
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
    this.#conns.clear();
    await this.#accepting?.catch(() => {});
    const plane = this.#plane;
    this.#control?.close("the sozu service is stopping");
    if (plane && !this.#proxyStopped) {
      this.#proxyStopped = true;
      const drain = this.#ctx?.config.drain_timeout_ms ?? 0;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), drain));
      const outcome = await Promise.race([plane.softStop().then(() => "done" as const), timedOut])
        .catch(() => "timeout" as const);
      clearTimeout(timer);
      if (outcome === "timeout") await plane.hardStop().catch(() => {});
    }
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
