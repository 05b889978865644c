/**
 * The shared part of the WebSocket listener targets (Intervirt, the MASQ Daemon and Node): one
 * raw WebSocket per group, every frame's expected reply key in a ledger, replies matched as they
 * come (progress frames and broadcasts left aside by the protocol's own rule), an optional
 * sentinel request whose reply, in protocols that answer in order, proves nothing else is coming,
 * and bursts of connections that send and vanish.
 *
 * @module
 */
import type { RawWebSocket, WsMessage } from "./raw_ws.ts";
import type { Rng } from "./rng.ts";
import { type FuzzFrame, type GroupOutcome, ReplyLedger } from "./target.ts";

/** What a WebSocket protocol tells the shared target. */
export interface WsProtocol {
  /** Opens a client connection (path, subprotocol, headers). */
  connect(): Promise<RawWebSocket>;
  /** The reply key a frame expects, or "none" when it gets no reply by design. */
  expect(frame: FuzzFrame): string;
  /** The key of a received message, or null when it is not a final reply (progress, broadcast). */
  replyKey(message: WsMessage): string | null;
  /** A form problem of a received message, or null. */
  checkReply(message: WsMessage): string | null;
  /** A request answered after everything sent before it (protocols that answer in order). */
  sentinel?(n: number): { text: string; key: string };
  /** Settles extra or substitute replies once a group is in (e.g. broadcasts that may follow). */
  reconcile?(ledger: ReplyLedger, frames: FuzzFrame[]): void;
  /** How long to wait for the replies of a group. */
  waitMs: number;
  /** Replies come in request order (the sentinel's reply then ends the wait). */
  ordered: boolean;
}

/** Sends one frame as text or binary. */
export async function sendFrame(ws: RawWebSocket, f: FuzzFrame): Promise<void> {
  if (f.binary) await ws.binary(f.bytes);
  else await ws.text(f.bytes);
}

/**
 * Runs one group on a fresh connection and checks every reply. A frame that ends the connection
 * by design (it is always a group's last) is sent once everything before it has been answered.
 */
export async function wsGroup(
  protocol: WsProtocol,
  frames: FuzzFrame[],
  sentinelNo: number,
): Promise<GroupOutcome> {
  const ledger = new ReplyLedger();
  const first = frames[0]!.index;
  const problems: GroupOutcome["problems"] = [];
  const killer = frames.at(-1)!.endsConnection ? frames.at(-1)! : null;
  const body = killer ? frames.slice(0, -1) : frames;
  let silent = killer ? 1 : 0;
  for (const f of body) {
    const key = protocol.expect(f);
    if (key === "none") silent++;
    else ledger.expect(key, f.index);
  }
  const owed = ledger.outstanding;
  const sentinel = protocol.sentinel?.(sentinelNo);
  if (sentinel) ledger.expect(sentinel.key, -1);
  let ws: RawWebSocket;
  try {
    ws = await protocol.connect();
  } catch (error) {
    return {
      problems: [{ index: first, problem: `cannot connect: ${error}` }],
      replies: 0,
      silentByDesign: 0,
    };
  }
  ws.onMessage = (m) => {
    const problem = protocol.checkReply(m);
    if (problem) problems.push({ index: first, problem });
    const key = protocol.replyKey(m);
    if (key !== null) ledger.take(key);
  };
  void ws.closed.then(() => ledger.interrupt());
  for (const f of body) await sendFrame(ws, f);
  if (sentinel) await ws.text(sentinel.text);
  await ledger.settled(protocol.waitMs, protocol.ordered ? sentinel?.key ?? null : null);
  protocol.reconcile?.(ledger, body);
  if (ws.done && ledger.outstanding > 0) {
    const close = await ws.closed;
    problems.push({ index: first, problem: `connection closed (${close.code} ${close.reason})` });
  }
  if (killer) {
    await sendFrame(ws, killer);
    await Promise.race([ws.closed, new Promise((r) => setTimeout(r, 5000))]);
    if (!ws.done) problems.push({ index: killer.index, problem: "the connection stayed open" });
    ws.abort();
  } else {
    await ws.close(1000, 500);
  }
  return {
    problems: [...problems, ...ledger.problems(first)],
    replies: owed - Math.max(0, ledger.outstanding - (sentinel ? 1 : 0)),
    silentByDesign: silent,
  };
}

/**
 * Waits until an ordered protocol has handled everything sent so far (its sentinel, asked on a
 * fresh connection, is answered), so late broadcasts do not reach the next group.
 */
export async function drain(protocol: WsProtocol, n: number): Promise<void> {
  const sentinel = protocol.ordered ? protocol.sentinel?.(n + 1_000_000) : undefined;
  if (!sentinel) return;
  const ws = await protocol.connect();
  const done = Promise.withResolvers<void>();
  ws.onMessage = (m) => {
    if (protocol.replyKey(m) === sentinel.key) done.resolve();
  };
  await ws.text(sentinel.text);
  const timer = setTimeout(done.resolve, protocol.waitMs);
  await done.promise;
  clearTimeout(timer);
  await ws.close(1000, 500);
}

/** Opens a connection per frame, sends all or part of it, and drops the connection. */
export async function wsBurst(
  protocol: WsProtocol,
  frames: FuzzFrame[],
  rng: Rng,
): Promise<void> {
  await Promise.all(frames.map(async (f) => {
    let ws: RawWebSocket;
    try {
      ws = await protocol.connect();
    } catch {
      return;
    }
    const cut = rng.int(3);
    if (cut === 0) await sendFrame(ws, f);
    else if (cut === 1) {
      // a frame whose header promises more bytes than are sent
      const bytes = ws.encode(1, f.bytes);
      await ws.writeRaw(bytes.subarray(0, rng.range(1, Math.max(1, bytes.length - 1))));
    }
    ws.abort();
  }));
  // let the listener read what the vanished clients sent before the next group listens
  await new Promise((r) => setTimeout(r, 50));
  await drain(protocol, 2_000_000 + frames[0]!.index);
}

/** Whether bytes are valid UTF-8. */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

const wsDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** A text message's bytes as the listener sees the text (a leading BOM kept, as WebSocket does). */
export function wsText(bytes: Uint8Array): string {
  return wsDecoder.decode(bytes);
}
