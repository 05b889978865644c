/**
 * Limits against abuse, shared by every listener: a config fragment (`[<service>.limits]`), a
 * connection gate counting per listener and per client address, a frame deadline (the first
 * complete frame within `frame_timeout_ms` of connecting, every later frame within
 * `frame_timeout_ms` of its first byte: slowloris clients are closed), an idle timeout, and
 * refusal counters. Refusals are counted per listener and reason, shown in `/metrics` (the
 * supervisor appends {@linkcode listenerLimitsMetrics}) and logged at most once per
 * `log_interval_ms` per listener (a summary of what was refused since the last line).
 *
 * At a cap the longest-idle connection with nothing running is closed to make room ("evicted"),
 * so a crowd of idle or slow clients cannot lock real clients out; only when every connection is
 * busy is the new one refused. One timer per listener sweeps its connections (no timer per
 * connection), so an idle connection costs one small record here.
 */
import { z } from "zod";
import type { Logger } from "./log.ts";
import { flag, millis, wholeNumber } from "./config_types.ts";

/** The parsed `[<service>.limits]` table. */
export interface LimitsConfig {
  /** Concurrent connections on each listener of the service. */
  max_connections: number;
  /** Concurrent connections from one client address (TCP listeners); 0 = no cap. */
  max_per_peer: number;
  /** Deadline for the first complete frame (or request head) and for finishing a started one; 0 = off. */
  frame_timeout_ms: number;
  /** A connection with nothing in flight that sends nothing for this long is closed; 0 = off. */
  idle_timeout_ms: number;
  /** Refusals are logged at most once per this interval per listener. */
  log_interval_ms: number;
  /** At a cap, close the longest idle connection to make room instead of refusing the new one. */
  evict_idle: boolean;
}

/** The defaults every service starts from (a service may change some, see {@linkcode limitsSchema}). */
export const DEFAULT_LIMITS: Readonly<LimitsConfig> = {
  max_connections: 1024,
  max_per_peer: 256,
  frame_timeout_ms: 10_000,
  idle_timeout_ms: 600_000,
  log_interval_ms: 10_000,
  evict_idle: true,
};

/** The `limits` table of a service section, with `defaults` over {@linkcode DEFAULT_LIMITS}. */
export function limitsSchema(defaults: Partial<LimitsConfig> = {}) {
  const d = { ...DEFAULT_LIMITS, ...defaults };
  return z.strictObject({
    max_connections: wholeNumber(1, 1_000_000).default(d.max_connections),
    max_per_peer: wholeNumber(0, 1_000_000).default(d.max_per_peer),
    frame_timeout_ms: millis(0, 3_600_000).default(d.frame_timeout_ms),
    idle_timeout_ms: millis(0, 86_400_000).default(d.idle_timeout_ms),
    log_interval_ms: millis(100, 3_600_000).default(d.log_interval_ms),
    evict_idle: flag().default(d.evict_idle),
  }).prefault({} as never);
}

/** Why a connection or message was refused or closed. */
export type RefusalReason =
  | "connections"
  | "per_peer"
  | "frame_timeout"
  | "idle_timeout"
  | "evicted"
  | "oversize"
  | "in_flight";

/** Why the limits close a connection they admitted. */
export type ExpiryReason = "frame_timeout" | "idle_timeout" | "evicted";

/**
 * A connection admitted by {@linkcode ListenerLimits.admit}: its slot and its deadlines. The
 * protocol tells it what arrives; the limits call `expire` once when the connection has to go.
 */
export interface AdmittedConnection {
  /**
   * Bytes arrived: `completed` frames were finished by them, `pending` says whether an unfinished
   * frame is left in the buffer.
   */
  received(completed: number, pending: boolean): void;
  /** Something was sent or received outside frames (resets the idle clock). */
  touch(): void;
  /** Requests now running on the connection (idle timeout and eviction wait while any runs). */
  busy(running: number): void;
  /**
   * A session meant to stay open while quiet (an upgraded WebSocket, whose dead peers the ping
   * finds): no idle timeout from now on; at a cap it can still be evicted, longest quiet first.
   */
  longLived(): void;
  /** The connection ended: gives the slot back and stops the deadlines (idempotent). */
  release(): void;
}

/** Options of {@linkcode ListenerLimits.admit}. */
export interface AdmitOptions {
  /** A cap smaller than `max_connections` (an older per-service key). */
  cap?: number;
  /** Closes the connection in the protocol's form; called at most once. */
  expire(reason: ExpiryReason): void;
}

interface Entry {
  peer: string | null;
  /** When the frame being waited for began (connect time for the first), or -1. */
  frameSince: number;
  lastActivity: number;
  running: number;
  released: boolean;
  longLived: boolean;
  expire: (reason: ExpiryReason) => void;
}

const registry = new Set<ListenerLimits>();

/** Connection gate, deadlines and refusal counters of one listener. */
export class ListenerLimits {
  readonly service: string;
  readonly listener: string;
  readonly config: LimitsConfig;
  readonly #log: Logger;
  #entries = new Set<Entry>();
  #perPeer = new Map<string, number>();
  #refused = new Map<RefusalReason, number>();
  #unlogged = new Map<RefusalReason, number>();
  #lastLog = -Infinity;
  #logTimer: ReturnType<typeof setTimeout> | undefined;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  /** `config` may be partial or absent (a section built by hand, not parsed): defaults fill it. */
  constructor(
    service: string,
    listener: string,
    config: Partial<LimitsConfig> | undefined,
    log: Logger,
  ) {
    this.service = service;
    this.listener = listener;
    this.config = { ...DEFAULT_LIMITS, ...config };
    this.#log = log;
    registry.add(this);
  }

  /** Open connections. */
  get open(): number {
    return this.#entries.size;
  }

  /** Refusals so far, by reason. */
  refusals(): Record<string, number> {
    return Object.fromEntries(this.#refused);
  }

  /**
   * Takes a connection slot for a client at `peer` (null: no per-address cap, as on Unix
   * sockets). At a cap, the connection that has been idle longest with no request running (an
   * idle keep-alive connection, a client still dribbling its first frame) is closed to make room,
   * as nginx reuses idle keep-alive connections; when there is none the new one is refused: the
   * refusal is counted and logged, and the caller answers it in the protocol's form.
   */
  admit(peer: string | null, options: AdmitOptions): AdmittedConnection | {
    refused: RefusalReason;
  } {
    const cap = Math.min(options.cap ?? Infinity, this.config.max_connections);
    const perPeer = this.config.max_per_peer;
    if (this.#entries.size >= cap && !this.#evict(null)) {
      this.refuse("connections");
      return { refused: "connections" };
    }
    if (
      peer !== null && perPeer > 0 && (this.#perPeer.get(peer) ?? 0) >= perPeer &&
      !this.#evict(peer)
    ) {
      this.refuse("per_peer");
      return { refused: "per_peer" };
    }
    const now = performance.now();
    const entry: Entry = {
      peer,
      frameSince: now,
      lastActivity: now,
      running: 0,
      released: false,
      longLived: false,
      expire: options.expire,
    };
    this.#entries.add(entry);
    if (peer !== null) this.#perPeer.set(peer, (this.#perPeer.get(peer) ?? 0) + 1);
    if (this.config.frame_timeout_ms > 0 || this.config.idle_timeout_ms > 0) this.#startSweeper();
    return {
      received: (completed, pending) => {
        const t = performance.now();
        entry.lastActivity = t;
        if (!pending) entry.frameSince = -1;
        else if (completed > 0 || entry.frameSince < 0) entry.frameSince = t;
      },
      touch: () => {
        entry.lastActivity = performance.now();
      },
      busy: (running) => {
        entry.running = running;
        entry.lastActivity = performance.now();
      },
      longLived: () => {
        entry.longLived = true;
        entry.frameSince = -1;
      },
      release: () => this.#release(entry),
    };
  }

  #release(entry: Entry): void {
    if (entry.released) return;
    entry.released = true;
    this.#entries.delete(entry);
    if (entry.peer !== null) {
      const left = (this.#perPeer.get(entry.peer) ?? 1) - 1;
      if (left <= 0) this.#perPeer.delete(entry.peer);
      else this.#perPeer.set(entry.peer, left);
    }
    if (this.#entries.size === 0) this.#stopSweeper();
  }

  /** Closes the longest idle connection with nothing running (of `peer` when given). */
  #evict(peer: string | null): boolean {
    if (!this.config.evict_idle) return false;
    let oldest: Entry | null = null;
    for (const e of this.#entries) {
      if (e.running > 0 || (peer !== null && e.peer !== peer)) continue;
      if (oldest === null || e.lastActivity < oldest.lastActivity) oldest = e;
    }
    if (oldest === null) return false;
    this.#close(oldest, "evicted");
    return true;
  }

  #close(entry: Entry, reason: ExpiryReason): void {
    this.#release(entry);
    this.refuse(reason);
    try {
      entry.expire(reason);
    } catch (error) {
      this.#log.debug("closing a connection failed", { error });
    }
  }

  /** Counts a refusal and logs it (at most one line per interval, summing the others). */
  refuse(reason: RefusalReason): void {
    this.#refused.set(reason, (this.#refused.get(reason) ?? 0) + 1);
    this.#unlogged.set(reason, (this.#unlogged.get(reason) ?? 0) + 1);
    const wait = this.#lastLog + this.config.log_interval_ms - performance.now();
    if (wait <= 0) this.#flushLog();
    else if (this.#logTimer === undefined) {
      this.#logTimer = setTimeout(() => this.#flushLog(), wait);
      Deno.unrefTimer(this.#logTimer as unknown as number);
    }
  }

  #flushLog(): void {
    this.#logTimer = undefined;
    if (this.#unlogged.size === 0) return;
    this.#lastLog = performance.now();
    const refused = Object.fromEntries(this.#unlogged);
    this.#unlogged.clear();
    this.#log.warn("listener limits refused or closed clients", {
      listener: this.listener,
      refused,
      open: this.#entries.size,
      max_connections: this.config.max_connections,
    });
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    const shortest = Math.min(
      ...[this.config.frame_timeout_ms, this.config.idle_timeout_ms].filter((ms) => ms > 0),
    );
    const period = Math.max(25, Math.min(1000, Math.floor(shortest / 4)));
    this.#sweeper = setInterval(() => this.#sweep(), period);
    Deno.unrefTimer(this.#sweeper as unknown as number);
  }

  #stopSweeper(): void {
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #sweep(): void {
    const now = performance.now();
    const frameMs = this.config.frame_timeout_ms;
    const idleMs = this.config.idle_timeout_ms;
    for (const entry of this.#entries) {
      if (frameMs > 0 && entry.frameSince >= 0 && now - entry.frameSince > frameMs) {
        this.#close(entry, "frame_timeout");
      } else if (
        idleMs > 0 && entry.running === 0 && entry.frameSince < 0 && !entry.longLived &&
        now - entry.lastActivity > idleMs
      ) this.#close(entry, "idle_timeout");
    }
  }

  /** Stops the timers and drops the listener from `/metrics` (admitted connections stay open). */
  close(): void {
    this.#stopSweeper();
    clearTimeout(this.#logTimer);
    this.#logTimer = undefined;
    this.#flushLog();
    this.#entries.clear();
    this.#perPeer.clear();
    registry.delete(this);
  }
}

function label(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** Prometheus lines for every open listener's limits (connections, refusals by reason). */
export function listenerLimitsMetrics(): string {
  if (registry.size === 0) return "";
  let open = "# HELP polyagent_listener_connections Open connections per listener.\n" +
    "# TYPE polyagent_listener_connections gauge\n";
  let refused = "# HELP polyagent_listener_refused_total Connections or messages refused or " +
    "closed by the listener limits, by reason.\n# TYPE polyagent_listener_refused_total counter\n";
  for (const l of registry) {
    const labels = `service="${label(l.service)}",listener="${label(l.listener)}"`;
    open += `polyagent_listener_connections{${labels}} ${l.open}\n`;
    for (const [reason, n] of Object.entries(l.refusals())) {
      refused += `polyagent_listener_refused_total{${labels},reason="${reason}"} ${n}\n`;
    }
  }
  return open + refused;
}
