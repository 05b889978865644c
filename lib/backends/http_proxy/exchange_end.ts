/**
 * The bookkeeping around one exchange of a session: its facts are reset before it
 * ({@linkcode beginExchange}), then counted in the traffic metrics and written to the access log
 * after it ({@linkcode endExchange}). Nothing here allocates: the access log reads one reused
 * record.
 */
import type { AccessRecord } from "./access_log.ts";
import type { RequestHead } from "./request_head.ts";
import type { ProxySession } from "./session.ts";

/** Resets the facts exchange.ts and relay.ts fill in. */
export function beginExchange(s: ProxySession): void {
  s.status = s.bytesIn = s.bytesOut = 0;
  s.routedCluster = s.requestId = null;
  s.routedBackend = null;
  s.backendMs = -1;
  s.backendEnd = 0;
}

/** The record handed to the access log (read at once, so one serves every exchange). */
const record: AccessRecord = {
  time: 0,
  client: "",
  listener: "",
  method: "",
  host: null,
  path: "",
  status: 0,
  bytesIn: 0,
  bytesOut: 0,
  durationMs: 0,
  backendMs: -1,
  app: null,
  backend: null,
  sozuId: null,
};

/** Counts the exchange (when metrics are on) and logs it (when its listener logs). */
export function endExchange(s: ProxySession, head: RequestHead, t0: number): void {
  const m = s.host.metrics;
  if (m.enabled) {
    m.record(s.routedCluster, s.routedBackend, s.status, s.bytesIn, s.bytesOut, s.backendMs);
  }
  const log = s.accessLog;
  if (log === null) return;
  // The backend's end, when it was timed, is the exchange's end for the log (one clock read).
  const end = s.backendEnd > 0 ? s.backendEnd : performance.now();
  const r = record;
  r.time = Date.now() - (end - t0);
  r.client = s.clientLabel;
  r.listener = s.listener.address;
  r.method = head.method;
  r.host = head.host;
  r.path = head.path;
  r.status = s.status;
  r.bytesIn = s.bytesIn;
  r.bytesOut = s.bytesOut;
  r.durationMs = end - t0;
  r.backendMs = s.backendMs;
  r.app = s.routedCluster;
  r.backend = s.routedBackend?.backendId ?? null;
  r.sozuId = s.requestId;
  log.add(r);
}
