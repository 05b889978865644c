/**
 * The bookkeeping around one exchange of a session: its facts are reset before it
 * ({@linkcode beginExchange}), then counted in the traffic metrics and written to the access log
 * after it ({@linkcode endExchange}). Nothing here allocates unless the access log is on.
 */
import type { RequestHead } from "./request_head.ts";
import type { ProxySession } from "./session.ts";

/** Resets the facts exchange.ts and relay.ts fill in. */
export function beginExchange(s: ProxySession): void {
  s.status = s.bytesIn = s.bytesOut = 0;
  s.routedCluster = s.requestId = null;
  s.routedBackend = null;
  s.backendMs = -1;
}

/** Counts the exchange (when metrics are on) and logs it (when its listener logs). */
export function endExchange(s: ProxySession, head: RequestHead, t0: number): void {
  const m = s.host.metrics;
  if (m.enabled) {
    m.record(s.routedCluster, s.routedBackend, s.status, s.bytesIn, s.bytesOut, s.backendMs);
  }
  const log = s.accessLog;
  if (log === null) return;
  const end = performance.now();
  log.add({
    time: Date.now() - (end - t0),
    client: s.clientLabel,
    listener: s.listener.address,
    method: head.method,
    host: head.host,
    path: head.path,
    status: s.status,
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    durationMs: end - t0,
    backendMs: s.backendMs,
    app: s.routedCluster,
    backend: s.routedBackend?.backendId ?? null,
    sozuId: s.requestId,
  });
}
