/**
 * The handler tables: one core {@linkcode HandlerTable} for top-level commands and one for worker
 * orders, each name registered once (a duplicate throws) and checked at startup against the
 * static name sets of `schemas.ts` the decoder sorts requests by. Each handler parses its payload
 * with the zod schemas, asks the {@linkcode ControlPlane} (or the saved-state files) and returns
 * the reply; refusals are core's neutral errors, turned into replies by `errors.ts`.
 */
import type { SozuStateFileStore } from "../../backends/sozu_state_files/mod.ts";
import {
  errorText,
  FailedError,
  ForbiddenError,
  HandlerTable,
  InvalidError,
  type Logger,
  NotFoundError,
  UnavailableError,
} from "../../core/mod.ts";
import type { ControlPlane } from "./control_plane.ts";
import type { ReplyStream, SozuEventHub } from "./events.ts";
import {
  configureMetricsOrder,
  loggingOrder,
  metricsOrder,
  queryMetrics,
} from "./metrics_handlers.ts";
import {
  canonicalOrderName,
  type CommandResponse,
  listFrontendsInput,
  ORDER_ALIASES,
  parseOrThrow,
  type Query,
  queryInput,
  response,
  SOZU_COMMANDS,
  SOZU_ORDERS,
  type SozuRequest,
  STATE_ORDER_TYPES,
  statePathInput,
} from "./schemas.ts";
import { type ConfigState, decodeRecords, encodeRecords, parseStateOrder } from "./state/mod.ts";
import { replayRecords } from "./replay.ts";
import { registerUpgrades, type SozuUpgradeEnvironment } from "./upgrade_handlers.ts";

/** What a handler may do besides returning its final reply. */
export interface SozuRequestIo {
  /** Sends a PROCESSING reply for this request. */
  processing(message: string): void;
  /** Runs `fn` once the final reply has been written. */
  afterReply(fn: () => void): void;
  /** The connection, for replies after the final one (SUBSCRIBE_EVENTS); absent off-socket. */
  stream?: ReplyStream;
}

/** A handler: the final reply, or null when the request gets none (SUBSCRIBE_EVENTS). */
export type SozuHandler = (
  request: SozuRequest,
  io: SozuRequestIo,
) => Promise<CommandResponse | null>;

/** What the handlers use from the service. */
export interface SozuHandlerEnvironment {
  control: ControlPlane;
  log: Logger;
  /** The SAVE_STATE / LOAD_STATE files. */
  stateFiles: SozuStateFileStore;
  /** Stops the data plane (soft drains first). */
  stopProxy(hard: boolean): Promise<void>;
  /** Ends the service once the reply is out. */
  endService(reason: string): void;
  /** SUBSCRIBE_EVENTS subscribers; absent: subscriptions stay silent. */
  events?: SozuEventHub;
  /** UPGRADE_MAIN / UPGRADE_WORKER (`upgrade_handlers.ts`); default: workers only. */
  upgrades?: Omit<SozuUpgradeEnvironment, "control">;
}

/** The two tables: top-level commands and PROXY orders. */
export interface SozuHandlers {
  commands: HandlerTable<string, SozuHandler>;
  orders: HandlerTable<string, SozuHandler>;
}

function ok(request: SozuRequest, message = "", data: CommandResponse["data"] = null) {
  return Promise.resolve(response(request.id, "OK", message, data));
}

function unsupported(what: string): SozuHandler {
  return () => Promise.reject(new InvalidError(what));
}

/** Refuses a request for a worker that does not exist. */
function checkWorker(control: ControlPlane, request: SozuRequest): void {
  if (request.workerId === null) return;
  if (!control.plane.workers().some((w) => w.id === request.workerId)) {
    throw new NotFoundError(`worker ${request.workerId} not found`);
  }
}

/** Finds and runs the handler of a decoded request. */
export function dispatchSozuRequest(
  handlers: SozuHandlers,
  request: SozuRequest,
  io: SozuRequestIo,
): Promise<CommandResponse | null> {
  if (request.type === "PROXY") {
    const handler = handlers.orders.get(request.order ?? "");
    if (!handler) throw new InvalidError(`unknown order type "${request.order}"`);
    return handler(request, io);
  }
  const handler = handlers.commands.get(request.type);
  if (!handler) throw new InvalidError(`unknown request type "${request.type}"`);
  return handler(request, io);
}

/** The state-changing orders (and their v0.14 aliases). */
function registerStateOrders(orders: SozuHandlers["orders"], env: SozuHandlerEnvironment): void {
  const { control } = env;
  const stateOrder: SozuHandler = async (request) => {
    checkWorker(control, request);
    const name = canonicalOrderName(request.order!);
    const outcome = await control.execute(
      () => parseStateOrder(name, request.payload, control.state),
      request.workerId,
    );
    return response(request.id, "OK", outcome.message);
  };
  for (const type of STATE_ORDER_TYPES) orders.register(type, stateOrder);
  for (const alias of Object.keys(ORDER_ALIASES)) orders.register(alias, stateOrder);
}

/** SAVE_STATE: the orders that rebuild the state, written as sozu's record stream. */
function saveState(env: SozuHandlerEnvironment): SozuHandler {
  return async (request) => {
    const { control, stateFiles } = env;
    const { path } = parseOrThrow(statePathInput, request.payload, "SAVE_STATE", "data");
    const file = stateFiles.resolve(path);
    if (stateFiles.isProtected(file)) {
      throw new ForbiddenError(
        `could not save state to file: "${path}" is the automatic state document`,
      );
    }
    const orders = await control.serial(() => control.state.orders());
    try {
      await stateFiles.write(file, encodeRecords(orders));
    } catch (error) {
      throw new FailedError(`could not save state to file "${path}": ${errorText(error)}`);
    }
    return response(request.id, "OK", `saved ${orders.length} config messages to ${file}`);
  };
}

/** LOAD_STATE: replays a saved record stream; one summary for every record. */
function loadState(env: SozuHandlerEnvironment): SozuHandler {
  return async (request, io) => {
    const { control, stateFiles } = env;
    const { path } = parseOrThrow(statePathInput, request.payload, "LOAD_STATE", "data");
    const file = stateFiles.resolve(path);
    let text: string;
    try {
      text = await stateFiles.read(file);
    } catch (error) {
      throw new FailedError(`could not open file "${path}": ${errorText(error)}`);
    }
    const records = decodeRecords(text);
    io.processing(`loading ${records.length} config messages from ${file}`);
    const { applied, deferred, errors } = await replayRecords(control, records);
    if (deferred > 0) env.log.info("LOAD_STATE deferred records", { file, deferred });
    const summary = `ok: ${applied} messages, error: ${errors.length}`;
    if (errors.length === 0) return response(request.id, "OK", summary);
    env.log.warn("LOAD_STATE had errors", { file, errors: errors.slice(0, 10) });
    return response(request.id, "ERROR", `${summary} (first: ${errors[0]})`);
  };
}

/** SAVE_STATE, LOAD_STATE, DUMP_STATE. */
function registerStateCommands(
  commands: SozuHandlers["commands"],
  env: SozuHandlerEnvironment,
): void {
  const { control } = env;
  commands.register("SAVE_STATE", saveState(env));
  commands.register("LOAD_STATE", loadState(env));
  commands.register("DUMP_STATE", async (request) => {
    const [dump, own] = await control.serial(() =>
      [control.state.toJSON(), control.workerOnlyOrders()] as const
    );
    // The shared state; orders sent to one worker (worker_id) are named in the message.
    const notes = [...own].map(([id, types]) => `worker ${id}: ${types.join(", ")}`);
    const message = notes.length === 0
      ? ""
      : `shared state; orders applied by one worker only: ${notes.join("; ")}`;
    return response(request.id, "OK", message, { type: "STATE", data: dump });
  });
}

/** FNV-1a over a string, as a safe integer (for APPLICATIONS_HASHES). */
function hash53(text: string): number {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
  }
  return (h2 & 0x1fffff) * 0x1_0000_0000 + h1;
}

/** The answer to a QUERY (the same for the main process and every worker). */
function answerQuery(
  state: ConfigState,
  q: Exclude<Query, { type: "METRICS" }>,
): { type: string; data: unknown } {
  if (q.type === "APPLICATIONS" || q.type === "CLUSTERS") {
    const f = q.data;
    const ids = f.type === "DOMAIN"
      ? state.applicationsByDomain(f.data.hostname, f.data.path ?? f.data.path_begin ?? null)
      : [f.data];
    const v14 = q.type === "CLUSTERS";
    return {
      type: q.type,
      data: ids.map((id) => state.applicationInfo(id, v14)).filter((x) => x !== null),
    };
  }
  if (q.type === "APPLICATIONS_HASHES" || q.type === "CLUSTERS_HASHES") {
    const hashes: Record<string, number> = {};
    for (const id of state.applicationIds()) {
      hashes[id] = hash53(JSON.stringify(state.applicationInfo(id)));
    }
    return { type: q.type, data: hashes };
  }
  const c = q.data;
  const filter = c.type === "ALL"
    ? { type: "ALL" as const }
    : c.type === "DOMAIN"
    ? { type: "DOMAIN" as const, name: c.data }
    : {
      type: "FINGERPRINT" as const,
      fp: typeof c.data === "string"
        ? c.data
        : c.data.map((b) => b.toString(16).padStart(2, "0")).join(""),
    };
  return { type: "CERTIFICATES", data: state.certificates(filter) };
}

/** LIST_WORKERS, STATUS (command and order), LIST_FRONTENDS, QUERY. */
function registerQueries(handlers: SozuHandlers, env: SozuHandlerEnvironment): void {
  const { control } = env;
  const workerList = () =>
    control.plane.workers().map((w) => ({ id: w.id, pid: w.pid, run_state: w.runState }));
  handlers.commands.register(
    "LIST_WORKERS",
    (request) => ok(request, "", { type: "WORKERS", data: workerList() }),
  );
  handlers.commands.register(
    "STATUS",
    (request) => ok(request, "", { type: "STATUS", data: workerList() }),
  );
  handlers.commands.register("LIST_FRONTENDS", async (request) => {
    const f = parseOrThrow(listFrontendsInput, request.payload ?? null, "LIST_FRONTENDS", "data");
    const all = !f || (f.http == null && f.https == null && f.tcp == null);
    const domain = f?.domain ?? null;
    const data = await control.serial(() => ({
      http_frontends: all || f?.http ? control.state.fronts("http", domain) : [],
      https_frontends: all || f?.https ? control.state.fronts("https", domain) : [],
      tcp_frontends: (all || f?.tcp) && domain === null ? control.state.tcpFronts() : [],
    }));
    return response(request.id, "OK", "", { type: "FRONTEND_LIST", data });
  });
  handlers.orders.register("STATUS", (request) => {
    const workers = control.plane.workers();
    const chosen = request.workerId === null
      ? workers
      : workers.filter((w) => w.id === request.workerId);
    if (chosen.length === 0) {
      throw new NotFoundError(
        request.workerId === null ? "no workers" : `worker ${request.workerId} not found`,
      );
    }
    const bad = chosen.filter((w) => w.runState !== "RUNNING");
    if (bad.length > 0) {
      throw new UnavailableError(bad.map((w) => `${w.id}: ${w.runState}`).join(", "));
    }
    return ok(request, chosen.map((w) => `${w.id}: OK`).join(", "));
  });
  handlers.orders.register("QUERY", async (request) => {
    const q = parseOrThrow(queryInput, request.payload, "QUERY", "data");
    if (q.type === "METRICS") {
      return await queryMetrics(
        control,
        request,
        q.data ?? {
          list: false,
          cluster_ids: [],
          backend_ids: [],
          metric_names: [],
        },
      );
    }
    const answer = await control.serial(() => answerQuery(control.state, q));
    // sozu's main answers application queries itself; certificates only the workers do.
    const perWorker: Record<string, unknown> = q.type === "CERTIFICATES" ? {} : { main: answer };
    for (const w of control.plane.workers()) perWorker[String(w.id)] = answer;
    return response(request.id, "OK", "", { type: "QUERY", data: perWorker });
  });
}

/** SOFT_STOP and HARD_STOP: stop the proxy, then end the service once the reply is out. */
function registerStop(orders: SozuHandlers["orders"], env: SozuHandlerEnvironment): void {
  const stop = (hard: boolean): SozuHandler => async (request, io) => {
    checkWorker(env.control, request);
    if (request.workerId !== null) {
      throw new InvalidError("stopping a single worker is not supported: stop the whole proxy");
    }
    if (!hard) io.processing("soft stop: no new connections, waiting for in-flight requests");
    await env.control.serial(() => env.stopProxy(hard));
    io.afterReply(() => env.endService(hard ? "HARD_STOP" : "SOFT_STOP"));
    return response(request.id, "OK", hard ? "proxy stopped" : "proxy stopped after draining");
  };
  orders.register("SOFT_STOP", stop(false)).register("HARD_STOP", stop(true));
}

/** Accepted names this agent does not do: each answers why. */
function registerUnsupported(
  { commands, orders }: SozuHandlers,
  env: SozuHandlerEnvironment,
): void {
  // No direct reply: events stream on the connection as PROCESSING replies until it ends.
  commands.register("SUBSCRIBE_EVENTS", (_request, io) => {
    if (io.stream) env.events?.subscribe(io.stream);
    return Promise.resolve(null);
  });
  commands.register(
    "LAUNCH_WORKER",
    unsupported("LAUNCH_WORKER is not supported: workers are managed by sozu.worker_count"),
  );
  commands.register(
    "RELOAD_CONFIGURATION",
    unsupported("RELOAD_CONFIGURATION is not supported: use LOAD_STATE or restart the service"),
  );
  orders.register(
    "RETURN_LISTEN_SOCKETS",
    unsupported("RETURN_LISTEN_SOCKETS is internal to sozu"),
  );
}

/** Throws when a table's names differ from the static set the decoder uses. */
function checkNames(table: HandlerTable<string, SozuHandler>, names: ReadonlySet<string>): void {
  const registered = new Set(table.types());
  const missing = [...names].filter((n) => !registered.has(n));
  const extra = [...registered].filter((n) => !names.has(n));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `sozu handler names differ from schemas.ts: missing ${missing.join(", ") || "none"}, ` +
        `not declared ${extra.join(", ") || "none"}`,
    );
  }
}

/** Builds the tables of every command and order. */
export function createSozuHandlers(env: SozuHandlerEnvironment): SozuHandlers {
  const handlers: SozuHandlers = {
    commands: new HandlerTable<string, SozuHandler>("sozu command"),
    orders: new HandlerTable<string, SozuHandler>("sozu order"),
  };
  registerStateOrders(handlers.orders, env);
  registerStateCommands(handlers.commands, env);
  registerQueries(handlers, env);
  registerStop(handlers.orders, env);
  handlers.orders.register("METRICS", metricsOrder(env))
    .register("CONFIGURE_METRICS", configureMetricsOrder(env))
    .register("LOGGING", loggingOrder(env));
  registerUpgrades(handlers.commands, {
    workerUpgrade: { drainTimeoutMs: 2000, idleGraceMs: 1000 },
    ...env.upgrades,
    control: env.control,
  });
  registerUnsupported(handlers, env);
  checkNames(handlers.commands, SOZU_COMMANDS);
  checkNames(handlers.orders, SOZU_ORDERS);
  return handlers;
}
