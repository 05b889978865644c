/**
 * Reads straight from Deno's read op. `Deno.Conn.prototype.read` wraps the op in an async function
 * that adds the op's promise to a Set of pending reads and deletes it in a `finally` (for
 * `unref()`, which the proxy never uses): a Set insert, a Set delete, a second promise and an async
 * frame per read. Calling the op itself (`Deno[Deno.internal].core.read(rid, buffer)`, the
 * connection's resource id under its `Symbol("Deno.internal.rid")` property) skips all of that; the
 * op, its errors and a close interrupting it are the same. Measured with `deno task bench https`'s
 * keep-alive rig (10 interleaved 5 s rounds, the same proxy with and without): p99 1.9–3.0 ms
 * instead of 3.2–5.1 ms, 0.8 µs less CPU per request, faster in 9 of 10 rounds.
 *
 * Both are internals of Deno: {@linkcode directReadSupport} says which one is missing, and
 * tests/http_proxy/direct_read_test.ts fails naming it after a Deno upgrade removes either; the
 * proxy then falls back to `conn.read` by itself. The switch back without an upgrade is the sozu
 * setting `direct_reads = false`.
 *
 * A reader resolves to the number of bytes read; **0 or null** means the end of the stream (the
 * op gives 0, `conn.read` null). The proxy never reads into an empty buffer.
 *
 * @module
 */
import type { ByteConn } from "./backend_pool.ts";

/** Reads into `p`; resolves to the bytes read, 0 or null at the end of the stream. */
export type Reader = (p: Uint8Array) => Promise<number | null>;

type OpRead = (rid: number, p: Uint8Array) => Promise<number>;

const RID_DESCRIPTION = "Deno.internal.rid";

/** `Deno[Deno.internal].core.read`, or null when this Deno has none. */
const opRead: OpRead | null = (() => {
  const internal = (Deno as unknown as { internal?: symbol }).internal;
  if (typeof internal !== "symbol") return null;
  const inner = (Deno as unknown as Record<symbol, { core?: { read?: unknown } } | undefined>)[
    internal
  ];
  const read = inner?.core?.read;
  return typeof read === "function" ? read as OpRead : null;
})();

/** Whether this Deno has the read op direct reads call. */
export const DIRECT_READ_OP: boolean = opRead !== null;

/** The resource-id symbol, learnt from the first Deno connection that has it. */
let ridSymbol: symbol | null = null;

function ridOf(conn: ByteConn): number | null {
  const record = conn as unknown as Record<symbol, unknown>;
  if (ridSymbol === null) {
    ridSymbol = Object.getOwnPropertySymbols(conn).find((s) => s.description === RID_DESCRIPTION) ??
      null;
    if (ridSymbol === null) return null;
  }
  const rid = record[ridSymbol];
  return typeof rid === "number" ? rid : null;
}

/**
 * The reader of `conn`: the read op on its resource when `direct` is on and `conn` is one of
 * Deno's own connections (TCP, TLS, Unix), else `conn.read`.
 */
export function readerOf(conn: ByteConn, direct: boolean): Reader {
  if (direct && opRead !== null) {
    const rid = ridOf(conn);
    if (rid !== null) {
      const read = opRead;
      return (p) => read(rid, p);
    }
  }
  return (p) => conn.read(p);
}

/**
 * Null when direct reads work with this Deno on `conn` (a Deno TCP or TLS connection), else which
 * internal is missing.
 */
export function directReadSupport(conn: ByteConn): string | null {
  if (opRead === null) return "Deno[Deno.internal].core.read is gone from this Deno";
  if (ridOf(conn) === null) {
    return `the connection has no Symbol("${RID_DESCRIPTION}") property holding its resource id`;
  }
  return null;
}
