/**
 * What a service is: a named part of the agent with a config section, started and stopped by the
 * supervisor. Protocol modules export a {@linkcode ServiceDefinition}; `main.ts` hands the list to
 * the supervisor and the CLI.
 */
import type { CommandRunner } from "./command_runner.ts";
import type { AgentConfig, AgentSection, ConfigSectionSource } from "./config.ts";
import type { Logger } from "./log.ts";
import type { JsonDocument, OpenDocumentOptions } from "./state_store.ts";
import type { AgentStatusPages, StatusPageSource } from "./status_page.ts";

/**
 * Why a service is being stopped. `upgrade`: the agent is being replaced by its successor (see
 * core `upgrade.ts`): close the listeners, let go of everything the service manages without
 * signalling it (openvpn, containers, processes, the Node), and leave the state written; the
 * successor re-adopts all of it.
 */
export type StopReason = "shutdown" | "restart" | "start-failed" | "upgrade";

/** What a service hands its successor at an upgrade (see {@linkcode Service.handover}). */
export interface ServiceHandover {
  /** JSON data given to the successor's instance as `ServiceContext.inherited`. */
  data: unknown;
  /** The upgrade was called off: accept changes again. */
  resume(): void;
}

/** What the agent's upgrade reports to whoever asked for it. */
export interface UpgradeOutcome {
  /** The successor's pid. */
  pid: number;
  /** One line for the operator. */
  message: string;
}

/** Options of an upgrade request ({@linkcode ServiceContext.upgrade}). */
export interface UpgradeRequest {
  /** The executable to start instead of the installed one (or the checkout's launcher). */
  binary?: string | null;
  /** Told each step as it happens. */
  onProgress?: (message: string) => void;
  /**
   * Resolves once the reply to the requester has been written; the old agent waits for it (a
   * short while at most) before it exits.
   */
  delivered?: Promise<unknown>;
}

/** Where a service is in its life, as /healthz shows it. */
export type ServiceState = "starting" | "running" | "backoff" | "failed" | "stopping" | "stopped";

/** A snapshot of one service, for /healthz, /metrics and the logs. */
export interface ServiceStatus {
  name: string;
  enabled: boolean;
  state: ServiceState;
  /** Unix ms of the last successful start, or null. */
  startedAt: number | null;
  restarts: number;
  lastError: string | null;
  listeners: string[];
  /** Anything the service wants operators to see (link state, counters). */
  detail: Record<string, unknown>;
}

/** Filesystem places a service may use, already created. */
export interface ServicePaths {
  /** `<agent.state_dir>`; the service's own documents live here. */
  state: string;
  /** `<agent.run_dir>`, for sockets and pid files. */
  run: string;
  /** `<agent.log_dir>`. */
  log: string;
}

/** Everything a service gets from the agent when it starts. */
export interface ServiceContext<C> {
  readonly name: string;
  readonly config: C;
  readonly agent: AgentSection;
  readonly log: Logger;
  readonly paths: ServicePaths;
  readonly runner: CommandRunner;
  /** Aborted when the supervisor stops this instance. */
  readonly signal: AbortSignal;
  /** Opens `<state_dir>/<file>.json` (defaults to the service name). */
  openDocument<T>(options: OpenDocumentOptions<T>, file?: string): Promise<JsonDocument<T>>;
  /** Announces a listener; the agent prints one line per listener. */
  listening(address: string): void;
  /** Reports that the running service has died; the supervisor restarts it with backoff. */
  fail(error: unknown): void;
  /**
   * Reports that the service ended on purpose (for example a client's stop order): the supervisor
   * calls `stop`, shows it as stopped and does not restart it. Optional for contexts built by tests.
   */
  stopped?(reason: string): void;
  /** Replaces the service's status detail shown by /healthz. */
  setDetail(detail: Record<string, unknown>): void;
  /** Status of every service of the agent. */
  statuses(): ServiceStatus[];
  /** The agent itself (pid, version, the last upgrade), for /healthz. Optional in tests. */
  agentStatus?(): Record<string, unknown>;
  /**
   * Takeover only: what the old agent's instance of this service handed over
   * ({@linkcode Service.handover}), else undefined.
   */
  readonly inherited?: unknown;
  /**
   * Replaces the running agent with a new process (sozu's UPGRADE_MAIN); resolves once the
   * successor has taken over, rejects with the reason when it could not. Absent where the agent
   * cannot upgrade (tests).
   */
  upgrade?(request: UpgradeRequest): Promise<UpgradeOutcome>;
  /**
   * Keeps the process alive until `work` settles, after `stop("upgrade")` returned (a proxy
   * draining its connections while the successor already serves). Optional in tests.
   */
  keepAlive?(work: Promise<unknown>): void;
  /** Extra Prometheus lines from every running service. */
  metrics(): string;
  /** The services' status-page sources (for the admin service); optional for test contexts. */
  statusPages?(): AgentStatusPages;
}

/**
 * A start failure that retrying cannot mend (a port another program holds, as the real MASQ
 * Daemon refuses to start): the supervisor shows the service as failed with this message and does
 * not restart it (with `agent.fail_fast` the agent stops).
 */
export class StartRefusedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartRefusedError";
  }
}

/** A running instance. `stop` must work after a partial or failed `start`. */
export interface Service<C> {
  start(context: ServiceContext<C>): Promise<void>;
  stop(reason: StopReason): Promise<void>;
  /** Extra Prometheus exposition lines (without HELP/TYPE for the standard ones). */
  metrics?(): string;
  /**
   * A signal the agent offers its services (SIGHUP, SIGUSR1, SIGUSR2; see core `signals.ts`).
   * Resolves true when the service acted on it; a failure is logged, never fatal.
   */
  onSignal?(signal: Deno.Signal): boolean | Promise<boolean>;
  /** The service's part of the admin status page (and its operator actions). */
  statusPage?(): StatusPageSource;
  /**
   * Upgrade, old agent: holds changes (later ones wait until `stop("upgrade")` or `resume`) and
   * returns what the successor's instance needs to serve the same state at once.
   */
  handover?(): Promise<ServiceHandover>;
  /**
   * Upgrade, successor: starts, before the old agent lets go, what must serve alongside it (the
   * proxy data plane, from `context.inherited`). `start` follows on the same instance and
   * context once the old agent has detached.
   */
  prepare?(context: ServiceContext<C>): Promise<void>;
}

/** What `ctl` subcommands get from the CLI. */
export interface CtlEnvironment {
  /** The agent's effective configuration (honours `ctl --config` and `--set`). */
  config(): Promise<AgentConfig>;
  /** Writes a line to stdout. */
  print(line: string): void;
}

/** A kind of service: its config section and how to make an instance. */
export interface ServiceDefinition<C extends { enabled: boolean } = { enabled: boolean }>
  extends ConfigSectionSource<C> {
  /** One line for `polyagent version` and the README. */
  readonly summary: string;
  /**
   * A fresh instance; the supervisor makes a new one for each restart. May load the
   * implementation lazily (`await import(...)`) so a disabled service costs no memory.
   */
  create(): Service<C> | Promise<Service<C>>;
}

/** A service definition of any config type, as lists of them are held. */
// deno-lint-ignore no-explicit-any
export type AnyServiceDefinition = ServiceDefinition<any>;
