/**
 * The dialer (quix's "server" role: the agent dials out, the control server sends requests): runs
 * one session (connection.ts) after another, reconnecting with exponential backoff and jitter, and
 * backing off much longer when the server dropped us because the same token connected elsewhere.
 * While a session is online it probes a silent link (a token re-authentication) and redials a
 * half-open one. It keeps the link status for /healthz and `ctl quix status`.
 */
import type { JsonDocument, Logger } from "../../core/mod.ts";
import { QuixAuthenticator } from "./auth.ts";
import { backoffDelay } from "./backoff.ts";
import { QuixConnection, type QuixLinkSettings, type QuixOutcome } from "./connection.ts";
import { ResentRequests } from "./dedupe.ts";
import { QuixError } from "./errors.ts";
import type { QuixHandlerTable } from "./handlers.ts";
import type { TokenState } from "./token_store.ts";

/** Where the link is. */
export type QuixLinkState =
  | "connecting"
  | "authenticating"
  | "online"
  | "backoff"
  | "stopped";

/** Options for {@linkcode QuixDialer}. */
export interface QuixDialerOptions {
  settings: QuixLinkSettings;
  password: string;
  client: Deno.HttpClient | null;
  token: JsonDocument<TokenState>;
  /** The server requests this agent answers. */
  table: QuixHandlerTable;
  log: Logger;
  /** Called after every successful authentication. */
  onOnline?: () => void;
  /** Called when the status changes. */
  onChange?: () => void;
  random?: () => number;
}

/** A snapshot for /healthz and `ctl quix status`. */
export interface QuixLinkStatus {
  state: QuixLinkState;
  url: string;
  since: number;
  connectedAt: number | null;
  attempts: number;
  superseded: number;
  lastError: string | null;
  lastClose: { code: number; reason: string } | null;
  nextRetryAt: number | null;
  authFailures: number;
  token: { present: boolean; expiresAt: number | null; valid: boolean };
  sessions: number;
}

/** One agent's link to its control server. */
export class QuixDialer {
  #o: QuixDialerOptions;
  #resent: ResentRequests;
  #auth: QuixAuthenticator;
  #state: QuixLinkState = "connecting";
  #since = Date.now();
  #conn: QuixConnection | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #attempts = 0;
  #superseded = 0;
  #authFailures = 0;
  #lastError: string | null = null;
  #lastClose: { code: number; reason: string } | null = null;
  #nextRetryAt: number | null = null;
  #connectedAt: number | null = null;
  #probing = false;
  #sessions = 0;
  #running: Promise<void> | null = null;

  constructor(options: QuixDialerOptions) {
    this.#o = options;
    this.#resent = new ResentRequests({ log: options.log });
    this.#auth = new QuixAuthenticator({
      token: options.token,
      username: options.settings.username,
      password: options.password,
      log: options.log,
    });
  }

  /** Starts dialling (in the background). */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Closes the link and stops reconnecting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    this.#conn?.end({ kind: "stopped" });
    await this.#running;
  }

  /** Whether the link is authenticated. */
  get online(): boolean {
    return this.#state === "online";
  }

  /** The current status. */
  status(): QuixLinkStatus {
    const t = this.#o.token.value;
    return {
      state: this.#state,
      url: redactUrl(this.#o.settings.server_url),
      since: this.#since,
      connectedAt: this.#connectedAt,
      attempts: this.#attempts,
      superseded: this.#superseded,
      lastError: this.#lastError,
      lastClose: this.#lastClose,
      nextRetryAt: this.#nextRetryAt,
      authFailures: this.#authFailures,
      token: {
        present: t.token !== null,
        expiresAt: t.expiresAt,
        valid: t.token !== null && (t.expiresAt === null || t.expiresAt > Date.now()),
      },
      sessions: this.#sessions,
    };
  }

  /** Sends an agent-initiated request and resolves with the reply's `msg`. Needs an online link. */
  request(req: string, msg: unknown): Promise<unknown> {
    if (this.#state !== "online" || !this.#conn) {
      return Promise.reject(new QuixError("not_authenticated", "The link is not online"));
    }
    return this.#conn.request(req, msg, this.#auth.token);
  }

  #setState(state: QuixLinkState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#since = Date.now();
    this.#o.onChange?.();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      this.#nextRetryAt = null;
      const started = Date.now();
      const outcome = await this.#session();
      if (this.#stopped || outcome.kind === "stopped") break;
      const delay = this.#backoff(outcome, started);
      this.#nextRetryAt = Date.now() + delay;
      this.#setState("backoff");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    this.#setState("stopped");
  }

  /** The delay before the next dial after `outcome`; records and logs why the link went down. */
  #backoff(outcome: Exclude<QuixOutcome, { kind: "stopped" }>, started: number): number {
    const s = this.#o.settings;
    const upFor = this.#connectedAt !== null && this.#connectedAt >= started
      ? Date.now() - this.#connectedAt
      : 0;
    const superseded = outcome.kind === "closed" && outcome.superseded;
    if (upFor >= s.stable_after_ms && upFor > 0) {
      this.#attempts = 0;
      if (!superseded) this.#superseded = 0;
    }
    let delay = backoffDelay(this.#attempts, s.backoff_base_ms, s.backoff_max_ms, this.#o.random);
    this.#attempts++;
    if (superseded) {
      const cap = Math.max(s.backoff_max_ms, s.superseded_backoff_ms * 16);
      delay = Math.max(
        delay,
        backoffDelay(this.#superseded, s.superseded_backoff_ms, cap, this.#o.random),
      );
      this.#superseded++;
    }
    if (outcome.kind === "closed") {
      this.#lastClose = { code: outcome.code, reason: outcome.reason };
      if (outcome.error) this.#lastError = outcome.error;
    } else this.#lastError = outcome.error;
    this.#logDown(outcome, delay, superseded);
    return delay;
  }

  #logDown(outcome: Exclude<QuixOutcome, { kind: "stopped" }>, delay: number, superseded: boolean) {
    const fields = { delayMs: delay, attempt: this.#attempts };
    if (superseded) {
      this.#lastError = "the same token connected elsewhere; backing off";
      this.#o.log.warn("link dropped: the same token connected elsewhere; backing off", {
        ...fields,
        superseded: this.#superseded,
        code: (outcome as { code: number }).code,
      });
    } else if (outcome.kind === "auth_failed") {
      this.#o.log.warn("authentication failed; backing off", { ...fields, error: outcome.error });
    } else {
      this.#o.log.warn("link down; reconnecting after backoff", {
        ...fields,
        ...(outcome.kind === "closed"
          ? { code: outcome.code, reason: outcome.reason }
          : { error: outcome.error }),
      });
    }
  }

  async #session(): Promise<QuixOutcome> {
    this.#setState("connecting");
    this.#sessions++;
    let heartbeat: ReturnType<typeof setInterval> | null = null;
    let conn: QuixConnection;
    try {
      conn = new QuixConnection({
        settings: this.#o.settings,
        client: this.#o.client,
        auth: this.#auth,
        table: this.#o.table,
        resent: this.#resent,
        log: this.#o.log,
        onOnline: () => this.#o.onOnline?.(),
        events: {
          authenticating: () => this.#setState("authenticating"),
          authFailed: (error, transient) => this.#authFailed(error, transient),
          online: (via) => {
            this.#wentOnline(via);
            heartbeat = this.#startHeartbeat(conn);
          },
          error: (message) => {
            this.#lastError = message;
          },
        },
      });
    } catch (error) {
      return { kind: "connect_failed", error: (error as Error).message };
    }
    this.#conn = conn;
    const outcome = await conn.run();
    if (heartbeat !== null) clearInterval(heartbeat);
    this.#conn = null;
    return outcome;
  }

  #authFailed(error: string, transient: boolean): void {
    if (!transient) this.#authFailures++;
    this.#lastError = `authentication failed: ${error}`;
  }

  #wentOnline(via: string): void {
    this.#authFailures = 0;
    this.#lastError = null;
    this.#connectedAt = Date.now();
    this.#setState("online");
    this.#o.log.info("link online", { url: redactUrl(this.#o.settings.server_url), via });
  }

  #startHeartbeat(conn: QuixConnection): ReturnType<typeof setInterval> | null {
    const s = this.#o.settings;
    const limits = [s.heartbeat_ms, s.idle_timeout_ms].filter((v) => v > 0);
    if (limits.length === 0) return null;
    const tick = Math.max(50, Math.floor(Math.min(...limits) / 3));
    return setInterval(() => {
      if (this.#conn !== conn || conn.closed) return;
      const silent = conn.silentMs;
      if (s.idle_timeout_ms > 0 && silent >= s.idle_timeout_ms) {
        this.#o.log.warn("link silent; assuming it is half-open and redialling", {
          silentMs: silent,
        });
        conn.end({
          kind: "closed",
          code: 4000,
          reason: "idle timeout",
          superseded: false,
          error: `no frame for ${silent} ms`,
        });
        return;
      }
      if (s.heartbeat_ms > 0 && silent >= s.heartbeat_ms && !this.#probing) {
        this.#probing = true;
        void conn.probe().finally(() => {
          this.#probing = false;
        });
      }
    }, tick);
  }
}

/** The URL without credentials or query (for logs). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    return u.toString();
  } catch {
    return "(invalid url)";
  }
}
