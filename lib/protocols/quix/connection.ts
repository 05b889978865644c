/**
 * One session with the control server, from dial to close: opens Deno's WebSocket (a custom CA
 * through a `Deno.HttpClient`) within `connect_timeout_ms`, authenticates (auth.ts: saved token
 * first, the password once when the token is rejected or expired), then serves frames: each text frame is
 * size-checked and parsed with `schemas.ts`; a reply resolves our pending request with that
 * `rid`; a server request is looked up in the handler table, run (a resent state-changing one is
 * answered from `dedupe.ts`), and its reply or mapped error sent back with the same `rid`.
 * Reconnecting and the heartbeat are the dialer's (server.ts).
 */
import type { Logger } from "../../core/mod.ts";
import type { QuixAuthenticator, QuixAuthResult, QuixRequester } from "./auth.ts";
import type { QuixConfig } from "./config.ts";
import type { ResentRequests } from "./dedupe.ts";
import { errorBody, QuixError } from "./errors.ts";
import type { QuixHandlerTable } from "./handlers.ts";
import { type Frame, frameSchema, type QuixReply, type Rid } from "./schemas.ts";

/** Link settings (a subset of the `[quix]` section). */
export type QuixLinkSettings = Pick<
  QuixConfig,
  | "server_url"
  | "username"
  | "backoff_base_ms"
  | "backoff_max_ms"
  | "superseded_backoff_ms"
  | "stable_after_ms"
  | "connect_timeout_ms"
  | "request_timeout_ms"
  | "heartbeat_ms"
  | "idle_timeout_ms"
  | "max_frame_bytes"
>;

/** How a session ended. */
export type QuixOutcome =
  | { kind: "connect_failed"; error: string }
  | { kind: "auth_failed"; error: string }
  | { kind: "closed"; code: number; reason: string; superseded: boolean; error?: string }
  | { kind: "stopped" };

/** What the dialer hears from a session. */
export interface QuixConnectionEvents {
  /** The socket is open; authentication starts. */
  authenticating(): void;
  /** Authentication failed; `transient` when the link dropped meanwhile. */
  authFailed(error: string, transient: boolean): void;
  /** Authenticated: requests are served from now on. */
  online(via: "token" | "password"): void;
  /** A socket error after open (the close that follows ends the session). */
  error(message: string): void;
}

/** Options for {@linkcode QuixConnection}. */
export interface QuixConnectionOptions {
  settings: QuixLinkSettings;
  client: Deno.HttpClient | null;
  /** Authenticates the session (saved token, password) and probes it. */
  auth: QuixAuthenticator;
  table: QuixHandlerTable;
  resent: ResentRequests;
  log: Logger;
  events: QuixConnectionEvents;
  /** Called after authentication, once the requests that arrived meanwhile are dispatched. */
  onOnline?: () => void;
}

interface Pending {
  resolve: (msg: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const SUPERSEDED = /elsewhere|supersed|replaced|token_in_use|duplicate/i;

/** Close codes the server uses for "this token connected elsewhere". */
export const SUPERSEDED_CLOSE_CODE = 4409;

/** The session ended while a request of ours waited for its reply. */
class LinkClosedError extends Error {
  constructor() {
    super("Link closed");
    this.name = "LinkClosedError";
  }
}

/** One WebSocket session with the control server. */
export class QuixConnection {
  #o: QuixConnectionOptions;
  #ws: WebSocket;
  #phase: "opening" | "authenticating" | "online" = "opening";
  #pending = new Map<string, Pending>();
  /** Requests that arrived while authenticating. */
  #early: Frame[] = [];
  #opening = Promise.withResolvers<void>();
  #ended = Promise.withResolvers<QuixOutcome>();
  #opened = false;
  #done = false;
  #closed = false;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #lastRx = 0;

  /** Dials; throws when the URL or client is refused at once. */
  constructor(options: QuixConnectionOptions) {
    this.#o = options;
    const url = options.settings.server_url;
    this.#ws = options.client ? new WebSocket(url, { client: options.client }) : new WebSocket(url);
    this.#listen();
  }

  /** Ms since the last frame arrived. */
  get silentMs(): number {
    return Date.now() - this.#lastRx;
  }

  /** Whether the session has finished (its socket is closed or closing). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Ends the session with `outcome`; the first call wins. */
  end(outcome: QuixOutcome): void {
    if (this.#done) return;
    this.#done = true;
    this.#ended.resolve(outcome);
  }

  /** Runs the session: open within `connect_timeout_ms`, authenticate, serve until it ends. */
  async run(): Promise<QuixOutcome> {
    const timeout = this.#o.settings.connect_timeout_ms;
    this.#connectTimer = setTimeout(
      () => this.end({ kind: "connect_failed", error: `connect timed out after ${timeout} ms` }),
      timeout,
    );
    const result = await Promise.race([
      this.#ended.promise,
      this.#opening.promise.then(() => this.#authenticateAndServe()),
    ]);
    const outcome = result ?? await this.#ended.promise;
    this.#done = true;
    clearTimeout(this.#connectTimer);
    this.#close(outcome);
    return outcome;
  }

  /** Sends a request of ours and resolves with the reply's `msg`. */
  request(req: string, msg: unknown, auth: string | null): Promise<unknown> {
    const ws = this.#ws;
    if (this.#closed || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new LinkClosedError());
    }
    let rid: number;
    do rid = 10000 + Math.floor(Math.random() * 90000); while (this.#pending.has(ridKey(rid)));
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const timeout = this.#o.settings.request_timeout_ms;
    const timer = setTimeout(() => {
      this.#pending.delete(ridKey(rid));
      reject(new QuixError("internal_error", `No reply to "${req}" within ${timeout} ms`));
    }, timeout);
    this.#pending.set(ridKey(rid), { resolve, reject, timer });
    ws.send(JSON.stringify({ auth, req, rid, msg }));
    return promise;
  }

  /** A token re-authentication on the open link: proves the link and refreshes the validity. */
  async probe(): Promise<void> {
    try {
      const result = await this.#o.auth.probe((req, msg, auth) => this.request(req, msg, auth));
      if (result === "rejected") {
        this.end({ kind: "closed", code: 4001, reason: "token rejected", superseded: false });
      }
    } catch {
      // timeouts are handled by the idle check
    }
  }

  #listen(): void {
    const ws = this.#ws;
    ws.onopen = () => {
      this.#opened = true;
      clearTimeout(this.#connectTimer);
      this.#opening.resolve();
    };
    ws.onerror = (event) => {
      const message = (event as ErrorEvent).message ?? "WebSocket error";
      if (!this.#opened) this.end({ kind: "connect_failed", error: message });
      else this.#o.events.error(message);
    };
    ws.onclose = (event) => {
      if (!this.#opened) {
        this.end({ kind: "connect_failed", error: `closed before open (${event.code})` });
        return;
      }
      this.end({
        kind: "closed",
        code: event.code,
        reason: event.reason,
        superseded: event.code === SUPERSEDED_CLOSE_CODE || SUPERSEDED.test(event.reason),
      });
    };
    ws.onmessage = (event) => {
      if (this.#closed) return;
      this.#lastRx = Date.now();
      const frame = this.#decode(event.data);
      if (frame) this.#route(frame);
    };
  }

  async #authenticateAndServe(): Promise<QuixOutcome | null> {
    this.#lastRx = Date.now();
    this.#phase = "authenticating";
    this.#o.events.authenticating();
    const request: QuixRequester = (req, msg, auth) => this.request(req, msg, auth);
    const auth: QuixAuthResult = await this.#o.auth.authenticate(request).catch((error: Error) => ({
      ok: false as const,
      error: error.message,
      transient: error instanceof LinkClosedError,
    }));
    if (this.#done) return null;
    if (!auth.ok) {
      this.#o.events.authFailed(auth.error, auth.transient ?? false);
      return { kind: "auth_failed", error: auth.error };
    }
    this.#phase = "online";
    this.#o.events.online(auth.via);
    for (const frame of this.#early.splice(0)) this.#dispatch(frame);
    this.#o.onOnline?.();
    return null;
  }

  #close(outcome: QuixOutcome): void {
    this.#closed = true;
    for (const frame of this.#early.splice(0)) {
      this.#send({
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
      const ws = this.#ws;
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) {
        ws.close(1000, outcome.kind === "stopped" ? "agent stopping" : "reconnecting");
      }
    } catch {
      // already closing
    }
  }

  #send(reply: QuixReply): void {
    if (this.#ws.readyState !== WebSocket.OPEN) {
      this.#o.log.warn("reply not sent: link closed", { rid: reply.rid });
      return;
    }
    this.#ws.send(JSON.stringify(reply));
  }

  #refuse(rid: Rid | null, reason: "bad_request" | "not_authenticated", detail: string): void {
    this.#send({ rid, msg: errorBody(new QuixError(reason, detail)) });
  }

  /** The frame in `data`, or null when it was refused (the refusal is sent). */
  #decode(data: unknown): Frame | null {
    const log = this.#o.log;
    const max = this.#o.settings.max_frame_bytes;
    if (typeof data !== "string") {
      log.warn("binary frame refused");
      this.#refuse(null, "bad_request", "Binary frames are not accepted");
      return null;
    }
    if (data.length > max) {
      log.warn("oversized frame refused", { bytes: data.length });
      this.#refuse(null, "bad_request", `Frame larger than ${max} bytes`);
      return null;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      log.warn("malformed frame (not JSON)", { head: data.slice(0, 80) });
      this.#refuse(null, "bad_request", "Frame is not JSON");
      return null;
    }
    const parsed = frameSchema.safeParse(raw);
    if (!parsed.success || typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      const issue = parsed.success ? null : parsed.error.issues[0];
      const field = issue ? issue.path.map(String).join(".") || "frame" : "frame";
      const rawRid = (raw as { rid?: unknown } | null)?.rid;
      log.warn("malformed frame", { field });
      const rid = typeof rawRid === "number" || typeof rawRid === "string" ? rawRid : null;
      this.#refuse(rid, "bad_request", `${field}: ${issue?.message ?? "expected an object"}`);
      return null;
    }
    return parsed.data;
  }

  /** A reply resolves our pending request; a request is dispatched once authenticated. */
  #route(frame: Frame): void {
    if (frame.req === undefined) {
      const pending = frame.rid !== undefined ? this.#pending.get(ridKey(frame.rid)) : undefined;
      if (pending) {
        clearTimeout(pending.timer);
        this.#pending.delete(ridKey(frame.rid!));
        pending.resolve(frame.msg);
      } else if (frame.rid === undefined) {
        this.#o.log.warn("frame without req or rid");
        this.#refuse(null, "bad_request", "req: required");
      } else {
        this.#o.log.warn("reply to no pending request ignored", { rid: frame.rid });
      }
      return;
    }
    if (this.#phase === "authenticating" && this.#early.length < 256) {
      // The server may send requests right after its auth reply, before the token is saved.
      this.#early.push(frame);
      return;
    }
    if (this.#phase !== "online") {
      const detail = "Request before authentication completed";
      this.#refuse(frame.rid ?? null, "not_authenticated", detail);
      return;
    }
    this.#dispatch(frame);
  }

  #dispatch(frame: Frame): void {
    const { table, resent, log } = this.#o;
    void answerQuixRequest(frame, table, resent, log).then((reply) => this.#send(reply))
      .catch((error) => log.error("dispatch failed", { error }));
  }
}

/**
 * The reply to one server request: looks `req` up in the table, runs its handler (a resent copy
 * of a state-changing request gets the first run's reply) and maps a failure to the error form.
 */
export async function answerQuixRequest(
  frame: Frame,
  table: QuixHandlerTable,
  resent: ResentRequests,
  log: Logger,
): Promise<QuixReply> {
  const rid = frame.rid ?? null;
  const req = frame.req ?? "";
  const entry = table.get(req);
  try {
    if (!entry) throw new QuixError("unknown_request", `Unknown request "${req.slice(0, 64)}"`);
    if (rid === null) throw new QuixError("bad_request", "rid: required");
    const requestKey = JSON.stringify([req, rid, frame.msg ?? null]);
    const run = () => entry.handler({ msg: frame.msg, requestKey });
    if (!entry.mutating) return { rid, msg: await run() };
    const msg = await resent.answer(
      requestKey,
      () => run().catch((error) => errorBody(error, log)),
      { req, rid },
    );
    return { rid, msg };
  } catch (error) {
    return { rid, msg: errorBody(error, log) };
  }
}

function ridKey(rid: Rid): string {
  return typeof rid === "number" ? `n${rid}` : `s${rid}`;
}
