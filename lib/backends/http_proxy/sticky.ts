/**
 * Sticky sessions (sozu's `sticky_session` applications): the request's sticky cookie (named by
 * the listener's `sticky_name`) picks the backend whose `sticky_id` (else `backend_id`) it holds,
 * when that backend can open; otherwise normal balancing picks one and the response gets
 * `Set-Cookie: <name>=<value>; Path=/`. The sticky cookie never reaches the backend (other
 * cookies do; an emptied Cookie header is left out), and the backend's own Set-Cookie for the
 * sticky name is dropped (response_head.ts). Only exchanges of sticky clusters come here: the
 * request head parser just notes where the first Cookie line is.
 */
import { canOpen } from "./backend_health.ts";
import { equalsLower, latin1, startsWith } from "./head_bytes.ts";
import type { BackendSpec } from "./model.ts";
import type { RequestHead } from "./request_head.ts";
import type { ClusterState, RoutedBackend } from "./routing.ts";

/** The default sticky cookie name (sozu's). */
export const DEFAULT_STICKY_NAME = "SOZUBALANCEID";

/** The per-exchange sticky state a session keeps (all empty for non-sticky clusters). */
export interface StickyState {
  /** The sticky cookie name of this exchange, or null when the cluster is not sticky. */
  stickyName: string | null;
  /** `Cookie: …\r\n` to send upstream in place of the client's Cookie lines ("" for none). */
  cookieLine: string;
  /** `Set-Cookie: …\r\n` to add to the response ("" for none). */
  setCookie: string;
}

/** The value a backend is pinned by: its `sticky_id`, else its `backend_id`. */
export function stickyValue(backend: BackendSpec): string {
  return backend.stickyId ?? backend.backendId;
}

/**
 * Reads the request's Cookie lines for a sticky exchange: returns the sticky cookie's value (or
 * null), drops the Cookie lines from the forwarded head and keeps the other cookies in
 * `state.cookieLine`. Works on the bytes: the only strings made are the sticky value and, when
 * other cookies are kept, the Cookie line.
 */
export function stickyRequest(
  state: StickyState,
  head: RequestHead,
  buf: Uint8Array,
  from: number,
  name: string,
): string | null {
  state.stickyName = name;
  state.cookieLine = "";
  state.setCookie = "";
  if (head.cookieAt < 0) return null;
  const lines = cookieLines(buf, from, head);
  let value: string | null = null;
  let kept = "";
  for (let i = 0; i < lines.length; i += 2) {
    const lineEnd = from + lines[i + 1]! - 2;
    // Each `;`-separated part, trimmed of spaces and tabs, after the line's `Cookie:`.
    for (let p = from + lines[i]! + 7; p < lineEnd;) {
      let semi = p;
      while (semi < lineEnd && buf[semi] !== 59) semi++;
      let a = p;
      let b = semi;
      while (a < b && isBlank(buf[a]!)) a++;
      while (b > a && isBlank(buf[b - 1]!)) b--;
      p = semi + 1;
      if (a === b) continue;
      let eq = a;
      while (eq < b && buf[eq] !== 61) eq++;
      let nameEnd = eq;
      while (nameEnd > a && isBlank(buf[nameEnd - 1]!)) nameEnd--;
      if (eq < b && nameEnd - a === name.length && startsWith(buf, a, nameEnd, name)) {
        if (value === null) {
          let v = eq + 1;
          while (v < b && isBlank(buf[v]!)) v++;
          value = latin1(buf, v, b);
        }
      } else kept = kept === "" ? latin1(buf, a, b) : `${kept}; ${latin1(buf, a, b)}`;
    }
  }
  head.drops = head.drops.length === 0 ? lines : mergeRanges(head.drops, lines);
  if (kept !== "") state.cookieLine = `Cookie: ${kept}\r\n`;
  return value;
}

/** Space or horizontal tab. */
function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** Two lists of [start, end) pairs, each sorted, merged into one sorted by start. */
function mergeRanges(a: number[], b: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]! <= b[j]!)) out.push(a[i++]!, a[i++]!);
    else out.push(b[j++]!, b[j++]!);
  }
  return out;
}

/** [start, end) ranges (relative to the head) of every Cookie line, from the first one on. */
function cookieLines(buf: Uint8Array, from: number, head: RequestHead): number[] {
  const out: number[] = [];
  const limit = from + head.length - 2;
  let pos = from + head.cookieAt;
  while (pos < limit) {
    const eol = buf.indexOf(13, pos);
    if (buf[pos + 6] === 58 && equalsLower(buf, pos, "cookie")) {
      out.push(pos - from, eol + 2 - from);
    }
    pos = eol + 2;
  }
  return out;
}

/**
 * The backend the sticky cookie names, when it can open now and was not tried yet; null sends
 * the exchange to normal balancing.
 */
export function stickyPick(
  cluster: ClusterState,
  value: string | null,
  tried: readonly BackendSpec[] | null,
  now: number,
): RoutedBackend | null {
  if (value === null) return null;
  for (const list of [cluster.primary, cluster.backups]) {
    for (const b of list) {
      if (stickyValue(b) !== value) continue;
      if (tried !== null && tried.includes(b)) continue;
      if (canOpen(b, now)) return b;
    }
  }
  return null;
}

/** Sets the response's Set-Cookie for the backend chosen (none when the client's cookie matched). */
export function stickyResponse(
  state: StickyState,
  backend: BackendSpec,
  value: string | null,
): void {
  const pinned = stickyValue(backend);
  state.setCookie = pinned === value ? "" : `Set-Cookie: ${state.stickyName}=${pinned}; Path=/\r\n`;
}

/** Clears the sticky state (an exchange of a non-sticky cluster). */
export function stickyReset(state: StickyState): void {
  state.stickyName = null;
  state.cookieLine = "";
  state.setCookie = "";
}
