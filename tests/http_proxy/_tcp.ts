/**
 * Helpers for the TCP proxy tests: a data plane with one TCP listener forwarding to a cluster,
 * a line backend (answers each connection after the client's half-close, or per line), and a
 * client that writes, half-closes and reads to the end.
 */
import type { ProxyProtocolMode } from "../../lib/backends/http_proxy/mod.ts";
import { freePort } from "../_helpers/mod.ts";
import { bytesOf, latin1, startProxy, type TestProxy } from "./_helpers.ts";

/** Starts a data plane with a TCP listener whose front forwards to cluster "tcp". */
export async function startTcpProxy(
  backends: string[],
  options: {
    expectProxy?: boolean;
    proxyProtocol?: ProxyProtocolMode;
    workerCount?: number;
    frontTimeoutMs?: number;
  } = {},
): Promise<TestProxy> {
  const proxy = await startProxy({
    listener: {
      protocol: "tcp",
      ...(options.expectProxy ? { expectProxy: true } : {}),
      ...(options.frontTimeoutMs ? { frontTimeoutMs: options.frontTimeoutMs } : {}),
    },
    workerCount: options.workerCount ?? 1,
  });
  await proxy.apply({
    op: "add_cluster",
    cluster: {
      id: "tcp",
      ...(options.proxyProtocol ? { proxyProtocol: options.proxyProtocol } : {}),
    },
  });
  for (const [i, address] of backends.entries()) {
    await proxy.apply({
      op: "add_backend",
      backend: { clusterId: "tcp", backendId: `tcp-${i}`, address },
    });
  }
  await proxy.apply({ op: "add_tcp_front", front: { listener: proxy.address, clusterId: "tcp" } });
  return proxy;
}

/** A backend that records what each connection sent and answers once the client half-closed. */
export interface EofBackend extends AsyncDisposable {
  address: string;
  /** Bytes received per connection (latin-1), in accept order. */
  received: Uint8Array[];
  connections: number;
}

/**
 * Starts a backend that reads each connection to its end, then answers `<name>:<byte count>:`
 * followed by the bytes received, and closes.
 */
export function startEofBackend(name: string): EofBackend {
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const backend: EofBackend = {
    address: `127.0.0.1:${port}`,
    received: [],
    connections: 0,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) closeQuietly(c);
      await accepting;
    },
  };
  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
    backend.connections++;
    try {
      const got = await readAll(conn);
      backend.received.push(got);
      const answer = new Uint8Array([...bytesOf(`${name}:${got.byteLength}:`), ...got]);
      await writeFull(conn, answer);
    } catch {
      // the proxy went away
    } finally {
      conns.delete(conn);
      closeQuietly(conn);
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })().catch(() => {});
  return backend;
}

/** Closes, ignoring "already closed". */
export function closeQuietly(conn: { close(): void }): void {
  try {
    conn.close();
  } catch {
    // closed
  }
}

/** Reads a connection to its end. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(65536);
  let total = 0;
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Writes every byte. */
export async function writeFull(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) off += await conn.write(data.subarray(off));
}

/** Connects to the proxy and writes `first` (the session then runs until the test ends it). */
export async function openSession(port: number, first: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeFull(conn, bytesOf(first));
  return conn;
}

/** Connects to the proxy, writes `data`, half-closes and reads the answer to the end. */
export async function roundTrip(port: number, data: Uint8Array): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeFull(conn, data);
    await conn.closeWrite();
    return await readAll(conn);
  } finally {
    closeQuietly(conn);
  }
}

/** `roundTrip` of a latin-1 text, answer decoded. */
export async function roundTripText(port: number, text: string): Promise<string> {
  return latin1(await roundTrip(port, bytesOf(text)));
}
