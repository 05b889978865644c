/** Messages between the data plane (main isolate) and its proxy workers (Web Workers). */
import type {
  AccessLogOptions,
  MetricsChange,
  ProxyLogLevel,
  ProxyOrder,
  TlsEngineChoice,
} from "./model.ts";
import type { RoutingEvent } from "./routing.ts";

/** Main → worker. */
export type ToWorker =
  | { t: "init"; workerId: number; reusePort: boolean; options?: WorkerEngineOptions }
  | { t: "apply"; seq: number; order: ProxyOrder }
  | { t: "soft_stop"; seq: number; idleGraceMs?: number }
  | { t: "hard_stop"; seq: number }
  | { t: "stats"; seq: number }
  | { t: "backend_stats"; seq: number }
  | { t: "metrics"; seq: number }
  | { t: "configure_metrics"; seq: number; change: MetricsChange }
  | { t: "log_level"; seq: number; level: ProxyLogLevel };

/** Worker → main. */
export type FromWorker =
  | { t: "ready" }
  | { t: "done"; seq: number; error?: string; value?: unknown }
  | {
    t: "log";
    level: "debug" | "info" | "warn" | "error";
    msg: string;
    fields?: Record<string, unknown>;
  }
  | { t: "event"; event: RoutingEvent };

/** Engine tuning passed to every worker. */
export interface WorkerEngineOptions {
  requestBufferSize?: number;
  ioBufferSize?: number;
  maxConnections?: number;
  /** Client connections at once from one address (0 = no cap). @default {256} */
  maxConnectionsPerClient?: number;
  tickMs?: number;
  maxIdlePerBackend?: number;
  fairnessThreshold?: number;
  /** TLS engine of HTTPS listeners. */
  tlsEngine?: TlsEngineChoice;
  /** Read sockets with Deno's read op directly (direct_read.ts). @default {true} */
  directReads?: boolean;
  /** Seed of the balancing / back-off random source (tests; each worker adds its id). */
  seed?: number;
  /** One retry back-off unit, ms. @default {1000} */
  retryUnitMs?: number;
  /** Forward debug lines too. */
  debug?: boolean;
  /** Forward lines from this level on (wins over `debug`). */
  logLevel?: ProxyLogLevel;
  /** Collect traffic metrics. @default {true} */
  metrics?: boolean;
  /** The access log, off when absent. */
  accessLog?: AccessLogOptions;
}
