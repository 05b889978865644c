/**
 * The contract between the sozu control plane (lib/protocols/sozu) and the HTTP data plane
 * (this folder): normalised, protocol-independent descriptions of listeners, clusters
 * (sozu "applications"), fronts and backends, and the orders that change them. The control plane
 * validates consistency (a front's listener exists, …) before it sends an order; the data plane
 * applies orders to every worker and reports back once all have.
 */

/** Load-balancing policies (balancing.ts). */
export type LoadBalancing = "round_robin" | "random" | "least_loaded" | "power_of_two";

/**
 * What `least_loaded` and `power_of_two` compare: exchanges in flight ("connections" and
 * "requests" count the same on HTTP/1.1, one request per backend connection), or the peak-EWMA
 * latency cost (active + 1) × rtt ("connection_time").
 */
export type LoadMetric = "connections" | "requests" | "connection_time";

/**
 * A backend event as sozu reports it to SUBSCRIBE_EVENTS subscribers; `workerId` is the worker
 * that saw it first (the data plane sends one event per change, not one per worker).
 */
export type ProxyEvent =
  | {
    type: "BACKEND_DOWN" | "BACKEND_UP" | "REMOVED_BACKEND_HAS_NO_CONNECTIONS";
    clusterId: string;
    backendId: string;
    address: string;
    workerId: number;
  }
  | { type: "NO_AVAILABLE_BACKENDS"; clusterId: string; workerId: number };

/** TLS protocol versions a listener may offer. */
export type TlsVersion = "TLSv1.2" | "TLSv1.3";

/** A certificate with its key, as the data plane serves it. */
export interface CertificateSpec {
  /** Lower-case hex SHA-256 of the leaf DER (its identity on the listener). */
  fingerprint: string;
  /** The leaf certificate, PEM. */
  certificate: string;
  /** Intermediate certificates, PEM, leaf-first order. */
  chain: string[];
  /** The private key, PEM (PKCS#1, PKCS#8 or SEC1). */
  key: string;
  /** Names it is served for: exact, or one-label wildcards "*.example.com"; lower case. */
  names: string[];
}

/** The TLS side of an HTTPS listener. */
export interface ListenerTls {
  /** Versions offered (at least one). */
  versions: TlsVersion[];
  /**
   * Certificate for clients with no SNI or an unknown name; null = the first certificate added
   * to the listener.
   */
  defaultCertificate: CertificateSpec | null;
}

/** An HTTP, HTTPS or TCP listener. */
export interface ListenerSpec {
  /** "ip:port" (IPv6 as "[::1]:8080"); the identity of the listener. */
  address: string;
  protocol: "http" | "https" | "tcp";
  /**
   * Every connection must start with a PROXY protocol header (v1 or v2), read before anything
   * else (before TLS on HTTPS); its client address replaces the connection's.
   */
  expectProxy?: boolean;
  /** Address advertised in Forwarded/X-Forwarded-Port, when not the bound one. */
  publicAddress?: string;
  /** Full raw HTTP response sent when no front matches (sozu's answer_404). */
  answer404?: string;
  /** Full raw HTTP response sent when no backend is usable (sozu's answer_503). */
  answer503?: string;
  /** Sticky-session cookie name. Default "SOZUBALANCEID". */
  stickyName?: string;
  /** Idle keep-alive / head-read timeout on the client side, ms. Default 60000. */
  frontTimeoutMs?: number;
  /** Backend response timeout, ms. Default 30000. */
  backTimeoutMs?: number;
  /** Backend connect timeout, ms. Default 3000. */
  connectTimeoutMs?: number;
  /** Time allowed to read a request head, ms. Default 10000. */
  requestTimeoutMs?: number;
  /** HTTPS listeners: versions and default certificate (absent = TLS 1.2 and 1.3, none). */
  tls?: ListenerTls;
}

/** A cluster (sozu 0.11–0.13 "application", 0.14 "cluster"). */
export interface ClusterSpec {
  id: string;
  stickySession?: boolean;
  httpsRedirect?: boolean;
  loadBalancing?: LoadBalancing;
  /** The load `least_loaded` / `power_of_two` compare. @default {"connections"} */
  loadMetric?: LoadMetric;
  /** Cluster-level override of the listener's answer_503. */
  answer503?: string;
  /**
   * sozu's `proxy_protocol`: SEND_HEADER sends backends a PROXY v2 header naming the client on
   * each new connection (HTTP: backend connections are then not pooled); RELAY_HEADER (TCP)
   * passes on the header the client sent; EXPECT_HEADER (TCP) expects one from clients.
   */
  proxyProtocol?: ProxyProtocolMode;
}

/** sozu's `ProxyProtocolConfig`. */
export type ProxyProtocolMode = "EXPECT_HEADER" | "SEND_HEADER" | "RELAY_HEADER";

/** The one front of a TCP listener: its connections go to `clusterId`. */
export interface TcpFrontSpec {
  /** The TCP listener's address. */
  listener: string;
  clusterId: string;
}

/**
 * A routing rule: requests on `listener` for `hostname` whose path starts with `pathBegin`. The
 * optional fields are sozu 0.14's (`front_router.ts`); a front without them is a 0.13 front.
 */
export interface FrontSpec {
  /** The listener's address ("ip:port"). */
  listener: string;
  /** The cluster requests go to ("" for a `deny` front). */
  clusterId: string;
  /** Exact name, or a one-label wildcard "*.example.com". Lower case, no port. */
  hostname: string;
  /** Raw prefix of the request target ("" or "/" matches everything); the pattern of `pathRule`. */
  pathBegin: string;
  /** How `pathBegin` matches the path: prefix (default), the whole path, or an unanchored regex. */
  pathRule?: "prefix" | "equals" | "regex";
  /** Only requests with this method match (default: any). */
  method?: string;
  /** PRE rules (in order) before the hostname tree, POST rules after it. @default {"tree"} */
  position?: "pre" | "tree" | "post";
  /** Answer 401 instead of routing to a cluster (sozu 0.14 `route: "DENY"`). */
  deny?: boolean;
}

/** A backend server of a cluster. */
export interface BackendSpec {
  clusterId: string;
  backendId: string;
  /** "ip:port". */
  address: string;
  weight?: number;
  backup?: boolean;
  stickyId?: string;
}

/** One change to the data plane. Applying the same order twice is harmless. */
export type ProxyOrder =
  | { op: "add_listener"; listener: ListenerSpec }
  | { op: "remove_listener"; address: string }
  | { op: "activate_listener"; address: string }
  | { op: "deactivate_listener"; address: string }
  | { op: "add_cluster"; cluster: ClusterSpec }
  | { op: "remove_cluster"; id: string }
  | { op: "add_front"; front: FrontSpec }
  | { op: "remove_front"; front: FrontSpec }
  | { op: "add_tcp_front"; front: TcpFrontSpec }
  | { op: "remove_tcp_front"; front: TcpFrontSpec }
  | { op: "add_backend"; backend: BackendSpec }
  | { op: "remove_backend"; clusterId: string; backendId: string; address: string }
  | { op: "add_certificate"; listener: string; certificate: CertificateSpec }
  | { op: "remove_certificate"; listener: string; fingerprint: string }
  | {
    op: "replace_certificate";
    listener: string;
    oldFingerprint: string;
    certificate: CertificateSpec;
  };

/**
 * How HTTPS listeners terminate TLS: "native" is `Deno.listenTls` with Deno's internal SNI
 * resolver (fastest; no session resumption; TLS 1.2 and 1.3 only together), "node" is
 * `node:tls` with `SNICallback` (public API, resumption, per-listener versions), "auto" picks
 * native when Deno still has the resolver and the listener offers both versions, else node.
 */
export type TlsEngineChoice = "auto" | "native" | "node";

/** A worker's run state as LIST_WORKERS reports it. */
export type WorkerRunState = "RUNNING" | "STOPPING" | "STOPPED" | "NOT_ANSWERING";

/** One proxy worker. */
export interface WorkerInfo {
  id: number;
  pid: number;
  runState: WorkerRunState;
}

/** One backend's live figures, added up over the workers (for the status page). */
export interface BackendFigures {
  clusterId: string;
  backendId: string;
  address: string;
  backup: boolean;
  /** Backend connections in use by exchanges now. */
  active: number;
  /** Exchanges relayed to the end since the backend was added. */
  requests: number;
  /** Failed connection attempts since the backend was added. */
  failures: number;
  /** The last connection attempt failed. */
  down: boolean;
  /** Unix ms when `down` was last set or confirmed (0: never tried). */
  stateAt: number;
  lastError: string | null;
  /** Unix ms of `lastError` (0: none). */
  lastErrorAt: number;
  /** Unix second of the last point of the series. */
  second: number;
  /** Requests per second over the last minute, oldest first. */
  rps: number[];
  /** 99th percentile latency per second over the last minute, ms (0: no request timed). */
  p99: number[];
}

/** Latency of the sampled exchanges of one scope, ms (0 when no sample). */
export interface LatencyFigures {
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  p99999: number;
  p100: number;
}

/** Traffic of one scope (a worker's proxy, an application or a backend) in one worker. */
export interface TrafficFigures {
  /** Exchanges that ended (relayed, or answered by the proxy itself). */
  requests: number;
  /** Responses by status class: index 1–5 = 1xx–5xx, 0 = none (the client went away first). */
  statuses: number[];
  /** Request bytes read from clients (heads and bodies). */
  bytesIn: number;
  /** Response bytes written to clients. */
  bytesOut: number;
  /** New backend connections opened. */
  connections: number;
  /** Time from sending the request to the end of the response (sampled). */
  responseTime: LatencyFigures;
  /** Time to open a new backend connection. */
  connectTime: LatencyFigures;
}

/** One backend's traffic in one worker. */
export interface BackendTraffic {
  clusterId: string;
  backendId: string;
  address: string;
  traffic: TrafficFigures;
}

/** One worker's traffic figures (sozu METRICS / QUERY METRICS, admin /metrics). */
export interface WorkerTraffic {
  workerId: number;
  /** Collection on (CONFIGURE_METRICS). */
  enabled: boolean;
  /** Client connections accepted since the worker started, and open now. */
  accepted: number;
  sessions: number;
  /** Client connections refused at accept or closed by a timeout, by reason (see client_gate.ts). */
  closed?: Record<string, number>;
  proxy: TrafficFigures;
  /** Per application (cluster) id. */
  applications: Record<string, TrafficFigures>;
  backends: BackendTraffic[];
}

/** A CONFIGURE_METRICS change. */
export type MetricsChange = "enable" | "disable" | "clear";

/** Log levels a worker forwards from. */
export type ProxyLogLevel = "debug" | "info" | "warn" | "error";

/** The access log: one JSON line per request, written in batches by each worker. */
export interface AccessLogOptions {
  /** The file (appended; created 0640). */
  path: string;
  /** Listener addresses that log, or ["*"] for all. */
  listeners: string[];
}

/** Options for a data plane. */
export interface DataPlaneOptions {
  /** Number of proxy workers sharing each listening port (reusePort). */
  workerCount: number;
  /** TLS engine of HTTPS listeners. @default {"auto"} */
  tlsEngine?: TlsEngineChoice;
  /** Read sockets with Deno's read op directly (direct_read.ts). @default {true} */
  directReads?: boolean;
  /**
   * The orders that rebuild the current state from nothing, in dependency order; used to feed a
   * worker that replaces a crashed one.
   */
  currentOrders: () => ProxyOrder[];
  /** Collect traffic metrics from the start. @default {true} */
  metrics?: boolean;
  /** The access log, off when absent. */
  accessLog?: AccessLogOptions;
  /** Client connections at once from one address, per worker (0 = no cap). @default {256} */
  maxConnectionsPerClient?: number;
  /**
   * Turn on net.ipv4.tcp_migrate_req before a worker upgrade closes the old worker's listeners
   * (root only; see core `tcp_migrate.ts`). @default {false}
   */
  migrateQueued?: boolean;
  /** Told every backend event (BACKEND_DOWN, …), once per change over all workers. */
  onEvent?: (event: ProxyEvent) => void;
  /**
   * Refuse to start when another socket already listens on a listener's port (false only for an
   * upgrade's successor, whose workers bind beside the old agent's). @default {true}
   */
  refuseShared?: boolean;
}

/** How a soft stop drains. */
export interface SoftStopOptions {
  /**
   * Idle keep-alive connections may send one more request (answered `Connection: close`) for
   * this long before they are closed; upgrades use it. @default {0}
   */
  idleGraceMs?: number;
}

/** How {@linkcode DataPlane.upgradeWorker} drains the worker it replaces. */
export interface WorkerUpgradeOptions extends SoftStopOptions {
  /** After this long the old worker's remaining connections are dropped. */
  drainTimeoutMs: number;
}

/**
 * The data plane as the control plane sees it. `apply` resolves once every worker has applied the
 * order, and rejects (with a message fit for an ERROR reply) when any could not, for example when
 * a listener cannot bind.
 */
export interface DataPlane {
  start(): Promise<void>;
  /** Applies an order on every worker, or only on worker `workerId` (sozu's `worker_id`). */
  apply(order: ProxyOrder, workerId?: number): Promise<void>;
  workers(): WorkerInfo[];
  /** Stop accepting, let in-flight requests finish, then stop the workers. */
  softStop(options?: SoftStopOptions): Promise<void>;
  /** Drop everything now. */
  hardStop(): Promise<void>;
  /** Each worker's traffic figures (optional: test doubles may leave it out). */
  metrics?(): Promise<WorkerTraffic[]>;
  /** Turns collection on or off, or clears the figures, on every worker. */
  configureMetrics?(change: MetricsChange): Promise<void>;
  /** The level from which workers forward log lines. */
  setLogLevel?(level: ProxyLogLevel): Promise<void>;
  /** Each backend's live figures (optional: test doubles may leave it out). */
  backendStats?(): Promise<BackendFigures[]>;
  /**
   * Replaces worker `id` with a fresh one fed the current state: resolves with the new worker's
   * id once it serves beside the old one, and `drained` once the old one is gone. No order may be
   * applied until it resolves.
   */
  upgradeWorker?(
    id: number,
    options: WorkerUpgradeOptions,
  ): Promise<{ id: number; drained: Promise<void> }>;
}
