/**
 * A steady HTTP load for upgrade tests, on raw sockets so that every failure is seen as it is:
 * `keepAlive` clients send request after request on one connection (reconnecting only when a
 * response says `Connection: close`), `fresh` clients open a new connection per request. Any
 * refused, reset or cut connection, timeout or non-200 answer counts as a failure.
 */

/** What a load run saw. */
export interface LoadStats {
  ok: number;
  failed: number;
  /** The first failures, described. */
  errors: string[];
  /** Connections opened. */
  connections: number;
  /** `Connection: close` answers that made a keep-alive client reconnect. */
  closes: number;
}

/** Options for {@linkcode startLoad}. */
export interface LoadOptions {
  port: number;
  host?: string;
  keepAlive?: number;
  fresh?: number;
  /** Per-request deadline, ms. @default {10000} */
  timeoutMs?: number;
}

/** A running load. */
export interface Load {
  stats: LoadStats;
  /** Stops the clients and resolves with the totals. */
  stop(): Promise<LoadStats>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Answer {
  status: number;
  close: boolean;
}

/** Reads one response (Content-Length body) from `conn`. */
async function readAnswer(conn: Deno.Conn, buf: Uint8Array): Promise<Answer> {
  let len = 0;
  let headEnd = -1;
  while (headEnd < 0) {
    const n = await conn.read(buf.subarray(len));
    if (n === null) throw new Error(`connection closed after ${len} bytes of the answer`);
    len += n;
    headEnd = decoder.decode(buf.subarray(0, len)).indexOf("\r\n\r\n");
  }
  const head = decoder.decode(buf.subarray(0, headEnd));
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? -1);
  if (length < 0) throw new Error(`answer without Content-Length: ${head.split("\r\n")[0]}`);
  const total = headEnd + 4 + length;
  while (len < total) {
    const n = await conn.read(buf.subarray(len));
    if (n === null) throw new Error("connection closed in the body");
    len += n;
  }
  if (len > total) throw new Error("more bytes than one answer");
  return { status, close: /\r\nconnection:\s*close/i.test(head) };
}

function deadline<T>(work: Promise<T>, ms: number, conn: Deno.Conn | null): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        try {
          conn?.close();
        } catch {
          // closed
        }
        reject(new Error(`no answer within ${ms} ms`));
      }, ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Starts the clients. */
export function startLoad(options: LoadOptions): Load {
  const host = options.host ?? "app.test";
  const hostname = "127.0.0.1";
  const timeoutMs = options.timeoutMs ?? 10_000;
  const stats: LoadStats = { ok: 0, failed: 0, errors: [], connections: 0, closes: 0 };
  let running = true;
  const fail = (error: unknown) => {
    stats.failed++;
    if (stats.errors.length < 20) stats.errors.push(String((error as Error)?.message ?? error));
  };
  const request = (close: boolean) =>
    encoder.encode(
      `GET / HTTP/1.1\r\nHost: ${host}\r\n${close ? "Connection: close\r\n" : ""}\r\n`,
    );
  const keepAlive = async () => {
    const buf = new Uint8Array(64 * 1024);
    let conn: Deno.Conn | null = null;
    while (running) {
      try {
        if (!conn) {
          conn = await Deno.connect({ hostname, port: options.port });
          stats.connections++;
        }
        const c: Deno.Conn = conn;
        await c.write(request(false));
        const answer = await deadline(readAnswer(c, buf), timeoutMs, c);
        if (answer.status !== 200) throw new Error(`status ${answer.status}`);
        stats.ok++;
        if (answer.close) {
          stats.closes++;
          c.close();
          conn = null;
        }
      } catch (error) {
        fail(error);
        try {
          conn?.close();
        } catch {
          // closed
        }
        conn = null;
      }
    }
    conn?.close();
  };
  const fresh = async () => {
    const buf = new Uint8Array(64 * 1024);
    while (running) {
      let conn: Deno.Conn | null = null;
      try {
        conn = await Deno.connect({ hostname, port: options.port });
        stats.connections++;
        await conn.write(request(true));
        const answer = await deadline(readAnswer(conn, buf), timeoutMs, conn);
        if (answer.status !== 200) throw new Error(`status ${answer.status}`);
        stats.ok++;
      } catch (error) {
        fail(error);
      } finally {
        try {
          conn?.close();
        } catch {
          // closed
        }
      }
    }
  };
  const clients = [
    ...Array.from({ length: options.keepAlive ?? 8 }, keepAlive),
    ...Array.from({ length: options.fresh ?? 4 }, fresh),
  ];
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(clients);
      return stats;
    },
  };
}

/** A test backend answering every request with `body` (with Content-Length). */
export async function startBackend(
  body = "hello",
): Promise<{ address: string; requests: () => number } & AsyncDisposable> {
  const ready = Promise.withResolvers<number>();
  let requests = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (addr) => ready.resolve(addr.port),
  }, () => {
    requests++;
    return new Response(body);
  });
  const port = await ready.promise;
  return {
    address: `127.0.0.1:${port}`,
    requests: () => requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** What one control-socket probe saw. */
export interface ProbeStats {
  /** Answers (any HTTP status; any sozu reply). */
  answered: number;
  /** Connections refused (nobody listening: a gap) or, for a Unix socket, no socket there. */
  refused: number;
  /** Connections reset or closed without an answer. */
  failed: number;
  errors: string[];
}

/**
 * Probes the control listeners without pause, one new connection per probe: GET /healthz on the
 * admin port and LIST_WORKERS on the sozu socket.
 */
export function startProbes(
  adminPort: number,
  sozuSocket: string,
): { stop(): Promise<{ admin: ProbeStats; sozu: ProbeStats }> } {
  const all = {
    admin: { answered: 0, refused: 0, failed: 0, errors: [] } as ProbeStats,
    sozu: { answered: 0, refused: 0, failed: 0, errors: [] } as ProbeStats,
  };
  let running = true;
  const probe = async (
    name: "admin" | "sozu",
    connect: () => Promise<Deno.Conn>,
    request: string,
    answered: (text: string) => boolean,
  ) => {
    const stats = all[name];
    while (running) {
      let conn: Deno.Conn | null = null;
      try {
        conn = await connect().catch((error) => {
          const gap = error instanceof Deno.errors.ConnectionRefused ||
            error instanceof Deno.errors.NotFound;
          if (gap) stats.refused++;
          throw error;
        });
        await conn.write(encoder.encode(request));
        let text = "";
        const buf = new Uint8Array(65536);
        while (!answered(text)) {
          const n = await deadline(conn.read(buf), 10_000, conn);
          if (n === null) throw new Error(`closed without an answer: ${text.slice(0, 80)}`);
          text += decoder.decode(buf.subarray(0, n));
        }
        stats.answered++;
      } catch (error) {
        stats.failed++;
        if (stats.errors.length < 20) stats.errors.push(String(error));
      } finally {
        try {
          conn?.close();
        } catch {
          // closed
        }
      }
    }
  };
  const probes = [
    probe(
      "admin",
      () => Deno.connect({ hostname: "127.0.0.1", port: adminPort }),
      "GET /healthz HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n",
      (text) => /^HTTP\/1\.1 \d{3}/.test(text) && text.includes("\r\n\r\n{"),
    ),
    probe(
      "sozu",
      () => Deno.connect({ transport: "unix", path: sozuSocket }),
      JSON.stringify({ id: "probe", version: 0, type: "LIST_WORKERS" }) + "\0",
      (text) => /"status":"(OK|ERROR)"/.test(text),
    ),
  ];
  return {
    async stop() {
      running = false;
      await Promise.all(probes);
      return all;
    },
  };
}
