/**
 * The response side of an exchange: read the backend's head (forwarding interim 1xx heads),
 * rewrite it in place and relay it with the body bytes already read in one write, then stream the
 * rest of the body by its framing; stream the request body the other way ({@linkcode pumpBody});
 * splice both connections after a 101 ({@linkcode tunnel}).
 */
import type { BackendConn, ByteConn } from "./backend_pool.ts";
import { CHUNKED_ERROR, CHUNKED_MORE, ChunkedScanner } from "./chunked.ts";
import type { Reader } from "./direct_read.ts";
import { HeadError, MAX_HEAD } from "./head_bytes.ts";
import type { RequestHead } from "./request_head.ts";
import { type ResponseHead, scanResponseHead } from "./response_head.ts";
import type { ProxySession } from "./session.ts";
import { writeAll, writeLatin1 } from "./write.ts";

/**
 * Free bytes kept in front of a response head so it can be rewritten in place (Sozu-Id, a sticky
 * Set-Cookie with a 256-character id, Connection).
 */
const HEADROOM = 512;
const CONNECTION_CLOSE = "Connection: close\r\n";
const CONNECTION_KEEP_ALIVE = "Connection: keep-alive\r\n";

/** Result of relaying one response: keep the client connection. */
export const R_KEEP = 0;
/** Close the client connection. */
export const R_CLOSE = 1;
/**
 * The backend connection failed before anything reached the client and the exchange allowed a
 * retry.
 */
export const R_RETRY = 2;
/** The exchange became a tunnel, now over. */
export const R_TUNNEL = 3;

/** `relayResponse`'s retry permission: none (the request may have had effects). */
export const RETRY_NONE = 0;
/** Retry when the backend connection ends before any answer byte (a stale reused connection). */
export const RETRY_UNANSWERED = 1;
/**
 * A safe method: also retry when the backend dies in the middle of a small answer nothing of
 * which reached the client yet (the answer is read whole before it is written).
 */
export const RETRY_PARTIAL = 2;

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

/**
 * Streams the rest of a request body from the client to the backend. Bytes after the body's
 * end stay in the request buffer as the next request. Resolves false on a framing error or
 * when either side failed.
 */
export async function pumpBody(
  s: ProxySession,
  bc: BackendConn,
  chunked: boolean,
  clRemaining: number,
): Promise<boolean> {
  const buf = s.pooledBuf;
  if (s.buf !== buf) s.buf = buf;
  s.start = s.end = 0;
  let remaining = clRemaining;
  while (true) {
    s.clientDeadline = s.host.deadlineBase + s.listener.frontTimeoutMs;
    const n = await s.read(buf);
    s.clientDeadline = 0;
    if (!n) return false;
    let take = n;
    let done = false;
    if (chunked) {
      const r = s.scanner!.feed(buf, 0, n);
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
    s.bytesIn += take;
    await writeAll(bc.conn, buf.subarray(0, take));
    if (done) {
      s.start = take;
      s.end = n;
      return true;
    }
  }
}

/**
 * Reads the backend's answer and relays it; see R_* for the result.
 * Long on purpose: one async frame per response (each split-off await would add a promise).
 */
export async function relayResponse(
  s: ProxySession,
  req: RequestHead,
  bc: BackendConn,
  requestId: string,
  retry: number,
): Promise<number> {
  const host = s.host;
  const pooled = host.ioBuffers.acquire();
  let rbuf = pooled ?? new Uint8Array(host.ioBuffers.size);
  let rs = HEADROOM;
  let re = HEADROOM;
  let sentAny = false;
  let receivedAny = false;
  const backTimeout = s.listener.backTimeoutMs;
  try {
    let head: ResponseHead;
    let he: number;
    while (true) {
      let found: ResponseHead | null;
      try {
        const sticky = s.stickyName;
        found = scanResponseHead(rbuf, rs, re, sticky);
        while (found === null) {
          if (re - rs > MAX_HEAD) return await fail(s, 502, sentAny);
          if (re === rbuf.byteLength) {
            if (rs > HEADROOM) {
              rbuf.copyWithin(HEADROOM, rs, re);
              re -= rs - HEADROOM;
              rs = HEADROOM;
            } else {
              const bigger = new Uint8Array(
                Math.min(rbuf.byteLength * 2, MAX_HEAD + HEADROOM + 4096),
              );
              if (bigger.byteLength <= rbuf.byteLength) return await fail(s, 502, sentAny);
              bigger.set(rbuf.subarray(0, re));
              rbuf = bigger;
            }
          }
          s.backendDeadline = s.host.deadlineBase + backTimeout;
          let n: number | null;
          try {
            n = await bc.read(rbuf.subarray(re));
          } catch (error) {
            if (s.backendTimedOut) return await fail(s, 504, sentAny);
            if (retry !== RETRY_NONE && !receivedAny && !s.closed) return R_RETRY;
            host.debug("backend read failed", { error: String(error) });
            return await fail(s, receivedAny ? 502 : 503, sentAny);
          } finally {
            s.backendDeadline = 0;
          }
          if (!n) {
            if (retry !== RETRY_NONE && !receivedAny && !s.closed) return R_RETRY;
            return await fail(s, receivedAny ? 502 : 503, sentAny);
          }
          receivedAny = true;
          re += n;
          // The head is scanned again from its start only when a line may have ended (a head
          // trickling in byte by byte costs one pass per line, not one per byte).
          const lf = rbuf.indexOf(10, re - n);
          if (lf >= 0 && lf < re) found = scanResponseHead(rbuf, rs, re, sticky);
        }
      } catch (error) {
        if (error instanceof HeadError) {
          host.debug("invalid backend response", { reason: error.message });
          return await fail(s, 502, sentAny);
        }
        throw error;
      }
      head = found;
      he = rs + head.length;
      if (head.status >= 200 || head.status === 101) break;
      // Interim response (100 Continue, 103 Early Hints…): forward as is, read the next head.
      if (req.minor === 1) {
        s.clientDeadline = s.host.deadlineBase + s.listener.frontTimeoutMs;
        await writeAll(s.conn, rbuf.subarray(rs, he));
        s.clientDeadline = 0;
        s.bytesOut += he - rs;
        sentAny = true;
      }
      rs = he;
    }

    s.status = head.status;
    if (head.status === 101) {
      if (req.upgrade === null) return await fail(s, 502, sentAny);
      return await tunnel(s, rbuf, rs, he, re, head, bc, requestId);
    }

    const noBody = req.method === "HEAD" || head.status === 204 || head.status === 304;
    if (
      (s.coalesce || retry === RETRY_PARTIAL) && !noBody && !head.chunked &&
      head.contentLength > re - he && he + head.contentLength <= rbuf.byteLength
    ) {
      re = await readBody(s, bc, rbuf, re, he + head.contentLength);
      if (
        re < he + head.contentLength && retry === RETRY_PARTIAL && !sentAny && !s.closed &&
        !s.backendTimedOut
      ) return R_RETRY;
    }
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
      if (r === CHUNKED_ERROR) return await fail(s, 502, sentAny);
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
      `Sozu-Id: ${requestId}\r\n${s.setCookie}${extra}`,
    );
    s.clientDeadline = s.host.deadlineBase + s.listener.frontTimeoutMs;
    s.bytesOut += he + bodyAvail - headStart;
    await writeAll(s.conn, rbuf.subarray(headStart, he + bodyAvail));
    sentAny = true;

    while (!complete) {
      s.clientDeadline = 0;
      s.backendDeadline = s.host.deadlineBase + backTimeout;
      let n: number | null;
      try {
        n = await bc.read(rbuf);
      } catch {
        n = null;
      } finally {
        s.backendDeadline = 0;
      }
      if (!n) {
        if (untilClose) break;
        // Truncated response: the client must see the connection end.
        s.close();
        return R_CLOSE;
      }
      let take = n;
      if (scanner !== null) {
        const r = scanner.feed(rbuf, 0, n);
        if (r === CHUNKED_ERROR) {
          s.close();
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
      s.clientDeadline = s.host.deadlineBase + s.listener.frontTimeoutMs;
      s.bytesOut += take;
      await writeAll(s.conn, rbuf.subarray(0, take));
    }
    s.clientDeadline = 0;
    bc.reusable = head.minor === 1 && !head.close && exactEnd && !untilClose;
    return keepClient ? R_KEEP : R_CLOSE;
  } catch (error) {
    if (s.backendTimedOut) return await fail(s, 504, sentAny);
    host.debug("exchange failed", { error: String(error) });
    return await fail(s, 502, sentAny);
  } finally {
    if (pooled) host.ioBuffers.release(pooled);
  }
}

/**
 * Reads the backend's response into `rbuf` from `re` until `want` bytes are there (see
 * `ProxySession.coalesce`); returns the new end. A backend that ends, fails or times out first
 * just stops the reading: the relay's own loop then sees that again and handles it.
 */
async function readBody(
  s: ProxySession,
  bc: BackendConn,
  rbuf: Uint8Array,
  re: number,
  want: number,
): Promise<number> {
  while (re < want) {
    s.backendDeadline = s.host.deadlineBase + s.listener.backTimeoutMs;
    let n: number | null;
    try {
      n = await bc.read(rbuf.subarray(re));
    } catch {
      return re;
    } finally {
      s.backendDeadline = 0;
    }
    if (!n) return re;
    re += n;
  }
  return re;
}

/** A canned answer when nothing was sent yet, else just the end of the connection. */
async function fail(s: ProxySession, status: number, sentAny: boolean): Promise<number> {
  if (s.backend) {
    s.host.pool.discard(s.backend);
    s.backend = null;
  }
  if (!sentAny && !s.closed) await s.answer(status);
  else s.close();
  return R_CLOSE;
}

/** 101 Switching Protocols: forward the head, then splice the two connections. */
async function tunnel(
  s: ProxySession,
  rbuf: Uint8Array,
  rs: number,
  he: number,
  re: number,
  head: ResponseHead,
  bc: BackendConn,
  requestId: string,
): Promise<number> {
  const headStart = rewriteResponseHead(
    rbuf,
    rs,
    he,
    head,
    `Sozu-Id: ${requestId}\r\n${s.setCookie}`,
  );
  await writeAll(s.conn, rbuf.subarray(headStart, re));
  s.enterTunnel();
  const fromClient = s.buf.subarray(s.start, s.end);
  if (fromClient.byteLength > 0) await writeAll(bc.conn, fromClient.slice());
  s.start = s.end = 0;
  // A tunnel with no traffic either way for the listener's front timeout is closed (so an idle
  // WebSocket cannot hold a soft stop forever).
  const idleMs = s.listener.frontTimeoutMs;
  s.clientDeadline = s.host.deadlineBase + idleMs;
  const pipe = async (read: Reader, dst: ByteConn, buf: Uint8Array) => {
    try {
      while (true) {
        const n = await read(buf);
        if (!n) break;
        s.clientDeadline = s.host.deadlineBase + idleMs;
        await writeAll(dst, buf.subarray(0, n));
      }
    } catch {
      // either side went away
    }
  };
  const both = [pipe(s.read, bc.conn, s.pooledBuf), pipe(bc.read, s.conn, rbuf)];
  await Promise.race(both);
  s.close();
  await Promise.all(both);
  return R_TUNNEL;
}
