/**
 * Starts the enabled services in order, restarts one that dies later with exponential backoff,
 * and stops everything in reverse order within a time budget. A service that fails to start is
 * reported and retried with backoff while the others keep running (unless `agent.fail_fast`), or
 * left failed when it refused to start ({@linkcode StartRefusedError}).
 */
import { join } from "node:path";
import type { CommandRunner } from "./command_runner.ts";
import type { AgentConfig } from "./config.ts";
import { ensureDir } from "./dirs.ts";
import { type AgentHandover, collectHandovers, upgradeContext } from "./handover.ts";
import { listenerLimitsMetrics } from "./limits.ts";
import { errorText, type Logger } from "./log.ts";
import {
  type AnyServiceDefinition,
  type Service,
  type ServiceContext,
  type ServiceState,
  type ServiceStatus,
  StartRefusedError,
  type StopReason,
  type UpgradeOutcome,
  type UpgradeRequest,
} from "./service.ts";
import type { AgentStatusPages } from "./status_page.ts";
import { StateStore } from "./state_store.ts";

/** Options for {@linkcode Supervisor}. */
export interface SupervisorOptions {
  config: AgentConfig;
  definitions: readonly AnyServiceDefinition[];
  log: Logger;
  runner: CommandRunner;
  /** Called once per announced listener. */
  onListening?: (service: string, address: string) => void;
  /** First restart delay. @default {500} */
  backoffBaseMs?: number;
  /** Longest restart delay. @default {30000} */
  backoffMaxMs?: number;
  /** A run this long resets the backoff. @default {60000} */
  stableAfterMs?: number;
  /** Takeover: what the old agent's services handed over, by service name. */
  inherited?: Record<string, unknown>;
  /** Replaces the agent with a new process (offered to services as `context.upgrade`). */
  upgrade?: (request: UpgradeRequest) => Promise<UpgradeOutcome>;
  /** The agent's own status for /healthz (offered as `context.agentStatus`). */
  agentStatus?: () => Record<string, unknown>;
}

/** A service that failed to start while `fail_fast` is set. */
export class ServiceStartError extends Error {
  constructor(readonly service: string, cause: unknown) {
    super(`Service "${service}" failed to start: ${errorText(cause)}`, { cause });
    this.name = "ServiceStartError";
  }
}

interface Slot {
  def: AnyServiceDefinition;
  enabled: boolean;
  state: ServiceState;
  instance: Service<unknown> | null;
  abort: AbortController | null;
  startedAt: number | null;
  restarts: number;
  consecutiveFailures: number;
  lastError: string | null;
  listeners: string[];
  detail: Record<string, unknown>;
  timer: ReturnType<typeof setTimeout> | null;
  generation: number;
  /** Takeover: the instance made (and prepared) before the old agent let go. */
  prepared: { instance: Service<unknown>; context: ServiceContext<unknown> } | null;
}

/** Runs the services of one agent. */
export class Supervisor {
  #options: SupervisorOptions;
  #slots: Slot[];
  #stopping = false;
  #log: Logger;
  #lingering: Promise<unknown>[] = [];

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#slots = options.definitions.map((def) => ({
      def,
      enabled: Boolean(options.config.services[def.name]?.enabled),
      state: "stopped",
      instance: null,
      abort: null,
      startedAt: null,
      restarts: 0,
      consecutiveFailures: 0,
      lastError: null,
      listeners: [],
      detail: {},
      timer: null,
      generation: 0,
      prepared: null,
    }));
  }

  /** Starts every enabled service, in definition order (again after {@linkcode detach}). */
  async start(): Promise<void> {
    const { agent } = this.#options.config;
    this.#stopping = false;
    for (const dir of [agent.state_dir, agent.run_dir, agent.log_dir]) await ensureDir(dir, 0o750);
    for (const slot of this.#slots) {
      if (!slot.enabled || this.#stopping) continue;
      const ok = await this.#startSlot(slot);
      if (!ok && agent.fail_fast) {
        throw new ServiceStartError(slot.def.name, slot.lastError);
      }
    }
  }

  /** Status of every service (disabled ones included). */
  statuses(): ServiceStatus[] {
    return this.#slots.map((s) => ({
      name: s.def.name,
      enabled: s.enabled,
      state: s.state,
      startedAt: s.startedAt,
      restarts: s.restarts,
      lastError: s.lastError,
      listeners: [...s.listeners],
      detail: { ...s.detail },
    }));
  }

  /** Extra metrics lines from running services. */
  metrics(): string {
    let out = "";
    for (const slot of this.#slots) {
      if (slot.state !== "running" || !slot.instance?.metrics) continue;
      try {
        out += slot.instance.metrics();
      } catch (error) {
        this.#log.warn("metrics failed", { service: slot.def.name, error });
      }
    }
    return out + listenerLimitsMetrics();
  }

  /** Offers `signal` to every running service; resolves with the names of those that acted. */
  async signal(signal: Deno.Signal): Promise<string[]> {
    const acted: string[] = [];
    for (const slot of this.#slots) {
      if (slot.state !== "running" || !slot.instance?.onSignal) continue;
      try {
        if (await slot.instance.onSignal(signal)) acted.push(slot.def.name);
      } catch (error) {
        this.#log.warn("signal handling failed", { service: slot.def.name, signal, error });
      }
    }
    return acted;
  }

  /** The status-page sources of the running services that have one. */
  statusPages(): AgentStatusPages {
    const services: AgentStatusPages["services"] = [];
    for (const slot of this.#slots) {
      if (slot.state !== "running" || !slot.instance?.statusPage) continue;
      services.push({ name: slot.def.name, source: slot.instance.statusPage() });
    }
    return { configSource: this.#options.config.source, services };
  }

  /** Stops every service in reverse start order; each gets what is left of the budget. */
  async stop(reason: StopReason = "shutdown"): Promise<void> {
    this.#stopping = true;
    const deadline = performance.now() + this.#options.config.agent.shutdown_timeout_ms;
    for (const slot of [...this.#slots].reverse()) {
      if (slot.timer !== null) {
        clearTimeout(slot.timer);
        slot.timer = null;
      }
      if (!slot.instance) {
        if (slot.state !== "stopped") slot.state = "stopped";
        continue;
      }
      const left = Math.max(50, deadline - performance.now());
      await this.#stopSlot(slot, reason, left);
    }
  }

  /**
   * Upgrade, old agent: collects every running service's handover; each holds its changes until
   * {@linkcode detach} or `resume`.
   */
  handover(): Promise<AgentHandover> {
    return collectHandovers(
      this.#slots.filter((s) => s.state === "running").map((s) => [s.def.name, s.instance]),
    );
  }

  /**
   * Upgrade, successor: makes every enabled service's instance, its context given what the old
   * agent's instance handed over (`inherited`, by name), and runs its `prepare` (the proxy serves
   * beside the old agent's); {@linkcode start} starts those instances. A failure stops them.
   */
  async prepare(inherited: Record<string, unknown>): Promise<void> {
    this.#options = { ...this.#options, inherited };
    const { agent } = this.#options.config;
    for (const dir of [agent.state_dir, agent.run_dir, agent.log_dir]) await ensureDir(dir, 0o750);
    try {
      for (const slot of this.#slots) {
        if (!slot.enabled) continue;
        const abort = new AbortController();
        slot.abort = abort;
        const instance = await slot.def.create() as Service<unknown>;
        const context = this.#context(slot, ++slot.generation, abort);
        slot.prepared = { instance, context };
        await instance.prepare?.(context);
      }
    } catch (error) {
      await this.abandonPrepared();
      throw new Error(`Preparing the takeover failed: ${errorText(error)}`, { cause: error });
    }
  }

  /** Stops the instances {@linkcode prepare} made (the upgrade was called off). */
  async abandonPrepared(): Promise<void> {
    for (const slot of this.#slots) {
      const prepared = slot.prepared;
      slot.prepared = null;
      if (!prepared) continue;
      slot.abort?.abort(new Error("takeover called off"));
      await prepared.instance.stop("start-failed").catch(() => {});
    }
  }

  /**
   * Upgrade, old agent: stops every service with reason `upgrade` (they let go of what they
   * manage) and resolves with the work they left running (a proxy drain).
   */
  async detach(): Promise<{ lingering: Promise<void> }> {
    await this.stop("upgrade");
    const work = this.#lingering.splice(0);
    return { lingering: Promise.allSettled(work).then(() => {}) };
  }

  #context(slot: Slot, generation: number, abort: AbortController): ServiceContext<unknown> {
    const { agent } = this.#options.config;
    const name = slot.def.name;
    const log = this.#log.child(name);
    const store = new StateStore(agent.state_dir, log);
    return {
      name,
      config: this.#options.config.services[name],
      agent,
      log,
      paths: { state: agent.state_dir, run: agent.run_dir, log: join(agent.log_dir) },
      runner: this.#options.runner,
      signal: abort.signal,
      openDocument: (options, file) => store.open(file ?? name, options),
      listening: (address) => {
        if (slot.generation !== generation) return;
        slot.listeners.push(address);
        this.#options.onListening?.(name, address);
      },
      fail: (error) => {
        if (slot.generation !== generation) return;
        this.#onCrash(slot, error);
      },
      stopped: (reason) => {
        if (slot.generation !== generation) return;
        this.#onDeliberateStop(slot, reason);
      },
      setDetail: (detail) => {
        if (slot.generation === generation) slot.detail = { ...detail };
      },
      statuses: () => this.statuses(),
      metrics: () => this.metrics(),
      statusPages: () => this.statusPages(),
      ...upgradeContext(this.#options, name, (work) => this.#lingering.push(work)),
    };
  }

  async #startSlot(slot: Slot): Promise<boolean> {
    const prepared = slot.prepared;
    slot.prepared = null;
    const generation = prepared ? slot.generation : ++slot.generation;
    const abort = prepared && slot.abort ? slot.abort : new AbortController();
    slot.abort = abort;
    slot.state = "starting";
    slot.listeners = [];
    slot.detail = {};
    let instance: Service<unknown> | null = null;
    try {
      instance = prepared?.instance ?? await slot.def.create() as Service<unknown>;
      slot.instance = instance;
      await instance.start(prepared?.context ?? this.#context(slot, generation, abort));
    } catch (error) {
      slot.lastError = errorText(error);
      this.#log.error("service failed to start", { service: slot.def.name, error });
      if (instance) await this.#stopInstance(slot, instance, abort, "start-failed", 2000);
      else slot.state = "failed";
      const retry = !(error instanceof StartRefusedError);
      if (retry && slot.generation === generation && !this.#stopping) this.#scheduleRestart(slot);
      return false;
    }
    if (slot.generation !== generation) return true;
    slot.state = "running";
    slot.startedAt = Date.now();
    this.#log.debug("service running", { service: slot.def.name });
    return true;
  }

  #onCrash(slot: Slot, error: unknown): void {
    if (this.#stopping || slot.state === "stopping" || slot.state === "backoff") return;
    slot.lastError = errorText(error);
    this.#log.error("service crashed", { service: slot.def.name, error });
    const instance = slot.instance;
    const abort = slot.abort;
    slot.generation++;
    if (instance && abort) {
      void this.#stopInstance(slot, instance, abort, "restart", 2000).then(() => {
        if (!this.#stopping) this.#scheduleRestart(slot);
      });
    } else {
      this.#scheduleRestart(slot);
    }
  }

  #onDeliberateStop(slot: Slot, reason: string): void {
    if (this.#stopping || slot.state === "stopping" || slot.state === "backoff") return;
    this.#log.info("service stopped on request; it will not be restarted", {
      service: slot.def.name,
      reason,
    });
    const instance = slot.instance;
    const abort = slot.abort;
    slot.generation++;
    slot.lastError = null;
    slot.detail = { ...slot.detail, stoppedBy: reason };
    if (!instance || !abort) {
      slot.state = "stopped";
      return;
    }
    void this.#stopInstance(slot, instance, abort, "shutdown", 10_000).then(() => {
      slot.state = "stopped";
      slot.listeners = [];
    });
  }

  #scheduleRestart(slot: Slot): void {
    const base = this.#options.backoffBaseMs ?? 500;
    const max = this.#options.backoffMaxMs ?? 30_000;
    const stable = this.#options.stableAfterMs ?? 60_000;
    if (slot.startedAt !== null && Date.now() - slot.startedAt > stable) {
      slot.consecutiveFailures = 0;
    }
    const delay = Math.min(max, base * 2 ** slot.consecutiveFailures);
    slot.consecutiveFailures++;
    slot.state = "backoff";
    slot.instance = null;
    this.#log.warn("restarting service after backoff", {
      service: slot.def.name,
      delayMs: delay,
      attempt: slot.consecutiveFailures,
    });
    slot.timer = setTimeout(async () => {
      slot.timer = null;
      if (this.#stopping) return;
      slot.restarts++;
      const ok = await this.#startSlot(slot);
      if (ok) {
        this.#log.info("service restarted", { service: slot.def.name, restarts: slot.restarts });
      }
    }, delay);
  }

  async #stopSlot(slot: Slot, reason: StopReason, budgetMs: number): Promise<void> {
    const instance = slot.instance;
    const abort = slot.abort;
    slot.generation++;
    if (!instance || !abort) return;
    await this.#stopInstance(slot, instance, abort, reason, budgetMs);
    slot.state = "stopped";
  }

  async #stopInstance(
    slot: Slot,
    instance: Service<unknown>,
    abort: AbortController,
    reason: StopReason,
    budgetMs: number,
  ): Promise<void> {
    slot.state = reason === "start-failed" ? "failed" : "stopping";
    abort.abort(new Error(`service stopping: ${reason}`));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), budgetMs);
    });
    try {
      const outcome = await Promise.race([
        instance.stop(reason).then(() => "done" as const),
        timeout,
      ]);
      if (outcome === "timeout") {
        this.#log.warn("service did not stop in time", { service: slot.def.name, budgetMs });
      }
    } catch (error) {
      this.#log.warn("service stop failed", { service: slot.def.name, error });
    } finally {
      clearTimeout(timer);
    }
    if (slot.instance === instance) slot.instance = null;
    if (reason !== "start-failed") slot.state = "stopped";
  }
}
