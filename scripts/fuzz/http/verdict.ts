/**
 * What a corpus connection's exchange means: the proxy's violations (a hang, a malformed response,
 * a response for the wrong request, a request forwarded twice or smuggled, framing a strict reader
 * calls ambiguous, a refusal status outside 400/404/408/413/414/431/501/505, a valid request not
 * served intact), and each request's outcome for the comparison with nginx.
 *
 * @module
 */
import { type BackendLog, type BackendRecord, digest } from "./backend.ts";
import type { ExchangeResult } from "./client.ts";
import type { CorpusConnection } from "./corpus.ts";

/** Statuses the proxy may answer a request with by itself. */
export const REFUSALS: ReadonlySet<number> = new Set([400, 404, 408, 413, 414, 431, 501, 505]);

/** One request's fate at a front. */
export type Outcome = string;

function attribution(c: CorpusConnection, r: ExchangeResult, problems: string[]): void {
  const ids = c.requests.map((q) => q.id);
  let last = -1;
  for (const resp of r.parsed.responses) {
    if (!resp.fromBackend) {
      if (!REFUSALS.has(resp.status)) problems.push(`the proxy answered ${resp.status} by itself`);
      continue;
    }
    const at = resp.echoId === null ? -1 : ids.indexOf(resp.echoId);
    if (at < 0) problems.push(`a response for ${resp.echoId} reached connection ${c.index}`);
    else if (at <= last) problems.push(`response for ${resp.echoId} out of order or repeated`);
    else last = at;
  }
}

function forwarding(c: CorpusConnection, records: readonly BackendRecord[], problems: string[]) {
  const ids = new Set(c.requests.map((q) => q.id));
  const seen = new Set<string>();
  for (const rec of records) {
    if (rec.id.startsWith("S")) problems.push(`smuggled request ${rec.id} reached the backend`);
    else if (!ids.has(rec.id)) problems.push(`unknown request ${rec.id} reached the backend`);
    else if (seen.has(rec.id)) problems.push(`request ${rec.id} forwarded twice`);
    seen.add(rec.id);
  }
}

/** Valid requests before any mutated one must be served by the backend, bodies intact. */
function servedIntact(c: CorpusConnection, r: ExchangeResult, problems: string[]): void {
  if (c.truncated) return;
  for (const [k, q] of c.requests.entries()) {
    if (q.mutated) return;
    const resp = r.parsed.responses[k];
    if (!resp || !resp.fromBackend || resp.echoId !== q.id || resp.status !== 200) {
      problems.push(`valid request ${q.id} not served (got ${resp ? resp.status : "nothing"})`);
      return;
    }
    if (q.intended !== null && q.method !== "HEAD" && resp.echoBody !== digest(q.intended)) {
      problems.push(
        `valid request ${q.id}: the backend got body ${resp.echoBody}, sent ${digest(q.intended)}`,
      );
    }
  }
}

/** The proxy's violations on one connection. */
export function proxyViolations(c: CorpusConnection, r: ExchangeResult, log: BackendLog): string[] {
  const problems: string[] = [];
  if (r.hung) problems.push("neither answered nor closed within 5 s of the client's end");
  if (r.parsed.error) problems.push(`malformed response: ${r.parsed.error}`);
  attribution(c, r, problems);
  forwarding(c, log.records.get(c.index) ?? [], problems);
  for (const v of log.violations) {
    if (v.index === c.index) problems.push(`forwarded ${v.id}: ${v.problem}`);
  }
  servedIntact(c, r, problems);
  return problems;
}

/** Each request's outcome: forwarded (with the body the backend got), refused, or nothing. */
export function outcomes(c: CorpusConnection, r: ExchangeResult, log: BackendLog): Outcome[] {
  const records = new Map((log.records.get(c.index) ?? []).map((x) => [x.id, x]));
  return c.requests.map((q, k) => {
    const resp = r.parsed.responses[k];
    const rec = records.get(q.id);
    if (resp?.fromBackend && resp.echoId === q.id) return `forwarded ${rec?.body ?? "?"}`;
    if (resp && !resp.fromBackend) return `refused ${resp.status}`;
    if (rec) return "forwarded, no response";
    return resp ? `answered for ${resp.echoId}` : "no response";
  });
}
