/**
 * One request/response exchange of a {@linkcode ProxySession}: route the parsed head (host, then
 * front, cluster and backend), measure the body already buffered, write the rewritten head and
 * that body to a pooled keep-alive backend connection (or a new one; a failed write on a reused
 * connection is retried on a new one), stream the rest of the body while the response is relayed
 * (relay.ts), and give the backend connection back to the pool.
 */
import { type BackendConn, ConnectError, connectErrorText } from "./backend_pool.ts";
import { CHUNKED_ERROR, CHUNKED_MORE, ChunkedScanner } from "./chunked.ts";
import type { BackendSpec } from "./model.ts";
import {
  pumpBody,
  R_KEEP,
  R_RETRY,
  R_TUNNEL,
  relayResponse,
  RETRY_NONE,
  RETRY_PARTIAL,
  RETRY_UNANSWERED,
} from "./relay.ts";
import type { RequestHead } from "./request_head.ts";
import { proxyHeaderFor } from "./proxied_conn.ts";
import { type ClusterState, hostForLookup, type RoutedBackend } from "./routing.ts";
import type { ProxySession } from "./session.ts";
import {
  DEFAULT_STICKY_NAME,
  stickyPick,
  stickyRequest,
  stickyReset,
  stickyResponse,
} from "./sticky.ts";
import { writeAll, writeLatin1 } from "./write.ts";

/** Connection attempts per request, each on a different backend, before a 503. */
export const CONNECT_ATTEMPTS = 3;

/** Methods sent again to another backend when one closed a fresh connection without answering. */
const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"]);

/** The Host value in lookup form ("" when absent, null when invalid); caches the last one. */
function lookupHostname(s: ProxySession, host: string | null): string | null {
  if (host === null) return "";
  // Clients repeat the same Host: the last one's lookup form is kept.
  if (host !== s.lastHost) {
    s.lastHost = host;
    s.lastHostname = hostForLookup(host);
  }
  return s.lastHostname;
}

/**
 * Where the request body bytes already buffered end (`headEnd` when there is no body), or -1
 * when its chunked framing is invalid. A chunked body is complete when `s.scanner.done`.
 */
function bufferedBodyEnd(s: ProxySession, head: RequestHead, headEnd: number): number {
  if (head.chunked) {
    const scanner = s.scanner ??= new ChunkedScanner();
    scanner.reset();
    const r = scanner.feed(s.buf, headEnd, s.end);
    if (r === CHUNKED_ERROR) return -1;
    return r === CHUNKED_MORE ? s.end : r;
  }
  if (head.contentLength > 0) return headEnd + Math.min(s.end - headEnd, head.contentLength);
  return headEnd;
}

/**
 * A new connection to the backend, or null when it cannot be made (logged, and counted: the
 * backend starts a retry back-off, and its idle pooled connections, surely dead, are closed).
 */
async function openBackend(
  s: ProxySession,
  cluster: ClusterState,
  backend: RoutedBackend,
  sendProxy: boolean,
): Promise<BackendConn | null> {
  const pool = s.host.pool;
  const metrics = s.host.metrics;
  const c0 = metrics.enabled ? performance.now() : -1;
  try {
    const bc = await pool.open(backend.address, s.listener.connectTimeoutMs);
    if (sendProxy) {
      await writeAll(bc.conn, proxyHeaderFor(s.conn)).catch((cause) => {
        pool.discard(bc);
        throw new ConnectError(backend.address, { cause });
      });
    }
    s.host.routing.connected(cluster, backend, pool.clock);
    if (c0 >= 0) metrics.connected(backend, performance.now() - c0);
    return bc;
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    const text = connectErrorText(error);
    s.host.routing.connectFailed(backend, text, pool.clock);
    pool.dropAddress(backend.address);
    s.host.debug("backend connect failed", { backend: backend.address, error: String(error) });
    return null;
  }
}

/**
 * Streams the rest of the request body while the response is relayed. A client that goes away
 * (or sends broken chunks) mid-body ends the exchange at once: closing both sides wakes the
 * response read. `s.pumping` turns false once the body has ended, either way.
 */
function startPump(
  s: ProxySession,
  bc: BackendConn,
  chunked: boolean,
  clRemaining: number,
): Promise<boolean> {
  s.pumping = true;
  return pumpBody(s, bc, chunked, clRemaining).then((ok) => {
    s.pumping = false;
    if (!ok) s.close();
    return ok;
  }, () => {
    s.pumping = false;
    s.close();
    return false;
  });
}

/**
 * One request/response exchange; returns whether to keep the client connection.
 * Long on purpose: one async frame per request (each split-off await would add a promise).
 */
export async function exchange(
  s: ProxySession,
  head: RequestHead,
  headEnd: number,
): Promise<boolean> {
  const host = s.host;
  s.bytesIn = headEnd - s.start;
  const hostname = lookupHostname(s, head.host);
  if (hostname === null) {
    await s.answer(400);
    return false;
  }
  const front = host.routing.lookup(s.listener.address, hostname, head.path, head.method);
  if (front === null) {
    await s.answer(404, s.listener.spec.answer404);
    return false;
  }
  if (front.deny === true) {
    await s.answer(401);
    return false;
  }
  s.routedCluster = front.clusterId;
  const cluster = host.routing.cluster(front.clusterId);
  if (cluster?.spec?.httpsRedirect === true && s.listener.proto === "http") {
    await s.redirectToHttps(head, hostname);
    return false;
  }
  const answer503 = cluster?.spec?.answer503 ?? s.listener.spec.answer503;
  // send_proxy: a v2 header names one client, so such backend connections are never pooled.
  const sendProxy = cluster?.spec?.proxyProtocol === "SEND_HEADER";
  // Sticky applications only: the Cookie lines are read, and the cookie names the backend.
  const sticky = cluster?.spec?.stickySession === true;
  const pinned = sticky
    ? stickyRequest(s, head, s.buf, s.start, s.listener.spec.stickyName ?? DEFAULT_STICKY_NAME)
    : null;
  if (!sticky && s.stickyName !== null) stickyReset(s);

  const bodyEnd = bufferedBodyEnd(s, head, headEnd);
  if (bodyEnd < 0) {
    await s.answer(400);
    return false;
  }
  const clRemaining = head.contentLength > 0 ? head.contentLength - (bodyEnd - headEnd) : 0;
  const bodyDone = head.chunked ? s.scanner!.done : clRemaining === 0;

  const requestId = host.nextRequestId();
  s.requestId = requestId;
  const reqStart = s.start;
  s.start = bodyEnd;
  s.bytesIn = bodyEnd - reqStart;

  // Backends that failed to connect or to take the request (as many as attempts made).
  let tried: BackendSpec[] | null = null;
  let forceNew = false;
  for (let round = 0;; round++) {
    const backend = cluster === undefined
      ? null
      : (sticky ? stickyPick(cluster, pinned, tried, host.pool.clock) : null) ??
        host.routing.pickBackend(cluster, forceNew ? null : tried);
    if (backend === null) {
      await s.answer(503, answer503);
      return false;
    }
    if (sticky) stickyResponse(s, backend, pinned);
    // Latency is timed on a sample (a clock read costs ~0.4 µs); the count is always kept. An
    // access-logged connection times every exchange for its log line, but only the sample feeds
    // the backend's histogram and load average.
    const sampled = backend.counters.timing();
    const t0 = sampled || s.accessLog !== null ? performance.now() : -1;
    const bc = (forceNew || sendProxy ? null : host.pool.take(backend.address)) ??
      await openBackend(s, cluster!, backend, sendProxy);
    if (bc === null) {
      forceNew = false;
      if ((tried ??= []).push(backend) >= CONNECT_ATTEMPTS) {
        await s.answer(503, answer503);
        return false;
      }
      continue;
    }
    // In flight on this backend until the finally (least_loaded reads it; a removed backend
    // reports it has no connections left when it drops to 0).
    host.routing.begin(backend);
    try {
      if (s.closed) {
        host.pool.discard(bc);
        return false;
      }
      s.backend = bc;
      s.backendTimedOut = false;
      // Built for each attempt: the request bytes stay in the client buffer until the exchange
      // ends (no pump has read over them yet), so the output buffer goes back to the pool right
      // after the write.
      const out = buildRequest(s, head, reqStart, headEnd, bodyEnd, requestId);
      try {
        await writeAll(bc.conn, out.bytes);
      } catch {
        if (out.pooled) host.ioBuffers.release(out.pooled);
        s.backend = null;
        host.pool.discard(bc);
        if (bc.reused && round < 4) {
          forceNew = true;
          continue;
        }
        backend.counters.failed("the request could not be written", host.pool.clock);
        if ((tried ??= []).push(backend) >= CONNECT_ATTEMPTS) {
          await s.answer(503, answer503);
          return false;
        }
        continue;
      }
      if (out.pooled) host.ioBuffers.release(out.pooled);
      forceNew = false;
      const pump = bodyDone ? null : startPump(s, bc, head.chunked, clRemaining);
      // Sent again when no answer byte came on a reused connection (it was stale), and for a
      // safe method also when the backend died before anything reached the client (another
      // backend is tried when the connection was fresh).
      const retry = !bodyDone || round >= 4
        ? RETRY_NONE
        : SAFE_METHODS.has(head.method)
        ? RETRY_PARTIAL
        : bc.reused
        ? RETRY_UNANSWERED
        : RETRY_NONE;
      const result = await relayResponse(s, head, bc, requestId, retry);
      if (result === R_RETRY) {
        s.backend = null;
        host.pool.discard(bc);
        if (bc.reused) forceNew = true;
        else if ((tried ??= []).push(backend) >= CONNECT_ATTEMPTS) {
          await s.answer(503, answer503);
          return false;
        }
        continue;
      }
      backend.counters.requests++;
      s.routedBackend = backend;
      if (t0 >= 0) {
        const now = s.backendEnd = performance.now();
        const ms = s.backendMs = now - t0;
        if (sampled) {
          backend.counters.record(ms);
          backend.health.sample(ms, host.pool.clock);
        }
      }
      if (result === R_TUNNEL) return false;
      if (pump !== null) {
        if (s.pumping) {
          // The backend answered before the request body ended: the client's stream position
          // is unknown, so neither connection can be reused.
          s.close();
          await pump;
          return false;
        }
        if (!await pump) {
          s.close();
          return false;
        }
      }
      if (s.backend === bc) {
        s.backend = null;
        if (result === R_KEEP && bc.reusable && !sendProxy) host.pool.give(bc);
        else host.pool.discard(bc);
      }
      return result === R_KEEP && !s.closed;
    } finally {
      host.routing.end(backend);
    }
  }
}

/** The rewritten request head plus the buffered body bytes, ready for one write. */
function buildRequest(
  s: ProxySession,
  head: RequestHead,
  start: number,
  headEnd: number,
  bodyEnd: number,
  requestId: string,
): { bytes: Uint8Array; pooled: Uint8Array | null } {
  const buf = s.buf;
  const extra = 600 + (head.xff?.length ?? 0) + (head.forwarded?.length ?? 0) +
    requestId.length + s.cookieLine.length;
  const needed = (headEnd - start) + extra + (bodyEnd - headEnd);
  let pooled: Uint8Array | null = null;
  let out: Uint8Array;
  if (needed <= s.host.ioBuffers.size) {
    pooled = s.host.ioBuffers.acquire();
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
  if (head.upgrade !== null) pos = writeLatin1("Connection: upgrade\r\n", out, pos);
  if (s.cookieLine !== "") pos = writeLatin1(s.cookieLine, out, pos);
  if (head.xff === null && head.forwarded === null && !head.hasXfProto && !head.hasXfPort) {
    out.set(s.fixedBytes, pos);
    pos = writeLatin1(`Sozu-Id: ${requestId}\r\n\r\n`, out, pos + s.fixedBytes.byteLength);
  } else {
    let text = "";
    if (!head.hasXfProto) text += s.protoLine;
    if (!head.hasXfPort) text += s.portLine;
    text += head.xff === null ? s.xffLine : `X-Forwarded-For: ${head.xff}, ${s.clientIp}\r\n`;
    text += head.forwarded === null
      ? `Forwarded: ${s.fwdFor}\r\n`
      : `Forwarded: ${head.forwarded}, ${s.fwdFor}\r\n`;
    text += `Sozu-Id: ${requestId}\r\n\r\n`;
    pos = writeLatin1(text, out, pos);
  }
  if (bodyEnd > headEnd) {
    out.set(buf.subarray(headEnd, bodyEnd), pos);
    pos += bodyEnd - headEnd;
  }
  return { bytes: out.subarray(0, pos), pooled };
}
