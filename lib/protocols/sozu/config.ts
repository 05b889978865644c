/** The `[sozu]` config section. */
import { resolve } from "node:path";
import { z } from "zod";
import type { DataPlaneOptions } from "../../backends/http_proxy/mod.ts";
import { flag, millis, oneOf, pathString, section, text, wholeNumber } from "../../core/mod.ts";
import { limitsSchema } from "../../core/mod.ts";
import { isSocketAddress } from "./address.ts";

const socketAddressList = z.array(
  z.string({ error: 'expected an address "ip:port"' }).refine(isSocketAddress, {
    error: (issue) => `expected an address "ip:port", got ${JSON.stringify(issue.input)}`,
  }),
  { error: 'expected a list of addresses "ip:port"' },
);

/** The `[sozu]` section. */
export function sozuConfigSchema() {
  return section({
    enabled: flag().default(false),
    /** The command socket (mode 0600). */
    command_socket: pathString().default("/run/polyagent/sozu.sock"),
    /** HTTP listeners created and activated at start (besides the saved state's). */
    listeners: socketAddressList.default([]),
    /**
     * HTTPS listeners created and activated at start (TLS 1.2 and 1.3); their certificates come
     * with ADD_CERTIFICATE (or `polyagent ctl sozu certificate add`) and are kept in the state.
     */
    https_listeners: socketAddressList.default([]),
    /**
     * TCP listeners created and activated at start; each forwards to the application of its one
     * front (ADD_TCP_FRONT), kept in the state.
     */
    tcp_listeners: socketAddressList.default([]),
    /**
     * TLS engine: "native" (Deno.listenTls with Deno's internal SNI resolver: fastest, no session
     * resumption), "node" (node:tls: public API, resumption), "auto" (native where it can serve
     * the listener, else node).
     */
    tls_engine: oneOf(["auto", "native", "node"]).default("auto"),
    /**
     * Read proxy sockets with Deno's read op directly (a Deno internal: lower tail latency and CPU
     * per request); false reads with the public `conn.read`. Without the internal (a Deno
     * upgrade removed it) the proxy falls back by itself.
     */
    direct_reads: flag().default(true),
    /** Proxy workers sharing each listening port. */
    worker_count: wholeNumber(1, 64).default(1),
    /** Write the state durably after every change (before OK) and restore it at start. */
    automatic_state_save: flag().default(true),
    /** Let SAVE_STATE / LOAD_STATE use absolute paths (else under `<state_dir>/sozu/`). */
    allow_absolute_state_paths: flag().default(false),
    /** Listener for README-shaped HTTP fronts that name none ("" = the first HTTP listener). */
    default_http_listener: text().default(""),
    /** Same for HTTPS fronts and certificates. */
    default_https_listener: text().default(""),
    /** Largest command frame, bytes. */
    max_command_size: wholeNumber(1024, 64_000_000).default(1_000_000),
    /** A request still running after this long gets a PROCESSING reply. */
    processing_after_ms: millis(1, 600_000).default(1000),
    /** Requests in flight per client before reading from it pauses. */
    max_in_flight: wholeNumber(1, 1_000_000).default(10_000),
    /**
     * Proxy client connections at once from one address, per worker (HTTP, HTTPS and TCP
     * listeners; more are closed at accept); 0 = no cap. Listeners that expect a PROXY header
     * are not capped (their peer is the load balancer).
     */
    max_connections_per_client: wholeNumber(0, 1_000_000).default(256),
    /** `[sozu.limits]`: the command socket's connection cap, frame deadline, idle timeout. */
    limits: limitsSchema(),
    /** Default timeout of `polyagent ctl sozu` calls. */
    ctl_timeout_ms: millis(100, 3_600_000).default(10_000),
    /** Time a soft stop on agent shutdown may take before in-flight requests are dropped. */
    drain_timeout_ms: millis(0, 600_000).default(2000),
    /** Collect traffic metrics (METRICS, admin /metrics) from the start; CONFIGURE_METRICS toggles. */
    metrics: flag().default(true),
    /** Application and backend series on admin /metrics at most (the rest are counted as dropped). */
    metrics_max_series: wholeNumber(0, 10_000_000).default(10_000),
    /**
     * Access log file: one JSON line per request, appended in batches by every worker, created
     * 0640. A relative path is under the agent's log directory. "" (the default) = no access log.
     */
    access_log: text().default("").refine((s) => !s.includes("\0"), "NUL in path"),
    /** Listeners whose requests are logged: addresses "ip:port", or "*" for every listener. */
    access_log_listeners: z.array(
      z.string().refine((s) => s === "*" || isSocketAddress(s), {
        error: (issue) =>
          `expected "*" or an address "ip:port", got ${JSON.stringify(issue.input)}`,
      }),
    ).default(["*"]),
  });
}

/** The parsed `[sozu]` section. */
export type SozuConfig = z.infer<ReturnType<typeof sozuConfigSchema>>;

/** The data plane's metrics and access-log options; a relative access log is under `logDir`. */
export function trafficOptions(
  config: SozuConfig,
  logDir: string,
): Pick<DataPlaneOptions, "metrics" | "accessLog" | "maxConnectionsPerClient"> {
  const perClient = config.max_connections_per_client;
  if (config.access_log === "") {
    return { metrics: config.metrics, maxConnectionsPerClient: perClient };
  }
  return {
    metrics: config.metrics,
    maxConnectionsPerClient: perClient,
    accessLog: {
      path: resolve(logDir, config.access_log),
      listeners: config.access_log_listeners,
    },
  };
}
