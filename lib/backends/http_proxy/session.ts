/**
 * One client connection: the HTTP/1.1 loop of the proxy (design "E" of proxy-performance.md).
 * It reads a head into a pooled buffer, parses it strictly, routes it, writes the rewritten head
 * (hop-by-hop lines dropped, forwarding headers spliced in as bytes) plus any buffered body to a
 * pooled keep-alive backend connection, streams the rest of the body while it relays the
 * response, and loops for the next (possibly pipelined) request. A GET costs four async ops:
 * client read, backend write, backend read, client write. It takes any `Deno.Conn`-like stream,
 * so a TLS connection can be handed in as well.
 */
import {
  type BackendConn,
  type BackendPool,
  type ByteConn,
  closeQuietly,
  ConnectError,
} from "./backend_pool.ts";
import type { BufferPool } from "./buffer_pool.ts";
import { cannedAnswer } from "./canned.ts";
import { CHUNKED_ERROR, CHUNKED_MORE, ChunkedScanner } from "./chunked.ts";
import {
  findHeadEnd,
  HEAD_BARE_LF,
  HEAD_MORE,
  HeadError,
  MAX_HEAD,
  parseRequestHead,
  type RequestHead,
  type ResponseHead,
  scanResponseHead,
} from "./head_parser.ts";
import type { BackendSpec, ListenerSpec } from "./model.ts";
import { hostForLookup, type RoutingTable } from "./routing.ts";

/** Connection attempts per request, each on a different backend, before a 503. */
export const CONNECT_ATTEMPTS = 3;

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
  nextRequestId(): string;
  sessionEnded(session: ClientSession): void;
  debug(msg: string, fields: Record<string, unknown>): void;
}

/** A listener as sessions see it (its spec with defaults applied). */
export interface ListenerRuntime {
  address: string;
  spec: ListenerSpec;
  proto: "http" | "https";
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

/** Free bytes kept in front of a response head so it can be rewritten in place. */
const HEADROOM = 256;
const CONNECTION_CLOSE = "Connection: close\r\n";
const CONNECTION_KEEP_ALIVE = "Connection: keep-alive\r\n";

/** Result of relaying one response. */
const R_KEEP = 0;
const R_CLOSE = 1;
const R_RETRY = 2;
const R_TUNNEL = 3;

/** Writes every byte (a plain function: the common single-write case adds no async frame). */
function writeAll(conn: ByteConn, data: Uint8Array): Promise<void> {
  return conn.write(data).then((n) => n < data.byteLength ? writeRest(conn, data, n) : undefined);
}

async function writeRest(conn: ByteConn, data: Uint8Array, off: number): Promise<void> {
  while (off < data.byteLength) off += await conn.write(data.subarray(off));
}

function writeLatin1(text: string, out: Uint8Array, pos: number): number {
  for (let i = 0; i < text.length; i++) out[pos + i] = text.charCodeAt(i) & 0xff;
  return pos + text.length;
}

/**
 * Rewrites a response head in place: drops its hop-by-hop lines and inserts `insert` (whole
 * header lines) before the final CRLF, moving the head towards the free room in front of it so
 * the body bytes after `he` stay where they are. Returns where the new head starts.
 */
function rewriteResponseHead(
  buf: Uint8Array,
  rs: number,
  he: number,
  head: ResponseHead,
  insert: string,
): number {
  const drops = head.drops;
  let dropped = 0;
  for (let i = 0; i < drops.length; i += 2) dropped += drops[i + 1]! - drops[i]!;
  const kept = he - 2 - rs - dropped;
  const start = he - 2 - insert.length - kept;
  let dest = start;
  let cursor = rs;
  for (let i = 0; i < drops.length; i += 2) {
    const a = rs + drops[i]!;
    if (a > cursor) {
      buf.copyWithin(dest, cursor, a);
      dest += a - cursor;
    }
    cursor = rs + drops[i + 1]!;
  }
  if (he - 2 > cursor) {
    buf.copyWithin(dest, cursor, he - 2);
    dest += he - 2 - cursor;
  }
  writeLatin1(insert, buf, dest);
  return start;
}

function ipOf(addr: Deno.Addr | undefined): { ip: string; port: number } {
  if (addr && (addr.transport === "tcp" || addr.transport === "udp")) {
    return { ip: addr.hostname, port: addr.port };
  }
  return { ip: "unknown", port: 0 };
}

/** One client connection and its HTTP/1.1 exchanges. */
export class ClientSession {
  readonly conn: ByteConn;
  readonly listener: ListenerRuntime;
  #host: SessionHost;
  #buf: Uint8Array;
  #pooledBuf: Uint8Array;
  #start = 0;
  #end = 0;
  #state = IDLE;
  #active = false;
  #clientDeadline = 0;
  #backendDeadline = 0;
  #backend: BackendConn | null = null;
  #backendTimedOut = false;
  #scanner: ChunkedScanner | null = null;
  #clientIp: string;
  #xffLine: string;
  #fwdFor: string;
  #protoLine: string;
  #portLine: string;
  #fixedBytes: Uint8Array;
  #closed = false;
  /** The last Host value seen and its lookup form (clients repeat the same Host). */
  #lastHost: string | null = null;
  #lastHostname: string | null = null;

  constructor(conn: ByteConn, listener: ListenerRuntime, host: SessionHost, buf: Uint8Array) {
    this.conn = conn;
    this.listener = listener;
    this.#host = host;
    this.#buf = buf;
    this.#pooledBuf = buf;
    const { ip, port } = ipOf(conn.remoteAddr);
    this.#clientIp = ip;
    this.#xffLine = `X-Forwarded-For: ${ip}\r\n`;
    this.#fwdFor = `proto=${listener.proto};for=${
      ip.includes(":") ? `"[${ip}]:${port}"` : `${ip}:${port}`
    };by=${listener.byAddress.includes(":") ? `"[${listener.byAddress}]"` : listener.byAddress}`;
    this.#protoLine = `X-Forwarded-Proto: ${listener.proto}\r\n`;
    this.#portLine = `X-Forwarded-Port: ${listener.publicPort}\r\n`;
    this.#fixedBytes = enc.encode(
      this.#protoLine + this.#portLine + this.#xffLine + `Forwarded: ${this.#fwdFor}\r\n`,
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
      if (!this.#closed) this.#host.debug("client session ended", { error: String(error) });
    } finally {
      this.close();
      this.#host.requestBuffers.release(this.#pooledBuf);
      this.#host.sessionEnded(this);
    }
  }

  /** Closes the client connection and any backend connection now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#state = CLOSED;
    closeQuietly(this.conn);
    if (this.#backend) {
      this.#host.pool.discard(this.#backend);
      this.#backend = null;
    }
  }

  /** Called by the engine's timer: enforces the head, idle, body and backend deadlines. */
  checkTimeouts(now: number): void {
    if (this.#clientDeadline !== 0 && now >= this.#clientDeadline) {
      this.#clientDeadline = 0;
      if (this.#state === HEAD) {
        const conn = this.conn;
        this.#closed = true;
        conn.write(cannedAnswer(408)).catch(() => {}).finally(() => closeQuietly(conn));
        return;
      }
      this.close();
      return;
    }
    if (this.#backendDeadline !== 0 && now >= this.#backendDeadline) {
      this.#backendDeadline = 0;
      this.#backendTimedOut = true;
      if (this.#backend) closeQuietly(this.#backend.conn);
    }
  }

  async #loop(): Promise<void> {
    while (!this.#closed) {
      // Leading empty lines before a request line are ignored (RFC 9112 §2.2).
      while (
        this.#end - this.#start >= 2 && this.#buf[this.#start] === 13 &&
        this.#buf[this.#start + 1] === 10
      ) this.#start += 2;
      if (this.#start === this.#end) {
        this.#start = this.#end = 0;
        if (this.#buf !== this.#pooledBuf) this.#buf = this.#pooledBuf;
        if (this.#host.stopping) return;
        this.#state = IDLE;
        this.#clientDeadline = this.#host.deadlineBase + this.listener.frontTimeoutMs;
      } else {
        this.#state = HEAD;
        this.#clientDeadline = this.#host.deadlineBase + this.listener.requestTimeoutMs;
      }
      let scanned = this.#start;
      let headEnd = findHeadEnd(this.#buf, this.#start, this.#end, scanned);
      while (headEnd === HEAD_MORE) {
        if (this.#end - this.#start > MAX_HEAD) return await this.#answer(431);
        this.#makeRoom();
        scanned = this.#end;
        const n = await this.conn.read(
          this.#end === 0 ? this.#buf : this.#buf.subarray(this.#end),
        );
        if (n === null || this.#closed) return;
        if (this.#state === IDLE) {
          this.#state = HEAD;
          this.#clientDeadline = this.#host.deadlineBase + this.listener.requestTimeoutMs;
        }
        this.#end += n;
        while (
          this.#scannedAtStart(scanned) && this.#end - this.#start >= 2 &&
          this.#buf[this.#start] === 13 && this.#buf[this.#start + 1] === 10
        ) {
          this.#start += 2;
          scanned = this.#start;
        }
        if (this.#start === this.#end) {
          this.#start = this.#end = 0;
          scanned = 0;
          continue;
        }
        headEnd = findHeadEnd(this.#buf, this.#start, this.#end, scanned);
      }
      this.#state = BUSY;
      this.#clientDeadline = 0;
      if (headEnd === HEAD_BARE_LF) return await this.#answer(400);
      if (headEnd - this.#start > MAX_HEAD) return await this.#answer(431);
      let head: RequestHead;
      try {
        head = parseRequestHead(this.#buf, this.#start, headEnd);
      } catch (error) {
        if (error instanceof HeadError) {
          this.#host.debug("refused request head", { reason: error.message });
          return await this.#answer(error.status);
        }
        throw error;
      }
      if (!await this.#exchange(head, headEnd)) return;
      this.#active = true;
      if (this.#host.crowded) await nextTurn();
    }
  }

  #scannedAtStart(scanned: number): boolean {
    return scanned === this.#start;
  }

  /** Makes room at the end of the request buffer: compacts, or grows up to the head limit. */
  #makeRoom(): void {
    if (this.#end < this.#buf.byteLength) return;
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
      return;
    }
    const bigger = new Uint8Array(Math.min(this.#buf.byteLength * 2, MAX_HEAD + 4096));
    if (bigger.byteLength <= this.#buf.byteLength) return;
    bigger.set(this.#buf.subarray(0, this.#end));
    this.#buf = bigger;
  }

  async #answer(status: number, override?: string | null): Promise<void> {
    try {
      await writeAll(this.conn, cannedAnswer(status, override));
    } catch {
      // the client is gone
    }
    this.close();
  }

  /** One request/response exchange; returns whether to keep the client connection. */
  async #exchange(head: RequestHead, headEnd: number): Promise<boolean> {
    const host = this.#host;
    let hostname: string | null = "";
    if (head.host !== null) {
      if (head.host !== this.#lastHost) {
        this.#lastHost = head.host;
        this.#lastHostname = hostForLookup(head.host);
      }
      hostname = this.#lastHostname;
    }
    if (hostname === null) {
      await this.#answer(400);
      return false;
    }
    const front = host.routing.lookup(this.listener.address, hostname, head.path);
    if (front === null) {
      await this.#answer(404, this.listener.spec.answer404);
      return false;
    }
    const cluster = host.routing.cluster(front.clusterId);
    const answer503 = cluster?.spec?.answer503 ?? this.listener.spec.answer503;

    // How much of the body is already buffered, and whether it is complete.
    let bodyEnd = headEnd;
    let bodyDone = true;
    let clRemaining = 0;
    if (head.chunked) {
      const scanner = this.#scanner ??= new ChunkedScanner();
      scanner.reset();
      const r = scanner.feed(this.#buf, headEnd, this.#end);
      if (r === CHUNKED_ERROR) {
        await this.#answer(400);
        return false;
      }
      if (r === CHUNKED_MORE) {
        bodyEnd = this.#end;
        bodyDone = false;
      } else {
        bodyEnd = r;
      }
    } else if (head.contentLength > 0) {
      const avail = Math.min(this.#end - headEnd, head.contentLength);
      bodyEnd = headEnd + avail;
      clRemaining = head.contentLength - avail;
      bodyDone = clRemaining === 0;
    }

    const requestId = host.nextRequestId();
    const reqStart = this.#start;
    this.#start = bodyEnd;

    let tried: BackendSpec[] | null = null;
    let attempts = 0;
    let forceNew = false;
    {
      for (let round = 0;; round++) {
        if (cluster === undefined) {
          await this.#answer(503, answer503);
          return false;
        }
        const backend = host.routing.pickBackend(cluster, forceNew ? null : tried);
        if (backend === null) {
          await this.#answer(503, answer503);
          return false;
        }
        let bc = forceNew ? null : host.pool.take(backend.address);
        if (bc === null) {
          try {
            bc = await host.pool.open(backend.address, this.listener.connectTimeoutMs);
          } catch (error) {
            if (!(error instanceof ConnectError)) throw error;
            host.debug("backend connect failed", {
              backend: backend.address,
              error: String(error),
            });
            (tried ??= []).push(backend);
            forceNew = false;
            if (++attempts >= CONNECT_ATTEMPTS) {
              await this.#answer(503, answer503);
              return false;
            }
            continue;
          }
        }
        if (this.#closed) {
          host.pool.discard(bc);
          return false;
        }
        this.#backend = bc;
        this.#backendTimedOut = false;
        // Built for each attempt: the request bytes stay in the client buffer until the
        // exchange ends (no pump has read over them yet), so the output buffer goes back to
        // the pool right after the write.
        const out = this.#buildRequest(head, reqStart, headEnd, bodyEnd, requestId);
        try {
          await writeAll(bc.conn, out.bytes);
        } catch {
          if (out.pooled) host.ioBuffers.release(out.pooled);
          this.#backend = null;
          host.pool.discard(bc);
          if (bc.reused && round < 4) {
            forceNew = true;
            continue;
          }
          (tried ??= []).push(backend);
          if (++attempts >= CONNECT_ATTEMPTS) {
            await this.#answer(503, answer503);
            return false;
          }
          continue;
        }
        if (out.pooled) host.ioBuffers.release(out.pooled);
        forceNew = false;
        let pump: Promise<boolean> | null = null;
        let pumpDone = true;
        if (!bodyDone) {
          pumpDone = false;
          // A client that goes away (or sends broken chunks) mid-body ends the exchange at
          // once: closing both sides wakes the response read below.
          pump = this.#pumpBody(bc, head.chunked, clRemaining).then((ok) => {
            pumpDone = true;
            if (!ok) this.close();
            return ok;
          }, () => {
            pumpDone = true;
            this.close();
            return false;
          });
        }
        const result = await this.#relay(head, bc, requestId, bodyDone && round < 4);
        if (result === R_RETRY) {
          this.#backend = null;
          host.pool.discard(bc);
          forceNew = true;
          continue;
        }
        if (result === R_TUNNEL) return false;
        if (pump !== null) {
          if (!pumpDone) {
            // The backend answered before the request body ended: the client's stream
            // position is unknown, so neither connection can be reused.
            this.close();
            await pump;
            return false;
          }
          if (!await pump) {
            this.close();
            return false;
          }
        }
        if (this.#backend === bc) {
          this.#backend = null;
          if (result === R_KEEP && bc.reusable) host.pool.give(bc);
          else host.pool.discard(bc);
        }
        return result === R_KEEP && !this.#closed;
      }
    }
  }

  /** The rewritten request head plus the buffered body bytes, ready for one write. */
  #buildRequest(
    head: RequestHead,
    start: number,
    headEnd: number,
    bodyEnd: number,
    requestId: string,
  ): { bytes: Uint8Array; pooled: Uint8Array | null } {
    const buf = this.#buf;
    const extra = 600 + (head.xff?.length ?? 0) + (head.forwarded?.length ?? 0) +
      requestId.length;
    const needed = (headEnd - start) + extra + (bodyEnd - headEnd);
    let pooled: Uint8Array | null = null;
    let out: Uint8Array;
    if (needed <= this.#host.ioBuffers.size) {
      pooled = this.#host.ioBuffers.acquire();
      out = pooled ?? new Uint8Array(needed);
    } else {
      out = new Uint8Array(needed);
    }
    let pos = 0;
    let cursor = start;
    const drops = head.drops;
    for (let i = 0; i < drops.length; i += 2) {
      const a = start + drops[i]!;
      if (a > cursor) {
        out.set(buf.subarray(cursor, a), pos);
        pos += a - cursor;
      }
      cursor = start + drops[i + 1]!;
    }
    const headBodyEnd = headEnd - 2;
    if (headBodyEnd > cursor) {
      out.set(buf.subarray(cursor, headBodyEnd), pos);
      pos += headBodyEnd - cursor;
    }
    if (head.upgrade !== null) {
      pos = writeLatin1("Connection: upgrade\r\n", out, pos);
    }
    if (
      head.xff === null && head.forwarded === null && !head.hasXfProto && !head.hasXfPort
    ) {
      out.set(this.#fixedBytes, pos);
      pos = writeLatin1(`Sozu-Id: ${requestId}\r\n\r\n`, out, pos + this.#fixedBytes.byteLength);
    } else {
      let text = "";
      if (!head.hasXfProto) text += this.#protoLine;
      if (!head.hasXfPort) text += this.#portLine;
      text += head.xff === null
        ? this.#xffLine
        : `X-Forwarded-For: ${head.xff}, ${this.#clientIp}\r\n`;
      text += head.forwarded === null
        ? `Forwarded: ${this.#fwdFor}\r\n`
        : `Forwarded: ${head.forwarded}, ${this.#fwdFor}\r\n`;
      text += `Sozu-Id: ${requestId}\r\n\r\n`;
      pos = writeLatin1(text, out, pos);
    }
    if (bodyEnd > headEnd) {
      out.set(buf.subarray(headEnd, bodyEnd), pos);
      pos += bodyEnd - headEnd;
    }
    return { bytes: out.subarray(0, pos), pooled };
  }

  /**
   * Streams the rest of a request body from the client to the backend. Bytes after the body's
   * end stay in the request buffer as the next request. Resolves false on a framing error or
   * when either side failed.
   */
  async #pumpBody(bc: BackendConn, chunked: boolean, clRemaining: number): Promise<boolean> {
    const buf = this.#pooledBuf;
    if (this.#buf !== buf) this.#buf = buf;
    this.#start = this.#end = 0;
    let remaining = clRemaining;
    while (true) {
      this.#clientDeadline = this.#host.deadlineBase + this.listener.frontTimeoutMs;
      const n = await this.conn.read(buf);
      this.#clientDeadline = 0;
      if (n === null) return false;
      let take = n;
      let done = false;
      if (chunked) {
        const r = this.#scanner!.feed(buf, 0, n);
        if (r === CHUNKED_ERROR) return false;
        if (r !== CHUNKED_MORE) {
          take = r;
          done = true;
        }
      } else {
        take = Math.min(n, remaining);
        remaining -= take;
        done = remaining === 0;
      }
      await writeAll(bc.conn, buf.subarray(0, take));
      if (done) {
        this.#start = take;
        this.#end = n;
        return true;
      }
    }
  }

  /** Reads the backend's answer and relays it; see R_* for the result. */
  async #relay(
    req: RequestHead,
    bc: BackendConn,
    requestId: string,
    retryable: boolean,
  ): Promise<number> {
    const host = this.#host;
    const pooled = host.ioBuffers.acquire();
    let rbuf = pooled ?? new Uint8Array(host.ioBuffers.size);
    let rs = HEADROOM;
    let re = HEADROOM;
    let sentAny = false;
    let receivedAny = false;
    const backTimeout = this.listener.backTimeoutMs;
    try {
      let head: ResponseHead;
      let he: number;
      while (true) {
        let found: ResponseHead | null;
        try {
          found = scanResponseHead(rbuf, rs, re);
          while (found === null) {
            if (re - rs > MAX_HEAD) return await this.#fail(502, sentAny);
            if (re === rbuf.byteLength) {
              if (rs > HEADROOM) {
                rbuf.copyWithin(HEADROOM, rs, re);
                re -= rs - HEADROOM;
                rs = HEADROOM;
              } else {
                const bigger = new Uint8Array(
                  Math.min(rbuf.byteLength * 2, MAX_HEAD + HEADROOM + 4096),
                );
                if (bigger.byteLength <= rbuf.byteLength) return await this.#fail(502, sentAny);
                bigger.set(rbuf.subarray(0, re));
                rbuf = bigger;
              }
            }
            this.#backendDeadline = this.#host.deadlineBase + backTimeout;
            let n: number | null;
            try {
              n = await bc.conn.read(rbuf.subarray(re));
            } catch (error) {
              if (this.#backendTimedOut) return await this.#fail(504, sentAny);
              if (retryable && bc.reused && !receivedAny && !this.#closed) return R_RETRY;
              host.debug("backend read failed", { error: String(error) });
              return await this.#fail(receivedAny ? 502 : 503, sentAny);
            } finally {
              this.#backendDeadline = 0;
            }
            if (n === null) {
              if (retryable && bc.reused && !receivedAny && !this.#closed) return R_RETRY;
              return await this.#fail(receivedAny ? 502 : 503, sentAny);
            }
            receivedAny = true;
            re += n;
            // The head is scanned again from its start only when a line may have ended (a head
            // trickling in byte by byte costs one pass per line, not one per byte).
            const lf = rbuf.indexOf(10, re - n);
            if (lf >= 0 && lf < re) found = scanResponseHead(rbuf, rs, re);
          }
        } catch (error) {
          if (error instanceof HeadError) {
            host.debug("invalid backend response", { reason: error.message });
            return await this.#fail(502, sentAny);
          }
          throw error;
        }
        head = found;
        he = rs + head.length;
        if (head.status >= 200 || head.status === 101) break;
        // Interim response (100 Continue, 103 Early Hints…): forward as is, read the next head.
        if (req.minor === 1) {
          this.#clientDeadline = this.#host.deadlineBase + this.listener.frontTimeoutMs;
          await writeAll(this.conn, rbuf.subarray(rs, he));
          this.#clientDeadline = 0;
          sentAny = true;
        }
        rs = he;
      }

      if (head.status === 101) {
        if (req.upgrade === null) return await this.#fail(502, sentAny);
        return await this.#tunnel(rbuf, rs, he, re, head, bc, requestId);
      }

      const noBody = req.method === "HEAD" || head.status === 204 || head.status === 304;
      const untilClose = !noBody && !head.chunked && head.contentLength < 0;
      const keepClient = !req.close && !untilClose && !host.stopping;
      let bodyAvail = 0;
      let remaining = 0;
      let complete = true;
      let exactEnd = true;
      let scanner: ChunkedScanner | null = null;
      if (noBody) {
        exactEnd = re === he;
      } else if (head.chunked) {
        scanner = new ChunkedScanner();
        const r = scanner.feed(rbuf, he, re);
        if (r === CHUNKED_ERROR) return await this.#fail(502, sentAny);
        if (r === CHUNKED_MORE) {
          bodyAvail = re - he;
          complete = false;
        } else {
          bodyAvail = r - he;
          exactEnd = r === re;
        }
      } else if (head.contentLength >= 0) {
        bodyAvail = Math.min(re - he, head.contentLength);
        remaining = head.contentLength - bodyAvail;
        complete = remaining === 0;
        exactEnd = re - he <= head.contentLength;
      } else {
        bodyAvail = re - he;
        complete = false;
      }

      // The head is rewritten in place; it and the body bytes already read go in one write.
      const extra = !keepClient ? CONNECTION_CLOSE : req.minor === 0 ? CONNECTION_KEEP_ALIVE : "";
      const headStart = rewriteResponseHead(
        rbuf,
        rs,
        he,
        head,
        `Sozu-Id: ${requestId}\r\n${extra}`,
      );
      this.#clientDeadline = this.#host.deadlineBase + this.listener.frontTimeoutMs;
      await writeAll(this.conn, rbuf.subarray(headStart, he + bodyAvail));
      sentAny = true;

      while (!complete) {
        this.#clientDeadline = 0;
        this.#backendDeadline = this.#host.deadlineBase + backTimeout;
        let n: number | null;
        try {
          n = await bc.conn.read(rbuf);
        } catch {
          n = null;
        } finally {
          this.#backendDeadline = 0;
        }
        if (n === null) {
          if (untilClose) break;
          // Truncated response: the client must see the connection end.
          this.close();
          return R_CLOSE;
        }
        let take = n;
        if (scanner !== null) {
          const r = scanner.feed(rbuf, 0, n);
          if (r === CHUNKED_ERROR) {
            this.close();
            return R_CLOSE;
          }
          if (r !== CHUNKED_MORE) {
            take = r;
            complete = true;
            exactEnd = r === n;
          }
        } else if (!untilClose) {
          take = Math.min(n, remaining);
          remaining -= take;
          if (remaining === 0) {
            complete = true;
            exactEnd = take === n;
          }
        }
        this.#clientDeadline = this.#host.deadlineBase + this.listener.frontTimeoutMs;
        await writeAll(this.conn, rbuf.subarray(0, take));
      }
      this.#clientDeadline = 0;
      bc.reusable = head.minor === 1 && !head.close && exactEnd && !untilClose;
      return keepClient ? R_KEEP : R_CLOSE;
    } catch (error) {
      if (this.#backendTimedOut) return await this.#fail(504, sentAny);
      host.debug("exchange failed", { error: String(error) });
      return await this.#fail(502, sentAny);
    } finally {
      if (pooled) host.ioBuffers.release(pooled);
    }
  }

  /** A canned answer when nothing was sent yet, else just the end of the connection. */
  async #fail(status: number, sentAny: boolean): Promise<number> {
    if (this.#backend) {
      this.#host.pool.discard(this.#backend);
      this.#backend = null;
    }
    if (!sentAny && !this.#closed) await this.#answer(status);
    else this.close();
    return R_CLOSE;
  }

  /** 101 Switching Protocols: forward the head, then splice the two connections. */
  async #tunnel(
    rbuf: Uint8Array,
    rs: number,
    he: number,
    re: number,
    head: ResponseHead,
    bc: BackendConn,
    requestId: string,
  ): Promise<number> {
    const headStart = rewriteResponseHead(rbuf, rs, he, head, `Sozu-Id: ${requestId}\r\n`);
    await writeAll(this.conn, rbuf.subarray(headStart, re));
    this.#state = TUNNEL;
    this.#clientDeadline = 0;
    const fromClient = this.#buf.subarray(this.#start, this.#end);
    if (fromClient.byteLength > 0) await writeAll(bc.conn, fromClient.slice());
    this.#start = this.#end = 0;
    // A tunnel with no traffic either way for the listener's front timeout is closed (so an idle
    // WebSocket cannot hold a soft stop forever).
    const idleMs = this.listener.frontTimeoutMs;
    this.#clientDeadline = this.#host.deadlineBase + idleMs;
    const pipe = async (src: ByteConn, dst: ByteConn, buf: Uint8Array) => {
      try {
        while (true) {
          const n = await src.read(buf);
          if (n === null) break;
          this.#clientDeadline = this.#host.deadlineBase + idleMs;
          await writeAll(dst, buf.subarray(0, n));
        }
      } catch {
        // either side went away
      }
    };
    const both = [pipe(this.conn, bc.conn, this.#pooledBuf), pipe(bc.conn, this.conn, rbuf)];
    await Promise.race(both);
    this.close();
    await Promise.all(both);
    return R_TUNNEL;
  }
}
