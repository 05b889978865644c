/**
 * The handler table: one handler per top-level command and per worker order, registered once
 * (a duplicate registration throws). Each handler parses its payload with the zod schemas in
 * `wire.ts`, asks the {@linkcode ControlPlane} and returns the reply.
 */
import { isAbsolute, join, normalize, resolve, sep } from "node:path";
import { errorText, type Logger, writeFileAtomic } from "../../core/mod.ts";
import type { ControlPlane } from "./control_plane.ts";
import { SozuError } from "./errors.ts";
import { canonicalOrderName, parseStateOrder, STATE_ORDER_TYPES } from "./orders.ts";
import { type CommandResponse, response } from "./reply.ts";
import { decodeRecords, encodeRecords } from "./state_file.ts";
import {
  listFrontendsInput,
  parseOrThrow,
  queryInput,
  type Request,
  statePathInput,
} from "./wire.ts";

/** What a handler may do besides returning its final reply. */
export interface RequestIo {
  /** Sends a PROCESSING reply for this request. */
  processing(message: string): void;
  /** Runs `fn` once the final reply has been written. */
  afterReply(fn: () => void): void;
}

/** A handler: the final reply, or null when the request gets none (SUBSCRIBE_EVENTS). */
export type Handler = (request: Request, io: RequestIo) => Promise<CommandResponse | null>;

/** What the handlers use from the service. */
export interface HandlerEnvironment {
  control: ControlPlane;
  log: Logger;
  /** Directory that relative SAVE_STATE / LOAD_STATE paths resolve under. */
  savedStateDir: string;
  allowAbsolutePaths: boolean;
  /** Files a SAVE_STATE must never overwrite (the automatic state document). */
  protectedPaths: readonly string[];
  /** Stops the data plane (soft drains first). */
  stopProxy(hard: boolean): Promise<void>;
  /** Ends the service once the reply is out. */
  endService(reason: string): void;
}

/** Type → handler, for top-level commands and for PROXY orders. */
export class HandlerTable {
  #commands = new Map<string, Handler>();
  #orders = new Map<string, Handler>();

  /** Registers a top-level command handler. */
  command(type: string, handler: Handler): this {
    if (this.#commands.has(type)) throw new Error(`Duplicate sozu command handler "${type}"`);
    this.#commands.set(type, handler);
    return this;
  }

  /** Registers a PROXY order handler. */
  order(type: string, handler: Handler): this {
    if (this.#orders.has(type)) throw new Error(`Duplicate sozu order handler "${type}"`);
    this.#orders.set(type, handler);
    return this;
  }

  /** Whether `name` is a top-level command. */
  isCommand(name: string): boolean {
    return this.#commands.has(name);
  }

  /** Whether `name` is a worker order. */
  isOrder(name: string): boolean {
    return this.#orders.has(name);
  }

  /** Finds and runs the handler. */
  dispatch(request: Request, io: RequestIo): Promise<CommandResponse | null> {
    if (request.type === "PROXY") {
      const handler = this.#orders.get(request.order ?? "");
      if (!handler) throw new SozuError(`unknown order type "${request.order}"`);
      return handler(request, io);
    }
    const handler = this.#commands.get(request.type);
    if (!handler) throw new SozuError(`unknown request type "${request.type}"`);
    return handler(request, io);
  }
}

function ok(request: Request, message = "", data: CommandResponse["data"] = null) {
  return Promise.resolve(response(request.id, "OK", message, data));
}

function unsupported(what: string): Handler {
  return () => Promise.reject(new SozuError(what));
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

/** Builds the table of every command and order. */
export function createHandlers(env: HandlerEnvironment): HandlerTable {
  const { control } = env;
  const table = new HandlerTable();
  const workerIds = () => control.plane.workers().map((w) => w.id);

  const checkWorker = (request: Request) => {
    if (request.workerId !== null && !workerIds().includes(request.workerId)) {
      throw new SozuError(`worker ${request.workerId} not found`);
    }
  };

  const stateOrder: Handler = async (request) => {
    checkWorker(request);
    const name = canonicalOrderName(request.order!);
    const outcome = await control.execute(() =>
      parseStateOrder(name, request.payload, control.state)
    );
    return response(request.id, "OK", outcome.message);
  };
  for (const type of STATE_ORDER_TYPES) table.order(type, stateOrder);
  table.order("ADD_CLUSTER", stateOrder).order("REMOVE_CLUSTER", stateOrder);

  const resolvePath = (path: string): string => {
    if (isAbsolute(path)) {
      if (!env.allowAbsolutePaths) {
        throw new SozuError(
          `absolute state paths are not allowed: "${path}" (set sozu.allow_absolute_state_paths)`,
        );
      }
      return normalize(path);
    }
    const base = resolve(env.savedStateDir);
    const full = resolve(base, path);
    if (!full.startsWith(base + sep)) {
      throw new SozuError(`state path "${path}" leaves the state directory`);
    }
    return full;
  };

  table.command("SAVE_STATE", async (request) => {
    const { path } = parseOrThrow(statePathInput, request.payload, "SAVE_STATE", "data");
    const file = resolvePath(path);
    if (env.protectedPaths.some((p) => resolve(p) === file)) {
      throw new SozuError(
        `could not save state to file: "${path}" is the automatic state document`,
      );
    }
    const orders = await control.serial(() => control.state.orders());
    try {
      await Deno.mkdir(env.savedStateDir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, encodeRecords(orders));
    } catch (error) {
      throw new SozuError(`could not save state to file "${path}": ${errorText(error)}`);
    }
    return response(request.id, "OK", `saved ${orders.length} config messages to ${file}`);
  });

  table.command("LOAD_STATE", async (request, io) => {
    const { path } = parseOrThrow(statePathInput, request.payload, "LOAD_STATE", "data");
    const file = resolvePath(path);
    let text: string;
    try {
      const info = await Deno.stat(file);
      if (info.size > 256 * 1024 * 1024) throw new Error("larger than 256 MiB");
      text = await Deno.readTextFile(file);
    } catch (error) {
      throw new SozuError(`could not open file "${path}": ${errorText(error)}`);
    }
    const records = decodeRecords(text, table);
    io.processing(`loading ${records.length} config messages from ${file}`);
    const outcomes = await Promise.allSettled(records.map((record) =>
      control.execute(() => {
        const name = canonicalOrderName(record.order);
        if (!STATE_ORDER_TYPES.has(name)) {
          throw new SozuError(`record ${record.index}: "${record.order}" is not a state order`);
        }
        try {
          return parseStateOrder(name, record.payload, control.state);
        } catch (error) {
          throw new SozuError(`record ${record.index}: ${errorText(error)}`);
        }
      })
    ));
    let applied = 0;
    const errors: string[] = [];
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") errors.push(errorText(outcome.reason));
      else if (outcome.value.changed) applied++;
    }
    const summary = `ok: ${applied} messages, error: ${errors.length}`;
    if (errors.length === 0) return response(request.id, "OK", summary);
    env.log.warn("LOAD_STATE had errors", { file, errors: errors.slice(0, 10) });
    return response(request.id, "ERROR", `${summary} (first: ${errors[0]})`);
  });

  table.command("DUMP_STATE", async (request) => {
    const dump = await control.serial(() => control.state.toJSON());
    return response(request.id, "OK", "", { type: "STATE", data: dump });
  });

  const workerList = () =>
    control.plane.workers().map((w) => ({ id: w.id, pid: w.pid, run_state: w.runState }));
  table.command(
    "LIST_WORKERS",
    (request) => ok(request, "", { type: "WORKERS", data: workerList() }),
  );
  table.command("STATUS", (request) => ok(request, "", { type: "STATUS", data: workerList() }));

  table.command("LIST_FRONTENDS", async (request) => {
    const f = parseOrThrow(listFrontendsInput, request.payload ?? null, "LIST_FRONTENDS", "data");
    const all = !f || (f.http == null && f.https == null && f.tcp == null);
    const domain = f?.domain ?? null;
    const data = await control.serial(() => ({
      http_frontends: all || f?.http ? control.state.fronts("http", domain) : [],
      https_frontends: all || f?.https ? control.state.fronts("https", domain) : [],
      tcp_frontends: [],
    }));
    return response(request.id, "OK", "", { type: "FRONTEND_LIST", data });
  });

  // Events: part 1 has none to send; the subscription is accepted and stays silent.
  table.command("SUBSCRIBE_EVENTS", () => Promise.resolve(null));
  table.command(
    "LAUNCH_WORKER",
    unsupported("LAUNCH_WORKER is not supported: workers are managed by sozu.worker_count"),
  );
  for (const type of ["UPGRADE_MASTER", "UPGRADE_MAIN", "UPGRADE_WORKER"]) {
    table.command(type, unsupported(`${type} is not supported yet: hot upgrade comes with part 2`));
  }
  table.command(
    "RELOAD_CONFIGURATION",
    unsupported("RELOAD_CONFIGURATION is not supported: use LOAD_STATE or restart the service"),
  );

  // ---- worker orders without state changes
  table.order("STATUS", (request) => {
    const workers = control.plane.workers();
    const chosen = request.workerId === null
      ? workers
      : workers.filter((w) => w.id === request.workerId);
    if (chosen.length === 0) {
      throw new SozuError(
        request.workerId === null ? "no workers" : `worker ${request.workerId} not found`,
      );
    }
    const bad = chosen.filter((w) => w.runState !== "RUNNING");
    if (bad.length > 0) {
      throw new SozuError(bad.map((w) => `${w.id}: ${w.runState}`).join(", "));
    }
    return ok(request, chosen.map((w) => `${w.id}: OK`).join(", "));
  });

  table.order("QUERY", async (request) => {
    const q = parseOrThrow(queryInput, request.payload, "QUERY", "data");
    const state = control.state;
    const answer = await control.serial(() => {
      if (q.type === "APPLICATIONS") {
        const ids = q.data.type === "APP_ID"
          ? [q.data.data]
          : state.applicationsByDomain(q.data.data.hostname, q.data.data.path_begin ?? null);
        return {
          type: "APPLICATIONS",
          data: ids.map((id) => state.applicationInfo(id)).filter((x) => x !== null),
        };
      }
      if (q.type === "APPLICATIONS_HASHES") {
        const hashes: Record<string, number> = {};
        for (const id of state.applicationIds()) {
          hashes[id] = hash53(JSON.stringify(state.applicationInfo(id)));
        }
        return { type: "APPLICATIONS_HASHES", data: hashes };
      }
      const c = q.data;
      const list = c.type === "ALL"
        ? state.certificates({ type: "ALL" })
        : c.type === "DOMAIN"
        ? state.certificates({ type: "DOMAIN", name: c.data })
        : state.certificates({
          type: "FINGERPRINT",
          fp: typeof c.data === "string"
            ? c.data
            : c.data.map((b) => b.toString(16).padStart(2, "0")).join(""),
        });
      return { type: "CERTIFICATES", data: { type: c.type, data: list } };
    });
    const perWorker: Record<string, unknown> = { main: answer };
    for (const id of workerIds()) perWorker[String(id)] = answer;
    return response(request.id, "OK", "", { type: "QUERY", data: perWorker });
  });

  const stop = (hard: boolean): Handler => async (request, io) => {
    checkWorker(request);
    if (request.workerId !== null) {
      throw new SozuError("stopping a single worker is not supported: stop the whole proxy");
    }
    if (!hard) io.processing("soft stop: no new connections, waiting for in-flight requests");
    await control.serial(() => env.stopProxy(hard));
    io.afterReply(() => env.endService(hard ? "HARD_STOP" : "SOFT_STOP"));
    return response(request.id, "OK", hard ? "proxy stopped" : "proxy stopped after draining");
  };
  table.order("SOFT_STOP", stop(false)).order("HARD_STOP", stop(true));

  for (const type of ["ADD_TCP_FRONT", "REMOVE_TCP_FRONT", "ADD_TCP_LISTENER"]) {
    table.order(type, unsupported(`${type}: TCP proxying is not supported`));
  }
  for (const type of ["METRICS", "CONFIGURE_METRICS"]) {
    table.order(type, unsupported(`${type} is not supported yet: metrics come with part 2`));
  }
  table.order("LOGGING", unsupported("LOGGING is not supported: set agent.log_level"));
  table.order("RETURN_LISTEN_SOCKETS", unsupported("RETURN_LISTEN_SOCKETS is internal to sozu"));
  return table;
}

/** The default directory of saved states under the agent's state directory. */
export function savedStateDir(stateDir: string): string {
  return join(stateDir, "sozu");
}
