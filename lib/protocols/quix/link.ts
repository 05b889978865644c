/**
 * The link to the control server: dials it with Deno's WebSocket (a custom CA through a
 * `Deno.HttpClient`), authenticates (saved token first, the password once when the token is
 * rejected or expired), routes frames (server requests to the dispatcher, replies to our own
 * pending requests), probes a silent link and redials a half-open one, and reconnects with
 * exponential backoff and jitter, backing off much longer when the server dropped us because the
 * same token connected elsewhere.
 */
import type { JsonDocument, Logger } from "../../core/mod.ts";
import { backoffDelay } from "./backoff.ts";
import type { Dispatcher, Reply } from "./dispatcher.ts";
import { errorBody, QuixError } from "./errors.ts";
import { authReplySchema, type Frame, frameSchema, type Rid } from "./schemas.ts";
import type { TokenState } from "./token_store.ts";

/** Where the link is. */
export type LinkState =
  | "connecting"
  | "authenticating"
  | "online"
  | "backoff"
  | "stopped";

/** Link settings (a subset of the `[quix]` section). */
export interface LinkSettings {
  server_url: string;
  username: string;
  backoff_base_ms: number;
  backoff_max_ms: number;
  superseded_backoff_ms: number;
  stable_after_ms: number;
  connect_timeout_ms: number;
  request_timeout_ms: number;
  heartbeat_ms: number;
  idle_timeout_ms: number;
  max_frame_bytes: number;
}

/** Options for {@linkcode QuixLink}. */
export interface LinkOptions {
  settings: LinkSettings;
  password: string;
  client: Deno.HttpClient | null;
  token: JsonDocument<TokenState>;
  dispatcher: Dispatcher;
  log: Logger;
  /** Called after every successful authentication. */
  onOnline?: () => void;
  /** Called when the status changes. */
  onChange?: () => void;
  random?: () => number;
}

/** A snapshot for /healthz and `ctl quix status`. */
export interface LinkStatus {
  state: LinkState;
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

type Outcome =
  | { kind: "connect_failed"; error: string }
  | { kind: "auth_failed"; error: string }
  | { kind: "closed"; code: number; reason: string; superseded: boolean; error?: string }
  | { kind: "stopped" };

interface Pending {
  resolve: (msg: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const SUPERSEDED = /elsewhere|supersed|replaced|token_in_use|duplicate/i;

/** Close codes the server uses for "this token connected elsewhere". */
export const SUPERSEDED_CLOSE_CODE = 4409;

class LinkClosedError extends Error {
  constructor() {
    super("Link closed");
    this.name = "LinkClosedError";
  }
}

/** One agent's link to its control server. */
export class QuixLink {
  #o: LinkOptions;
  #state: LinkState = "connecting";
  #since = Date.now();
  #ws: WebSocket | null = null;
  #pending = new Map<string, Pending>();
  #stopped = false;
  #wake: (() => void) | null = null;
  #endSession: ((o: Outcome) => void) | null = null;
  #attempts = 0;
  #superseded = 0;
  #authFailures = 0;
  #lastError: string | null = null;
  #lastClose: { code: number; reason: string } | null = null;
  #nextRetryAt: number | null = null;
  #connectedAt: number | null = null;
  #lastRx = 0;
  #probing = false;
  #sessions = 0;
  #running: Promise<void> | null = null;
  /** Requests that arrived while authenticating. */
  #early: Frame[] = [];

  constructor(options: LinkOptions) {
    this.#o = options;
  }

  /** Starts dialling (in the background). */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Closes the link and stops reconnecting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    this.#endSession?.({ kind: "stopped" });
    await this.#running;
  }

  /** Whether the link is authenticated. */
  get online(): boolean {
    return this.#state === "online";
  }

  /** The current status. */
  status(): LinkStatus {
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
    if (this.#state !== "online") {
      return Promise.reject(new QuixError("not_authenticated", "The link is not online"));
    }
    return this.#request(req, msg, this.#o.token.value.token);
  }

  #setState(state: LinkState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#since = Date.now();
    this.#o.onChange?.();
  }

  async #run(): Promise<void> {
    const s = this.#o.settings;
    while (!this.#stopped) {
      this.#nextRetryAt = null;
      const started = Date.now();
      const outcome = await this.#session();
      if (this.#stopped || outcome.kind === "stopped") break;
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

  async #session(): Promise<Outcome> {
    const s = this.#o.settings;
    this.#setState("connecting");
    this.#sessions++;
    const ended = Promise.withResolvers<Outcome>();
    let done = false;
    const end = (o: Outcome) => {
      if (done) return;
      done = true;
      ended.resolve(o);
    };
    this.#endSession = end;
    let ws: WebSocket;
    try {
      ws = this.#o.client
        ? new WebSocket(s.server_url, { client: this.#o.client })
        : new WebSocket(s.server_url);
    } catch (error) {
      this.#endSession = null;
      return { kind: "connect_failed", error: (error as Error).message };
    }
    this.#ws = ws;
    let opened = false;
    const opening = Promise.withResolvers<void>();
    const connectTimer = setTimeout(
      () =>
        end({
          kind: "connect_failed",
          error: `connect timed out after ${s.connect_timeout_ms} ms`,
        }),
      s.connect_timeout_ms,
    );
    ws.onopen = () => {
      opened = true;
      clearTimeout(connectTimer);
      opening.resolve();
    };
    ws.onerror = (event) => {
      const message = (event as ErrorEvent).message ?? "WebSocket error";
      if (!opened) end({ kind: "connect_failed", error: message });
      else this.#lastError = message;
    };
    ws.onclose = (event) => {
      if (!opened) {
        end({ kind: "connect_failed", error: `closed before open (${event.code})` });
        return;
      }
      end({
        kind: "closed",
        code: event.code,
        reason: event.reason,
        superseded: event.code === SUPERSEDED_CLOSE_CODE || SUPERSEDED.test(event.reason),
      });
    };
    ws.onmessage = (event) => {
      if (this.#ws !== ws) return;
      this.#lastRx = Date.now();
      this.#onFrame(ws, event.data);
    };
    let heartbeat: ReturnType<typeof setInterval> | null = null;
    const result = await Promise.race([
      ended.promise,
      opening.promise.then(async (): Promise<Outcome | null> => {
        this.#lastRx = Date.now();
        this.#setState("authenticating");
        const auth = await this.#authenticate().catch((error: Error) => ({
          ok: false as const,
          error: error.message,
          transient: error instanceof LinkClosedError,
        }));
        if (done) return null;
        if (!auth.ok) {
          if (!("transient" in auth && auth.transient)) this.#authFailures++;
          this.#lastError = `authentication failed: ${auth.error}`;
          return { kind: "auth_failed", error: auth.error };
        }
        this.#authFailures = 0;
        this.#lastError = null;
        this.#connectedAt = Date.now();
        this.#setState("online");
        this.#o.log.info("link online", { url: redactUrl(s.server_url), via: auth.via });
        heartbeat = this.#startHeartbeat(ws, end);
        for (const frame of this.#early.splice(0)) this.#dispatch(ws, frame);
        this.#o.onOnline?.();
        return null;
      }),
    ]);
    const outcome = result ?? await ended.promise;
    done = true;
    clearTimeout(connectTimer);
    if (heartbeat !== null) clearInterval(heartbeat);
    this.#endSession = null;
    this.#ws = null;
    for (const frame of this.#early.splice(0)) {
      this.#send(ws, {
        rid: frame.rid ?? null,
        msg: errorBody(new QuixError("not_authenticated", "Authentication did not complete")),
      });
    }
    for (const [key, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new LinkClosedError());
      this.#pending.delete(key);
    }
    try {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        ws.close(1000, outcome.kind === "stopped" ? "agent stopping" : "reconnecting");
      }
    } catch {
      // already closing
    }
    return outcome;
  }

  #startHeartbeat(ws: WebSocket, end: (o: Outcome) => void): ReturnType<typeof setInterval> | null {
    const s = this.#o.settings;
    const limits = [s.heartbeat_ms, s.idle_timeout_ms].filter((v) => v > 0);
    if (limits.length === 0) return null;
    const tick = Math.max(50, Math.floor(Math.min(...limits) / 3));
    return setInterval(() => {
      if (this.#ws !== ws) return;
      const silent = Date.now() - this.#lastRx;
      if (s.idle_timeout_ms > 0 && silent >= s.idle_timeout_ms) {
        this.#o.log.warn("link silent; assuming it is half-open and redialling", {
          silentMs: silent,
        });
        end({
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
        void this.#probe(end).finally(() => {
          this.#probing = false;
        });
      }
    }, tick);
  }

  /** A token re-authentication on the open link: proves the link and refreshes the validity. */
  async #probe(end: (o: Outcome) => void): Promise<void> {
    const token = this.#o.token.value.token;
    if (!token) return;
    try {
      const reply = authReplySchema.safeParse(await this.#request("authenticate", {}, token));
      if (!reply.success) return;
      if (reply.data.success) {
        await this.#saveValidity(token, reply.data.validity);
      } else {
        this.#o.log.warn("token rejected on a live link; reconnecting", {
          reason: reply.data.reason,
        });
        await this.#o.token.write({ token: null, expiresAt: null, obtainedAt: null });
        end({ kind: "closed", code: 4001, reason: "token rejected", superseded: false });
      }
    } catch {
      // timeouts are handled by the idle check
    }
  }

  async #saveValidity(token: string, validity: number | undefined): Promise<void> {
    const prev = this.#o.token.value;
    await this.#o.token.write({
      token,
      expiresAt: validity === undefined ? prev.expiresAt : Date.now() + validity * 1000,
      obtainedAt: prev.obtainedAt ?? Date.now(),
    });
  }

  async #authenticate(): Promise<{ ok: true; via: string } | { ok: false; error: string }> {
    const s = this.#o.settings;
    const saved = this.#o.token.value;
    if (saved.token && (saved.expiresAt === null || saved.expiresAt > Date.now() + 1000)) {
      const parsed = authReplySchema.safeParse(
        await this.#request("authenticate", {}, saved.token),
      );
      if (parsed.success && parsed.data.success) {
        await this.#saveValidity(saved.token, parsed.data.validity);
        return { ok: true, via: "token" };
      }
      const reason = parsed.success ? parsed.data.reason ?? "rejected" : "malformed reply";
      this.#o.log.warn("saved token rejected; falling back to the password", { reason });
      await this.#o.token.write({ token: null, expiresAt: null, obtainedAt: null });
    } else if (saved.token) {
      this.#o.log.info("saved token expired; authenticating with the password");
      await this.#o.token.write({ token: null, expiresAt: null, obtainedAt: null });
    }
    if (!s.username || !this.#o.password) {
      return { ok: false, error: "no saved token and no username/password configured" };
    }
    const parsed = authReplySchema.safeParse(
      await this.#request(
        "authenticate",
        { username: s.username, password: this.#o.password },
        null,
      ),
    );
    if (!parsed.success) return { ok: false, error: "malformed authenticate reply" };
    if (!parsed.data.success || !parsed.data.token) {
      return { ok: false, error: parsed.data.reason ?? "rejected" };
    }
    const validity = parsed.data.validity ?? 86_400;
    await this.#o.token.write({
      token: parsed.data.token,
      expiresAt: Date.now() + validity * 1000,
      obtainedAt: Date.now(),
    });
    this.#o.log.info("authenticated with the password; token saved", { validitySec: validity });
    return { ok: true, via: "password" };
  }

  #request(req: string, msg: unknown, auth: string | null): Promise<unknown> {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new LinkClosedError());
    let rid: number;
    do rid = 10000 + Math.floor(Math.random() * 90000); while (this.#pending.has(ridKey(rid)));
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const timer = setTimeout(() => {
      this.#pending.delete(ridKey(rid));
      reject(
        new QuixError(
          "internal_error",
          `No reply to "${req}" within ${this.#o.settings.request_timeout_ms} ms`,
        ),
      );
    }, this.#o.settings.request_timeout_ms);
    this.#pending.set(ridKey(rid), { resolve, reject, timer });
    ws.send(JSON.stringify({ auth, req, rid, msg }));
    return promise;
  }

  #send(ws: WebSocket, reply: Reply): void {
    if (ws.readyState !== WebSocket.OPEN) {
      this.#o.log.warn("reply not sent: link closed", { rid: reply.rid });
      return;
    }
    ws.send(JSON.stringify(reply));
  }

  #onFrame(ws: WebSocket, data: unknown): void {
    const log = this.#o.log;
    if (typeof data !== "string") {
      log.warn("binary frame refused");
      this.#send(ws, {
        rid: null,
        msg: errorBody(new QuixError("bad_request", "Binary frames are not accepted")),
      });
      return;
    }
    if (data.length > this.#o.settings.max_frame_bytes) {
      log.warn("oversized frame refused", { bytes: data.length });
      this.#send(ws, {
        rid: null,
        msg: errorBody(
          new QuixError(
            "bad_request",
            `Frame larger than ${this.#o.settings.max_frame_bytes} bytes`,
          ),
        ),
      });
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      log.warn("malformed frame (not JSON)", { head: data.slice(0, 80) });
      this.#send(ws, {
        rid: null,
        msg: errorBody(new QuixError("bad_request", "Frame is not JSON")),
      });
      return;
    }
    const parsed = frameSchema.safeParse(raw);
    if (!parsed.success || typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      const issue = parsed.success ? null : parsed.error.issues[0];
      const field = issue ? issue.path.map(String).join(".") || "frame" : "frame";
      const rawRid = (raw as { rid?: unknown } | null)?.rid;
      log.warn("malformed frame", { field });
      this.#send(ws, {
        rid: typeof rawRid === "number" || typeof rawRid === "string" ? rawRid : null,
        msg: errorBody(
          new QuixError("bad_request", `${field}: ${issue?.message ?? "expected an object"}`),
        ),
      });
      return;
    }
    const frame: Frame = parsed.data;
    if (frame.req === undefined) {
      const pending = frame.rid !== undefined ? this.#pending.get(ridKey(frame.rid)) : undefined;
      if (pending) {
        clearTimeout(pending.timer);
        this.#pending.delete(ridKey(frame.rid!));
        pending.resolve(frame.msg);
      } else if (frame.rid === undefined) {
        log.warn("frame without req or rid");
        this.#send(ws, {
          rid: null,
          msg: errorBody(new QuixError("bad_request", "req: required")),
        });
      } else {
        log.warn("reply to no pending request ignored", { rid: frame.rid });
      }
      return;
    }
    if (this.#state === "authenticating" && this.#early.length < 256) {
      // The server may send requests right after its auth reply, before the token is saved.
      this.#early.push(frame);
      return;
    }
    if (this.#state !== "online") {
      this.#send(ws, {
        rid: frame.rid ?? null,
        msg: errorBody(
          new QuixError("not_authenticated", "Request before authentication completed"),
        ),
      });
      return;
    }
    this.#dispatch(ws, frame);
  }

  #dispatch(ws: WebSocket, frame: Frame): void {
    const log = this.#o.log;
    void this.#o.dispatcher.handle(frame).then((reply) => this.#send(ws, reply)).catch((error) => {
      log.error("dispatch failed", { error });
    });
  }
}

function ridKey(rid: Rid): string {
  return typeof rid === "number" ? `n${rid}` : `s${rid}`;
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
