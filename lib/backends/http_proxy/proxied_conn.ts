/**
 * `expect_proxy`: reads the PROXY header a connection must start with (strictly, before a
 * deadline) and gives the connection as a {@linkcode ProxiedConn} whose `remoteAddr` and
 * `localAddr` are the addresses the header carries, so the HTTP session's X-Forwarded-For,
 * Forwarded and logs, and a TCP session's own `send_proxy` header, name the real client.
 */
import type { ByteConn } from "./backend_pool.ts";
import {
  encodeProxyV2,
  parseProxyHeader,
  PROXY_HEADER_MAX,
  type ProxyEndpoint,
  type ProxyHeader,
} from "./proxy_protocol.ts";

/** A connection that can end its sending half (TCP), as the TCP proxy uses it. */
export interface DuplexConn extends ByteConn {
  closeWrite?(): Promise<void>;
}

function netAddr(endpoint: ProxyEndpoint): Deno.NetAddr {
  return { transport: "tcp", hostname: endpoint.ip, port: endpoint.port };
}

const UNKNOWN: Deno.NetAddr = { transport: "tcp", hostname: "unknown", port: 0 };

/** A connection after its PROXY header: the carried addresses, and the bytes read past it. */
export class ProxiedConn implements DuplexConn {
  readonly remoteAddr: Deno.Addr;
  readonly localAddr: Deno.Addr;
  /** The header's raw bytes (RELAY_HEADER sends them on). */
  readonly rawHeader: Uint8Array;
  #inner: DuplexConn;
  #rest: Uint8Array | null;

  constructor(inner: DuplexConn, header: ProxyHeader, raw: Uint8Array, rest: Uint8Array) {
    this.#inner = inner;
    this.rawHeader = raw;
    this.#rest = rest.byteLength > 0 ? rest : null;
    this.remoteAddr = header.source ? netAddr(header.source) : inner.remoteAddr ?? UNKNOWN;
    this.localAddr = header.destination ? netAddr(header.destination) : inner.localAddr ?? UNKNOWN;
  }

  read(p: Uint8Array): Promise<number | null> {
    const rest = this.#rest;
    if (rest === null) return this.#inner.read(p);
    const n = Math.min(rest.byteLength, p.byteLength);
    p.set(rest.subarray(0, n));
    this.#rest = n === rest.byteLength ? null : rest.subarray(n);
    return Promise.resolve(n);
  }

  write(p: Uint8Array): Promise<number> {
    return this.#inner.write(p);
  }

  close(): void {
    this.#inner.close();
  }

  setNoDelay(noDelay?: boolean): void {
    this.#inner.setNoDelay?.(noDelay);
  }

  closeWrite(): Promise<void> {
    return this.#inner.closeWrite?.() ?? Promise.resolve();
  }
}

/**
 * Reads the PROXY header of `conn`; resolves with the wrapped connection, or rejects (the
 * caller closes the connection) when the header is missing, malformed, or late: the deadline
 * closes the connection, which ends the read.
 */
export async function readProxyHeader(conn: DuplexConn, timeoutMs: number): Promise<ProxiedConn> {
  const buf = new Uint8Array(PROXY_HEADER_MAX);
  let len = 0;
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
  }, timeoutMs);
  try {
    for (;;) {
      const header = parseProxyHeader(buf, len);
      if (header !== null) {
        const raw = buf.slice(0, header.length);
        return new ProxiedConn(conn, header, raw, buf.slice(header.length, len));
      }
      if (len === buf.byteLength) throw new Error("PROXY header too long");
      const n = await conn.read(buf.subarray(len));
      if (n === null) throw new Error("connection closed before its PROXY header");
      len += n;
    }
  } catch (error) {
    throw late ? new Error("no PROXY header in time") : error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Reads the PROXY header of an accepted connection, then `serve`s it wrapped; a connection
 * without a valid header in time is closed (and logged at debug level).
 */
export function acceptProxied(
  conn: DuplexConn,
  runtime: { address: string; requestTimeoutMs: number },
  log: (level: "debug", msg: string, fields: Record<string, unknown>) => void,
  serve: (conn: ProxiedConn) => void,
): void {
  readProxyHeader(conn, runtime.requestTimeoutMs).then(serve, (error) => {
    try {
      conn.close();
    } catch {
      // already closed
    }
    log("debug", "connection without a valid PROXY header closed", {
      listener: runtime.address,
      error: error instanceof Error ? error.message : String(error),
    });
  });
}

function endpointOf(addr: Deno.Addr | undefined): ProxyEndpoint | null {
  if (addr && (addr.transport === "tcp" || addr.transport === "udp")) {
    return { ip: addr.hostname, port: addr.port };
  }
  return null;
}

/** The v2 header naming a client connection (its carried addresses, if any) for a backend. */
export function proxyHeaderFor(conn: ByteConn): Uint8Array {
  const source = endpointOf(conn.remoteAddr) ?? { ip: "", port: 0 };
  const destination = endpointOf(conn.localAddr) ?? { ip: "", port: 0 };
  return encodeProxyV2(source, destination);
}
