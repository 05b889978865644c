/**
 * Helpers for the data-plane tests: a proxy data plane with orders applied, real backends
 * (Deno.serve, or a raw TCP server that records the bytes it receives and answers by script),
 * and a raw client that writes exact bytes and reads the answer.
 */
import {
  type CertificateSpec,
  createDataPlane,
  type ListenerSpec,
  type ProxyEvent,
  type ProxyOrder,
  type WorkerDataPlane,
  type WorkerEngineOptions,
} from "../../lib/backends/http_proxy/mod.ts";
import { createLogger, silentLogger } from "../../lib/core/mod.ts";
import { freePort } from "../_helpers/mod.ts";
import type { WorkerFaults } from "./_faults.ts";

/** A started data plane listening on `port`. */
export interface TestProxy extends AsyncDisposable {
  dp: WorkerDataPlane;
  port: number;
  address: string;
  orders: ProxyOrder[];
  apply(order: ProxyOrder): Promise<void>;
}

/** Options for {@linkcode startProxy}. */
export interface StartProxyOptions {
  workerCount?: number;
  listener?: Partial<ListenerSpec>;
  /** Clusters: id → backend addresses. */
  clusters?: Record<string, string[]>;
  /** Fronts: [hostname, pathBegin, clusterId]. */
  fronts?: [string, string, string][];
  tickMs?: number;
  orderTimeoutMs?: number;
  /** Engine tuning beyond tickMs. */
  engine?: WorkerEngineOptions;
  /** Start the workers on the fault module, so the test can crash or hang them. */
  faults?: WorkerFaults;
  /** Certificates added to the listener (an HTTPS one: `listener.protocol = "https"`). */
  certificates?: CertificateSpec[];
  /** Told every backend event. */
  onEvent?: (event: ProxyEvent) => void;
  /** The data plane's `directReads` (as the sozu service passes it). */
  directReads?: boolean;
}

/** Starts a data plane with one listener and the given clusters and fronts. */
export async function startProxy(options: StartProxyOptions = {}): Promise<TestProxy> {
  const port = freePort();
  const address = `127.0.0.1:${port}`;
  const orders: ProxyOrder[] = [];
  const dp = createDataPlane({
    workerCount: options.workerCount ?? 1,
    currentOrders: () => [...orders],
    ...(options.orderTimeoutMs ? { orderTimeoutMs: options.orderTimeoutMs } : {}),
    ...(options.faults ? { spawnWorker: options.faults.spawn } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.directReads === undefined ? {} : { directReads: options.directReads }),
    log: Deno.env.get("POLYAGENT_TEST_LOG")
      ? createLogger("http_proxy", { level: "debug" })
      : silentLogger("http_proxy"),
    engine: {
      tickMs: options.tickMs ?? 20,
      debug: !!Deno.env.get("POLYAGENT_TEST_LOG"),
      ...options.engine,
    },
  });
  await dp.start();
  const apply = async (order: ProxyOrder) => {
    await dp.apply(order);
    orders.push(order);
  };
  await apply({
    op: "add_listener",
    listener: { address, protocol: "http", ...(options.listener ?? {}) },
  });
  for (const [id, backends] of Object.entries(options.clusters ?? {})) {
    await apply({ op: "add_cluster", cluster: { id } });
    for (const [i, backendAddress] of backends.entries()) {
      await apply({
        op: "add_backend",
        backend: { clusterId: id, backendId: `${id}-${i}`, address: backendAddress },
      });
    }
  }
  for (const [hostname, pathBegin, clusterId] of options.fronts ?? []) {
    await apply({ op: "add_front", front: { listener: address, clusterId, hostname, pathBegin } });
  }
  for (const certificate of options.certificates ?? []) {
    await apply({ op: "add_certificate", listener: address, certificate });
  }
  await apply({ op: "activate_listener", address });
  return {
    dp,
    port,
    address,
    orders,
    apply,
    async [Symbol.asyncDispose]() {
      await dp.hardStop();
    },
  };
}

/** A Deno.serve backend. */
export interface TestBackend extends AsyncDisposable {
  port: number;
  address: string;
  requests: number;
}

/** Starts a Deno.serve backend on a free port. */
export function startHttpBackend(
  handler: (
    req: Request,
    info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  ) => Response | Promise<Response>,
): TestBackend {
  const port = freePort();
  const backend: TestBackend = {
    port,
    address: `127.0.0.1:${port}`,
    requests: 0,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, (req, info) => {
    backend.requests++;
    return handler(req, info);
  });
  return backend;
}

/** A raw TCP backend that records every byte and answers with a script. */
export interface RawBackend extends AsyncDisposable {
  port: number;
  address: string;
  /** Everything received, per connection, decoded latin-1. */
  received: string[];
  connections: number;
  all(): string;
}

/**
 * Starts a raw backend. `respond` is called with the bytes of a connection so far; it returns
 * bytes to send (whether to close, and the received bytes it left for the next call: `rest`,
 * default none), or null to wait for more.
 */
export function startRawBackend(
  respond: (
    received: string,
    conn: Deno.Conn,
  ) => { send: string; close?: boolean; rest?: string } | null = defaultRespond,
): RawBackend {
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const backend: RawBackend = {
    port,
    address: `127.0.0.1:${port}`,
    received: [],
    connections: 0,
    all: () => backend.received.join(""),
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await accepting;
    },
  };
  const serve = async (conn: Deno.Conn) => {
    conns.add(conn);
    const index = backend.received.length;
    backend.received.push("");
    backend.connections++;
    let pending = "";
    const buf = new Uint8Array(65536);
    try {
      while (true) {
        const n = await conn.read(buf);
        if (n === null) break;
        const text = latin1(buf.subarray(0, n));
        backend.received[index] += text;
        pending += text;
        while (true) {
          const answer = respond(pending, conn);
          if (answer === null) break;
          pending = answer.rest ?? "";
          if (answer.send) await conn.write(new TextEncoder().encode(answer.send));
          if (answer.close) {
            conn.close();
            return;
          }
          if (pending === "") break;
        }
      }
    } catch {
      // closed
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) serve(conn);
  })().catch(() => {});
  return backend;
}

/** Answers each complete body-less request with a 200 "ok" (keep-alive). */
export function defaultRespond(received: string): { send: string; rest: string } | null {
  const end = received.indexOf("\r\n\r\n");
  if (end < 0) return null;
  return {
    send: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    rest: received.slice(end + 4),
  };
}

/** latin-1 decoding. */
export function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

/** latin-1 encoding. */
export function bytesOf(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/**
 * Sends raw bytes and reads until the proxy closes, or until `until` matches what was read, or
 * `timeoutMs` passes. Returns what was read.
 */
export async function rawExchange(
  port: number,
  request: string | Uint8Array,
  options: { until?: (text: string) => boolean; timeoutMs?: number } = {},
): Promise<string> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return ""; // refused: nothing was read
  }
  const timer = setTimeout(() => conn.close(), options.timeoutMs ?? 5000);
  let text = "";
  try {
    await conn.write(typeof request === "string" ? bytesOf(request) : request);
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += latin1(buf.subarray(0, n));
      if (options.until?.(text)) break;
    }
  } catch {
    // closed by the timer
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed
    }
  }
  return text;
}

/** Counts complete HTTP responses (status lines) in a raw transcript. */
export function statusLines(text: string): string[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/g)].map((m) => m[1]!);
}
