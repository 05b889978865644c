/**
 * The soak's loads, one paced loop per service, all valid requests with known answers: proxy
 * traffic over keep-alive connections (renewed now and then) to a recording backend, sozu orders
 * (ADD_BACKEND / REMOVE_BACKEND pairs, so the state stays the same size, and queries), MASQ
 * `setup` conversations, Intervirt `version` and `Connect` (code 4 on a host without a container
 * runtime: the expected answer), cryptoded commands (a profile imported and removed, status, DNS
 * status), Quix `view_running` and `telemetry`, and the admin endpoints. Any other answer, or
 * none within the timeout, is an error of that load.
 *
 * @module
 */
import { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import type { FuzzEndpoints } from "../fuzz/agent.ts";
import { FUZZ_HOST } from "../fuzz/http/corpus.ts";
import { parseResponses } from "../fuzz/http/response.ts";
import type { RawWebSocket } from "../fuzz/raw_ws.ts";
import { RawWebSocket as Ws } from "../fuzz/raw_ws.ts";
import { closeConn, readUntil, sendAll } from "../fuzz/stream_io.ts";
import { connectUi } from "../fuzz/targets/masq.ts";
import type { QuixControlServer } from "../fuzz/targets/quix.ts";

/** Counts of one load. */
export interface LoadStats {
  ok: number;
  errors: number;
  lastError: string;
}

/** Where the loads send their requests: the agent's endpoints and the Quix control server. */
export type LoadEndpoints = FuzzEndpoints & { quix: QuixControlServer };

/** One load: a name and a loop that runs until the signal aborts. */
export interface Load {
  name: string;
  /** Requests per second it aims at. */
  rate: number;
  run(signal: AbortSignal, stats: LoadStats): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Calls `step` about `rate` times a second until `signal` aborts; counts and keeps errors. */
async function paced(
  rate: number,
  signal: AbortSignal,
  stats: LoadStats,
  step: (i: number) => Promise<string | null>,
): Promise<void> {
  const interval = 1000 / rate;
  for (let i = 0; !signal.aborted; i++) {
    const t0 = performance.now();
    let problem: string | null;
    try {
      problem = await step(i);
    } catch (error) {
      problem = (error as Error).message;
    }
    if (signal.aborted) break;
    if (problem === null) stats.ok++;
    else {
      stats.errors++;
      stats.lastError = problem.slice(0, 300);
    }
    const wait = interval - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

/** A load whose every step is one paced request. */
function steps(name: string, rate: number, step: (i: number) => Promise<string | null>): Load {
  return { name, rate, run: (signal, stats) => paced(rate, signal, stats, step) };
}

/** A keep-alive HTTP connection through the proxy, renewed every 500 requests. */
function proxyLoad(port: number, lanes: number, rate: number): Load {
  return {
    name: "proxy",
    rate,
    async run(signal, stats) {
      await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
        let conn: Deno.Conn | null = null;
        await paced(rate / lanes, signal, stats, async (i) => {
          if (!conn || i % 500 === 0) {
            if (conn) closeConn(conn);
            conn = await Deno.connect({ hostname: "127.0.0.1", port });
          }
          const id = `${lane}-${i}`;
          const body = i % 3 === 0 ? "x".repeat(i % 2000) : "";
          const head = `${body ? "POST" : "GET"} /fz/${id} HTTP/1.1\r\nHost: ${FUZZ_HOST}\r\n` +
            `X-Fuzz-Id: ${id}\r\n${body ? `Content-Length: ${body.length}\r\n` : ""}\r\n`;
          await sendAll(conn, enc.encode(head + body));
          const read = await readUntil(
            conn,
            10_000,
            (b) => parseResponses(b, ["GET"], false).responses.length > 0,
          );
          const r = parseResponses(read.bytes, ["GET"], read.closed).responses[0];
          if (!r || r.status !== 200 || r.echoId !== id) {
            closeConn(conn);
            conn = null;
            return `proxy: ${
              r ? `${r.status} for ${r.echoId}` : read.timedOut ? "timeout" : "closed"
            } (sent ${id})`;
          }
          return null;
        });
        if (conn) closeConn(conn);
      }));
    },
  };
}

/** ADD_BACKEND then REMOVE_BACKEND of the same backend, with a query every tenth order. */
function sozuLoad(socket: string, rate: number): Load {
  return {
    name: "sozu",
    rate,
    async run(signal, stats) {
      const client = await SozuClient.connect(socket, 10_000);
      try {
        const app = await client.request(
          { type: "PROXY", data: { type: "ADD_APPLICATION", data: { app_id: "soak" } } } as never,
          { timeoutMs: 10_000 },
        );
        if (app.status !== "OK") throw new Error(`ADD_APPLICATION: ${app.message}`);
        await paced(rate, signal, stats, async (i) => {
          const backend = {
            app_id: "soak",
            backend_id: `b${(i >> 1) % 50}`,
            address: `127.77.0.9:${9000 + ((i >> 1) % 50)}`,
          };
          const body = i % 10 === 9
            ? {
              type: "QUERY",
              data: { type: "APPLICATIONS", data: { type: "APP_ID", data: "soak" } },
            }
            : { type: i % 2 === 0 ? "ADD_BACKEND" : "REMOVE_BACKEND", data: backend };
          const r = await client.request({ type: "PROXY", data: body } as never, {
            timeoutMs: 10_000,
          });
          return r.status === "OK" ? null : `sozu ${body.type}: ${r.status} ${r.message}`;
        });
      } finally {
        client.close();
      }
    },
  };
}

/** Sends one text message on `ws` and waits for the message `match` accepts. */
function ask(ws: RawWebSocket, text: string, match: (t: string) => boolean): Promise<string> {
  const { promise, resolve } = Promise.withResolvers<string>();
  const timer = setTimeout(() => resolve("(no reply within 10 s)"), 10_000);
  ws.onMessage = (m) => {
    if (match(m.text)) {
      clearTimeout(timer);
      resolve(m.text);
    }
  };
  void ws.closed.then(() => resolve("(connection closed)"));
  void ws.text(text);
  return promise;
}

/** A WebSocket load: a connection renewed every 200 requests, one conversation per step. */
function wsLoad(
  name: string,
  rate: number,
  connect: () => Promise<RawWebSocket>,
  step: (ws: RawWebSocket, i: number) => Promise<string | null>,
): Load {
  return {
    name,
    rate,
    async run(signal, stats) {
      let ws: RawWebSocket | null = null;
      await paced(rate, signal, stats, async (i) => {
        if (!ws || ws.done || i % 200 === 0) {
          await ws?.close(1000, 500);
          ws = await connect();
        }
        return await step(ws, i);
      });
      await (ws as RawWebSocket | null)?.close(1000, 500);
    },
  };
}

function masqLoad(port: number, rate: number): Load {
  return wsLoad("masq", rate, () => connectUi(port), async (ws, i) => {
    const ctx = i + 1;
    const value = i % 2 === 0 ? "info" : "warn";
    const text =
      `{"opcode":"setup","contextId":${ctx},"payload":{"values":[{"name":"log-level","value":"${value}"}]}}`;
    const reply = await ask(ws, text, (t) => t.includes(`"contextId":${ctx},`));
    return reply.includes('"payload"') ? null : `masq setup: ${reply.slice(0, 200)}`;
  });
}

function intervirtLoad(url: string, rate: number): Load {
  const u = new URL(url);
  const connect = () => Ws.connect({ host: u.hostname, port: Number(u.port), path: u.pathname });
  return wsLoad("intervirt", rate, connect, async (ws, i) => {
    const uuid = `soak-${i}`;
    const connectPair = i % 5 === 4;
    const text = connectPair
      ? JSON.stringify({ type: "Connect", uuid, id1: "c1", id2: "c2" })
      : JSON.stringify({ type: "Command", uuid, command: "version" });
    const reply = await ask(ws, text, (t) => t.includes(`"${uuid}"`));
    const v = JSON.parse(reply.startsWith("{") ? reply : "{}");
    const good = connectPair ? v.code === 4 : v.type === "Version";
    return good ? null : `intervirt: ${reply.slice(0, 200)}`;
  });
}

/** One cryptoded request on its own connection; the reply's code. */
async function cryptoded(
  socket: string,
  request: unknown,
): Promise<{ code?: number; raw: string }> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  await sendAll(conn, enc.encode(JSON.stringify(request)));
  await conn.closeWrite().catch(() => {});
  const read = await readUntil(conn, 10_000);
  closeConn(conn);
  const raw = dec.decode(read.bytes);
  try {
    return { code: JSON.parse(raw).code, raw };
  } catch {
    return { raw };
  }
}

function cryptodedLoad(socket: string, rate: number): Load {
  return steps("cryptoded", rate, async (i) => {
    const name = `soak-${(i >> 2) % 10}`;
    const requests: [unknown, number[]][] = [
      [{ cmd: 5, param: { name, content: "client\ndev tun\nremote 127.0.0.1 1194\n" } }, [0]],
      [{ cmd: 2, param: "all" }, [0, 12]],
      [{ cmd: 7, param: "status" }, [0]],
      [{ cmd: 6, param: name }, [0]],
    ];
    const [request, codes] = requests[i % 4]!;
    const reply = await cryptoded(socket, request);
    return reply.code !== undefined && codes.includes(reply.code)
      ? null
      : `cryptoded: ${reply.raw.slice(0, 200)}`;
  });
}

function quixLoad(server: QuixControlServer, rate: number): Load {
  return steps("quix", rate, async (i) => {
    const ws = await server.session();
    const rid = `soak-${i}`;
    const { promise, resolve } = Promise.withResolvers<string>();
    const timer = setTimeout(() => resolve("(no reply within 10 s)"), 10_000);
    server.onReply = (text) => {
      if (text.includes(`"${rid}"`)) resolve(text);
    };
    const msg = i % 2 === 0 ? {} : { stat_types: ["ttl_cpu_usage", "ttl_mem_usage"] };
    await ws.text(
      JSON.stringify({ req: i % 2 === 0 ? "view_running" : "telemetry", rid, msg }),
    );
    const reply = await promise;
    clearTimeout(timer);
    const v = JSON.parse(reply.startsWith("{") ? reply : "{}");
    const good = i % 2 === 0 ? Array.isArray(v.msg) : typeof v.msg?.tele_data === "object";
    return good ? null : `quix: ${reply.slice(0, 200)}`;
  });
}

function adminLoad(admin: string, rate: number): Load {
  return steps("admin", rate, async (i) => {
    const res = await fetch(`http://${admin}/${i % 2 === 0 ? "healthz" : "metrics"}`, {
      signal: AbortSignal.timeout(10_000),
    });
    await res.body?.cancel();
    return res.status === 200 ? null : `admin: ${res.status}`;
  });
}

/** Every load, at `scale` times its base rate. */
export function allLoads(e: LoadEndpoints, scale: number): Load[] {
  return [
    proxyLoad(e.httpPort, 8, 400 * scale),
    sozuLoad(e.sozuSocket, 40 * scale),
    masqLoad(e.masqPort, 40 * scale),
    intervirtLoad(e.intervirt, 40 * scale),
    cryptodedLoad(e.cryptodedSocket, 20 * scale),
    quixLoad(e.quix, 20 * scale),
    adminLoad(e.admin, 4 * scale),
  ];
}
