/**
 * One client connection: the HTTP/1.1 loop of the proxy (design "E" of proxy-performance.md).
 * It reads a head into a pooled buffer, parses it strictly (request_head.ts), and hands it to
 * {@linkcode exchange} (exchange.ts: route, rewrite, write to a pooled keep-alive backend
 * connection; relay.ts: stream the body, relay the response), then loops for the next (possibly
 * pipelined) request. A GET costs four async ops: client read, backend write, backend read,
 * client write. It takes any `Deno.Conn`-like stream, so a TLS connection can be handed in as
 * well.
 */
import type { AccessLog } from "./access_log.ts";
import { type BackendConn, type BackendPool, type ByteConn, closeQuietly } from "./backend_pool.ts";
import type { BufferPool } from "./buffer_pool.ts";
import { type Reader, readerOf } from "./direct_read.ts";
import { cannedAnswer, redirectAnswer } from "./canned.ts";
import type { ProxyCloseReason } from "./client_gate.ts";
import type { ChunkedScanner } from "./chunked.ts";
import { exchange } from "./exchange.ts";
import { beginExchange, endExchange } from "./exchange_end.ts";
import { HeadError, MAX_HEAD } from "./head_bytes.ts";
import type { ListenerSpec } from "./model.ts";
import {
  findHeadEnd,
  HEAD_BARE_LF,
  HEAD_MORE,
  parseRequestHead,
  type RequestHead,
} from "./request_head.ts";
import type { RoutedBackend, RoutingTable } from "./routing.ts";
import type { StickyState } from "./sticky.ts";
import type { TrafficMetrics } from "./traffic_stats.ts";
import { writeAll } from "./write.ts";

/** What a session needs from its worker's engine. */
export interface SessionHost {
  readonly routing: RoutingTable;
  readonly pool: BackendPool;
  /** Request buffers (one per connection). */
  readonly requestBuffers: BufferPool;
  /** Response and output buffers (per exchange). */
  readonly ioBuffers: BufferPool;
  /** Soft stop in progress: finish the current exchange, then close. */
  readonly stopping: boolean;
  /** Until when (ms) a soft stop lets idle keep-alive connections send one last request. */
  readonly lingerUntil?: number;
  /**
   * Many connections are active at once. Deno's event loop serves ready sockets unfairly when
   * saturated: at 512 busy connections a few hundred were served back to back while the rest
   * waited seconds (p50 3 ms, p99 1.4 s). While crowded, each connection takes one timer turn
   * after every exchange, which lets the others' reads through (p99 about 100 ms, like nginx's)
   * at the price of some throughput; below the threshold nothing changes.
   */
  readonly crowded: boolean;
  /**
   * Base for deadlines, ms: the engine's clock as of its last tick plus one tick. A deadline of
   * `deadlineBase + timeout` fires between one and two ticks after the timeout (while ticks run
   * on time), and an exchange reads no clock of its own.
   */
  readonly deadlineBase: number;
  /** Traffic counters (sozu METRICS); recorded only while `enabled`. */
  readonly metrics: TrafficMetrics;
  /** Read sockets with Deno's read op directly (direct_read.ts). */
  readonly directReads: boolean;
  /** The access log of a listener's requests, or null when it does not log. */
  accessLogFor(listener: string): AccessLog | null;
  nextRequestId(): string;
  /** The HTTPS port an `https_redirect` for this host and path points to (null: 443). */
  httpsRedirectPort(hostname: string, path: string): number | null;
  sessionEnded(session: ProxySession): void;
  /** Counts a session closed by a timeout. */
  closedBy(reason: ProxyCloseReason): void;
  debug(msg: string, fields: Record<string, unknown>): void;
}

/** A listener as sessions see it (its spec with defaults applied). */
export interface ListenerRuntime {
  address: string;
  spec: ListenerSpec;
  proto: "http" | "https" | "tcp";
  /** Port advertised in X-Forwarded-Port / Forwarded. */
  publicPort: string;
  /** The listener's IP for Forwarded `by=`. */
  byAddress: string;
  frontTimeoutMs: number;
  backTimeoutMs: number;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
}

const IDLE = 0;
const HEAD = 1;
const BUSY = 2;
const TUNNEL = 3;
const CLOSED = 4;

const enc = new TextEncoder();

let turn: Promise<void> | null = null;

/**
 * Resolves on a later turn of the event loop, after pending I/O has been polled. Everyone who
 * asks during one turn shares one timer.
 */
function nextTurn(): Promise<void> {
  return turn ??= new Promise((resolve) =>
    setTimeout(() => {
      turn = null;
      resolve();
    }, 0)
  );
}

function ipOf(addr: Deno.Addr | undefined): { ip: string; port: number } {
  if (addr && (addr.transport === "tcp" || addr.transport === "udp")) {
    return { ip: addr.hostname, port: addr.port };
  }
  return { ip: "unknown", port: 0 };
}

/**
 * One client connection of the proxy and its HTTP/1.1 exchanges. Its fields are the connection's
 * state, shared with exchange.ts and relay.ts: those are module functions taking the session
 * first, so the hot path keeps its one async frame per step. The engine uses only `run`, `close`,
 * `checkTimeouts`, `idle` and `takeActivity`.
 */
export class ProxySession implements StickyState {
  readonly conn: ByteConn;
  /** Reads from `conn`: resolves to the bytes read, 0 or null at its end (direct_read.ts). */
  readonly read: Reader;
  readonly listener: ListenerRuntime;
  readonly host: SessionHost;
  /** The request buffer: the pooled one, or a bigger one while a long head is read. */
  buf: Uint8Array;
  readonly pooledBuf: Uint8Array;
  /** Unconsumed request bytes are `buf[start, end)`. */
  start = 0;
  end = 0;
  /** Deadlines (engine tick clock, ms; 0 = none) enforced by {@linkcode checkTimeouts}. */
  clientDeadline = 0;
  backendDeadline = 0;
  /** The backend connection of the exchange in progress. */
  backend: BackendConn | null = null;
  backendTimedOut = false;
  /** A request body is being streamed to the backend (exchange.ts). */
  pumping = false;
  /** The chunked request body scanner, made on first use. */
  scanner: ChunkedScanner | null = null;
  /** Forwarding headers for this client, built once per connection. */
  readonly clientIp: string;
  readonly xffLine: string;
  readonly fwdFor: string;
  readonly protoLine: string;
  readonly portLine: string;
  readonly fixedBytes: Uint8Array;
  /** The last Host value seen and its lookup form (clients repeat the same Host). */
  lastHost: string | null = null;
  lastHostname: string | null = null;
  /** Set by {@linkcode close} only; read by the exchange to stop early. */
  closed = false;
  /** Sticky state of the exchange (sticky.ts); empty for non-sticky applications. */
  stickyName: string | null = null;
  cookieLine = "";
  setCookie = "";
  /**
   * Facts of the exchange in progress for the metrics and the access log, set by exchange.ts and
   * relay.ts: the status sent (0: none), bytes read and written, where it went, its sampled
   * backend time (-1: not timed) and its Sozu-Id.
   */
  status = 0;
  bytesIn = 0;
  bytesOut = 0;
  routedCluster: string | null = null;
  routedBackend: RoutedBackend | null = null;
  backendMs = -1;
  /** performance.now() when the timed backend answer ended (0: not timed). */
  backendEnd = 0;
  requestId: string | null = null;
  /** Where this connection's requests are logged, or null. */
  readonly accessLog: AccessLog | null;
  /** "ip:port" ("[ip]:port" for IPv6) of the client, for the access log. */
  readonly clientLabel: string;
  /**
   * The client connection cannot turn Nagle's algorithm off (a `Deno.TlsConn` has no
   * `setNoDelay`), so a response must leave in one write: a second small write waits for the
   * client's delayed ACK of the first (about 40 ms). The relay then reads a small
   * Content-Length body whole before it writes (relay.ts).
   */
  readonly coalesce: boolean;
  #state = IDLE;
  #active = false;

  constructor(conn: ByteConn, listener: ListenerRuntime, host: SessionHost, buf: Uint8Array) {
    this.conn = conn;
    this.read = readerOf(conn, host.directReads);
    this.listener = listener;
    this.host = host;
    this.buf = buf;
    this.pooledBuf = buf;
    const { ip, port } = ipOf(conn.remoteAddr);
    this.clientIp = ip;
    this.clientLabel = ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
    this.accessLog = host.accessLogFor(listener.address);
    this.coalesce = typeof conn.setNoDelay !== "function";
    this.xffLine = `X-Forwarded-For: ${ip}\r\n`;
    this.fwdFor = `proto=${listener.proto};for=${
      ip.includes(":") ? `"${this.clientLabel}"` : this.clientLabel
    };by=${listener.byAddress.includes(":") ? `"[${listener.byAddress}]"` : listener.byAddress}`;
    this.protoLine = `X-Forwarded-Proto: ${listener.proto}\r\n`;
    this.portLine = `X-Forwarded-Port: ${listener.publicPort}\r\n`;
    this.fixedBytes = enc.encode(
      this.protoLine + this.portLine + this.xffLine + `Forwarded: ${this.fwdFor}\r\n`,
    );
  }

  /** True while waiting for a new request with nothing buffered. */
  get idle(): boolean {
    return this.#state === IDLE;
  }

  /** Whether the connection did any work since the last call (the engine's tick asks). */
  takeActivity(): boolean {
    const active = this.#active || this.#state !== IDLE;
    this.#active = false;
    return active;
  }

  /** Serves the connection until it closes; never throws. */
  async run(): Promise<void> {
    try {
      await this.#loop();
    } catch (error) {
      if (!this.closed) this.host.debug("client session ended", { error: String(error) });
    } finally {
      this.close();
      this.host.requestBuffers.release(this.pooledBuf);
      this.host.sessionEnded(this);
    }
  }

  /** Closes the client connection and any backend connection now. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#state = CLOSED;
    closeQuietly(this.conn);
    if (this.backend) {
      this.host.pool.discard(this.backend);
      this.backend = null;
    }
  }

  /** Called by the engine's timer: enforces the head, idle, body and backend deadlines. */
  checkTimeouts(now: number): void {
    if (this.clientDeadline !== 0 && now >= this.clientDeadline) {
      this.clientDeadline = 0;
      if (this.#state === HEAD) {
        this.host.closedBy("head_timeout");
        const conn = this.conn;
        this.closed = true;
        conn.write(cannedAnswer(408)).catch(() => {}).finally(() => closeQuietly(conn));
        return;
      }
      this.host.closedBy(this.#state === IDLE ? "idle_timeout" : "client_timeout");
      this.close();
      return;
    }
    if (this.backendDeadline !== 0 && now >= this.backendDeadline) {
      this.backendDeadline = 0;
      this.backendTimedOut = true;
      if (this.backend) closeQuietly(this.backend.conn);
    }
  }

  /** The exchange became a tunnel (101 Switching Protocols): no more heads on this connection. */
  enterTunnel(): void {
    this.#state = TUNNEL;
    this.clientDeadline = 0;
  }

  /** Writes a canned answer (or the listener/cluster override), then closes. */
  async answer(status: number, override?: string | null): Promise<void> {
    this.status = status;
    try {
      const bytes = cannedAnswer(status, override);
      this.bytesOut += bytes.byteLength;
      await writeAll(this.conn, bytes);
    } catch {
      // the client is gone
    }
    this.close();
  }

  /**
   * Answers 301 to `https://<host>[:port]<uri>` (an application with `https_redirect` on an HTTP
   * listener), without contacting a backend, then closes.
   */
  async redirectToHttps(head: RequestHead, hostname: string): Promise<void> {
    const port = this.host.httpsRedirectPort(hostname, head.path);
    const uri = head.target.charCodeAt(0) === 47 ? head.target : head.path;
    const location = `https://${hostname}${port !== null && port !== 443 ? `:${port}` : ""}${uri}`;
    const bytes = redirectAnswer(location);
    this.status = 301;
    this.bytesOut += bytes.byteLength;
    try {
      await writeAll(this.conn, bytes);
    } catch {
      // the client is gone
    }
    this.close();
  }

  async #loop(): Promise<void> {
    while (!this.closed) {
      if (!this.#awaitHead()) return;
      let scanned = this.start;
      let headEnd = findHeadEnd(this.buf, this.start, this.end, scanned);
      while (headEnd === HEAD_MORE) {
        if (this.end - this.start > MAX_HEAD) return await this.answer(431);
        this.#makeRoom();
        scanned = this.end;
        const n = await this.read(this.end === 0 ? this.buf : this.buf.subarray(this.end));
        if (!n || this.closed) return;
        if (this.#state === IDLE) {
          this.#state = HEAD;
          this.clientDeadline = this.host.deadlineBase + this.listener.requestTimeoutMs;
        }
        this.end += n;
        while (
          this.#scannedAtStart(scanned) && this.end - this.start >= 2 &&
          this.buf[this.start] === 13 && this.buf[this.start + 1] === 10
        ) {
          this.start += 2;
          scanned = this.start;
        }
        if (this.start === this.end) {
          this.start = this.end = 0;
          scanned = 0;
          continue;
        }
        headEnd = findHeadEnd(this.buf, this.start, this.end, scanned);
      }
      this.#state = BUSY;
      this.clientDeadline = 0;
      if (headEnd === HEAD_BARE_LF) return await this.answer(400);
      if (headEnd - this.start > MAX_HEAD) return await this.answer(431);
      let head: RequestHead;
      try {
        head = parseRequestHead(this.buf, this.start, headEnd);
      } catch (error) {
        if (error instanceof HeadError) {
          this.host.debug("refused request head", { reason: error.message });
          await this.answer(error.status);
          const m = this.host.metrics;
          if (m.enabled) m.record(null, null, error.status, headEnd - this.start, 0, -1);
          return;
        }
        throw error;
      }
      beginExchange(this);
      const t0 = this.accessLog === null ? 0 : performance.now();
      const keep = await exchange(this, head, headEnd);
      endExchange(this, head, t0);
      if (!keep) return;
      this.#active = true;
      if (this.host.crowded) await nextTurn();
    }
  }

  /**
   * Gets ready to read the next head: skips leading empty lines (RFC 9112 §2.2), and arms the
   * idle deadline (nothing buffered) or the head deadline. False when a soft stop ends the loop.
   */
  #awaitHead(): boolean {
    while (
      this.end - this.start >= 2 && this.buf[this.start] === 13 &&
      this.buf[this.start + 1] === 10
    ) this.start += 2;
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (this.buf !== this.pooledBuf) this.buf = this.pooledBuf;
      if (this.host.stopping && !this.host.lingerUntil) return false;
      this.#state = IDLE;
      this.clientDeadline = this.host.deadlineBase + this.listener.frontTimeoutMs;
    } else {
      this.#state = HEAD;
      this.clientDeadline = this.host.deadlineBase + this.listener.requestTimeoutMs;
    }
    return true;
  }

  #scannedAtStart(scanned: number): boolean {
    return scanned === this.start;
  }

  /** Makes room at the end of the request buffer: compacts, or grows up to the head limit. */
  #makeRoom(): void {
    if (this.end < this.buf.byteLength) return;
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.start = 0;
      return;
    }
    const bigger = new Uint8Array(Math.min(this.buf.byteLength * 2, MAX_HEAD + 4096));
    if (bigger.byteLength <= this.buf.byteLength) return;
    bigger.set(this.buf.subarray(0, this.end));
    this.buf = bigger;
  }
}
