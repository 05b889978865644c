/**
 * Small clients for the fault tests: one sozu order or command, one cryptoded request (each on its
 * own connection), one MASQ Daemon `setup` (on a kept connection), returning what a test
 * asserts on (status and message, code and data, values and error).
 *
 * @module
 */
import { proxyOrder, type RequestBody, SozuClient } from "../../lib/protocols/sozu/mod.ts";
import type { RawWebSocket } from "../fuzz/raw_ws.ts";
import { connectUi } from "../fuzz/targets/masq.ts";
import { closeConn, readUntil, sendAll } from "../fuzz/stream_io.ts";

/** A sozu reply, reduced. */
export interface SozuReply {
  status: string;
  message: string;
  data: unknown;
}

/** Sends one sozu request (an order `{type, data}` or a whole body) and waits for its final reply. */
export async function sozu(socket: string, type: string, data?: unknown): Promise<SozuReply> {
  const client = await SozuClient.connect(socket, 10_000);
  try {
    const body: RequestBody = type === "PROXY" || !/^[A-Z_]+$/.test(type)
      ? data as RequestBody
      : isCommand(type)
      ? ({ type, ...(data === undefined ? {} : { data }) } as RequestBody)
      : proxyOrder(type, data);
    const r = await client.request(body, { timeoutMs: 20_000 });
    return { status: r.status, message: r.message, data: r.data };
  } finally {
    client.close();
  }
}

const COMMANDS = new Set(["SAVE_STATE", "LOAD_STATE", "DUMP_STATE", "LIST_WORKERS"]);

function isCommand(type: string): boolean {
  return COMMANDS.has(type);
}

/** The application ids sozu's state holds (from DUMP_STATE). */
export async function sozuApps(socket: string): Promise<string[]> {
  const r = await sozu(socket, "DUMP_STATE");
  const text = JSON.stringify(r.data);
  return [...text.matchAll(/"app_id":"([^"]+)"/g)].map((m) => m[1]!).filter((v, i, all) =>
    all.indexOf(v) === i
  ).sort();
}

/** A cryptoded reply (document dialect, `json: true`). */
export interface CryptodedReply {
  code: number | null;
  data: unknown;
  raw: string;
}

const enc = new TextEncoder();

/** Sends one cryptoded request (`extra`: more top-level keys) and reads its reply (the connection is closed after it). */
export async function cryptoded(
  socket: string,
  cmd: number,
  param: unknown,
  extra: Record<string, unknown> = {},
): Promise<CryptodedReply> {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  await sendAll(conn, enc.encode(JSON.stringify({ cmd, param, json: true, ...extra })));
  const read = await readUntil(conn, 20_000, (bytes) => {
    try {
      JSON.parse(new TextDecoder().decode(bytes));
      return true;
    } catch {
      return false;
    }
  });
  closeConn(conn);
  const raw = new TextDecoder().decode(read.bytes);
  try {
    const v = JSON.parse(raw) as { code: number; data: unknown };
    return { code: v.code, data: v.data, raw };
  } catch {
    return { code: null, data: null, raw };
  }
}

/** cryptoded's document-dialect command numbers used here. */
export const CRYPTODED = { CONNECT: 0, DISCONNECT: 1, STATUS: 2, IMPORT: 5, REMOVE: 6 } as const;

/** A profile body cryptoded accepts on IMPORT. */
export const PROFILE = "client\ndev tun\nremote 127.0.0.1 1194\n";

/** The profile names cryptoded lists (STATUS all). */
export async function cryptodedProfiles(socket: string): Promise<string[]> {
  const r = await cryptoded(socket, CRYPTODED.STATUS, "all");
  if (r.code !== 0 || !Array.isArray(r.data)) return [];
  return (r.data as { name?: string }[]).map((p) => p.name ?? "")
    .sort();
}

let context = 1;

/** One kept UI connection per MASQ port (renewed when it ends), so a request costs no handshake. */
const uiConnections = new Map<number, Promise<RawWebSocket>>();

/** Sends `text` (carrying `contextId` `ctx`) on the kept connection; the reply's text. */
async function askKept(port: number, ctx: number, text: string): Promise<string> {
  let connecting = uiConnections.get(port);
  if (!connecting || (await connecting.catch(() => null))?.done !== false) {
    connecting = connectUi(port);
    uiConnections.set(port, connecting);
  }
  const ws = await connecting;
  const { promise, resolve } = Promise.withResolvers<string>();
  const timer = setTimeout(() => resolve("(none within 10 s)"), 10_000);
  ws.onMessage = (m) => {
    if (m.text.includes(`"contextId":${ctx},`) || m.text.includes(`"contextId":${ctx}}`)) {
      resolve(m.text);
    }
  };
  void ws.closed.then(() => resolve("(connection closed)"));
  await ws.text(text).catch(() => resolve("(connection closed)"));
  const reply = await promise;
  clearTimeout(timer);
  return reply;
}

/** Closes the kept MASQ UI connections (the end of a run). */
export async function closeMasqConnections(): Promise<void> {
  for (const connecting of uiConnections.values()) {
    (await connecting.catch(() => null))?.abort();
  }
  uiConnections.clear();
}

/** A MASQ Daemon `setup` reply, reduced: the values it reports, or the error. */
export interface MasqSetup {
  values: Record<string, string>;
  error: string | null;
  raw: string;
}

/** Sends `setup` with `values` (empty = just read) to the Daemon on `port`. */
export async function masqSetup(port: number, values: Record<string, string>): Promise<MasqSetup> {
  const ctx = context++;
  const list = Object.entries(values).map(([name, value]) => ({ name, value }));
  const raw = await askKept(
    port,
    ctx,
    JSON.stringify({ opcode: "setup", contextId: ctx, payload: { values: list } }),
  );
  const v = JSON.parse(raw.startsWith("{") ? raw : "{}") as {
    payload?: { values?: { name: string; value: string }[] };
    error?: { message?: string };
  };
  const got: Record<string, string> = {};
  for (const item of v.payload?.values ?? []) got[item.name] = item.value;
  return { values: got, error: v.error ? (v.error.message ?? raw) : null, raw };
}
