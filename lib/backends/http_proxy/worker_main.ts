/**
 * Entry point of one proxy worker (a Web Worker): it owns a {@linkcode ProxyEngine}, applies the
 * orders it receives one at a time in arrival order, and answers each with a `done` message.
 */
import { backendFigures } from "./backend_stats.ts";
import { ProxyEngine } from "./engine.ts";
import { acceptLoopsEnded } from "./listeners.ts";
import type { ProxyLogLevel } from "./model.ts";
import type { FromWorker, ToWorker } from "./worker_protocol.ts";

const RANK: Record<ProxyLogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Lines below this rank are not forwarded (LOGGING changes it). */
let minimum = RANK.info;

interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}

const scope = globalThis as unknown as WorkerScope;
let engine: ProxyEngine | null = null;
let queue: Promise<void> = Promise.resolve();

function post(message: FromWorker): void {
  scope.postMessage(message);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The end of a stop: waits for the closed listeners' sockets to be released and the access log to
 * be written, then answers `seq`.
 */
async function stopped(seq: number): Promise<void> {
  await acceptLoopsEnded(1000);
  await engine?.closeAccessLog();
  post({ t: "done", seq });
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.t) {
    case "init": {
      const options = message.options ?? {};
      minimum = RANK[options.logLevel ?? (options.debug ? "debug" : "info")];
      engine = new ProxyEngine({
        workerId: message.workerId,
        reusePort: message.reusePort,
        ...message.options,
        ...(message.options?.seed === undefined
          ? {}
          : { seed: message.options.seed + message.workerId }),
        onEvent: (event) => post({ t: "event", event }),
        log: (level, msg, fields) => {
          if (RANK[level] < minimum) return;
          post({ t: "log", level, msg, ...(fields ? { fields } : {}) });
        },
      });
      post({ t: "ready" });
      return;
    }
    case "apply": {
      try {
        if (!engine) throw new Error("worker not initialised");
        await engine.apply(message.order);
        post({ t: "done", seq: message.seq });
      } catch (error) {
        post({ t: "done", seq: message.seq, error: errorMessage(error) });
      }
      return;
    }
    case "soft_stop":
      await engine?.softStop(message.idleGraceMs);
      return await stopped(message.seq);
    case "hard_stop":
      engine?.hardStop();
      return await stopped(message.seq);
    case "metrics":
      post({ t: "done", seq: message.seq, value: engine?.traffic() ?? null });
      return;
    case "configure_metrics":
      engine?.configureMetrics(message.change);
      post({ t: "done", seq: message.seq });
      return;
    case "log_level":
      minimum = RANK[message.level];
      post({ t: "done", seq: message.seq });
      return;
    case "stats":
      post({ t: "done", seq: message.seq, value: engine?.stats() ?? null });
      return;
    case "backend_stats":
      post({
        t: "done",
        seq: message.seq,
        value: engine ? backendFigures(engine.routing.backends(), engine.pool.lentByAddress()) : [],
      });
      return;
  }
}

scope.onmessage = (event) => {
  const message = event.data;
  // Stops and stats must not wait behind a long soft stop; orders keep their order.
  if (
    message.t === "hard_stop" || message.t === "stats" || message.t === "backend_stats" ||
    message.t === "metrics" || message.t === "configure_metrics" || message.t === "log_level"
  ) {
    handle(message);
    return;
  }
  queue = queue.then(() => handle(message));
};
