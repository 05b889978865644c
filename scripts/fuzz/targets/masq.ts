/**
 * The MASQ Daemon under fuzz (WebSocket, subprotocol MASQNode-UIv2). The Daemon answers every
 * text message: a conversation on its opcode and contextId (`setup`, `start` — whose Node command
 * is /bin/false, so it never starts —, or NODE_NOT_RUNNING_ERROR), a one-way message with
 * `undelivered` or `unmarshalError`. Binary frames are ignored by design; an oversized message or
 * invalid UTF-8 ends the connection by design. The Daemon answers in order, so a `setup`
 * sentinel closes each group.
 *
 * @module
 */
import { NODE_UI_PROTOCOL } from "../../../lib/protocols/masq/mod.ts";
import type { FuzzAgent } from "../agent.ts";
import { RawWebSocket, type WsMessage } from "../raw_ws.ts";
import type { Rng } from "../rng.ts";
import type { FuzzFrame, FuzzTarget, GroupOutcome } from "../target.ts";
import { wsBurst, wsGroup, type WsProtocol } from "../ws_target.ts";
import {
  ALL_OPCODES,
  checkMasqReply,
  conversationKey,
  decodeFrame,
  envelopeKey,
  masqFrame,
  masqReplyKey,
} from "./masq_frames.ts";

const BROADCASTS: ReadonlySet<string> = new Set(["setup", "crashed"]);
const SENTINEL_BASE = 10n ** 15n;

/** Connects a raw UI client to `port`. */
export function connectUi(port: number): Promise<RawWebSocket> {
  return RawWebSocket.connect({ host: "127.0.0.1", port, path: "/", protocol: NODE_UI_PROTOCOL });
}

/** Sends one conversation on a fresh connection and returns the reply's text. */
export async function askOnce(port: number, text: string): Promise<string> {
  const ws = await connectUi(port);
  const reply = Promise.withResolvers<string>();
  ws.onMessage = (m) => reply.resolve(m.text);
  await ws.text(text);
  const timer = setTimeout(() => reply.resolve("(none within 10 s)"), 10_000);
  const answer = await reply.promise;
  clearTimeout(timer);
  await ws.close(1000, 500);
  return answer;
}

/** The Daemon target. */
export class MasqDaemonTarget implements FuzzTarget, WsProtocol {
  readonly name: string = "masq";
  readonly waitMs = 10_000;
  readonly ordered = true;
  readonly #port: number;
  #sentinels = 0;

  protected constructor(port: number) {
    this.#port = port;
  }

  /** The target for the agent's Daemon. */
  static create(agent: FuzzAgent): Promise<MasqDaemonTarget> {
    return Promise.resolve(new MasqDaemonTarget(agent.endpoints.masqPort));
  }

  /** The UI port. */
  get port(): number {
    return this.#port;
  }

  connect(): Promise<RawWebSocket> {
    return connectUi(this.#port);
  }

  frame(rng: Rng, index: number): FuzzFrame {
    return masqFrame(rng, index, ALL_OPCODES);
  }

  expect(frame: FuzzFrame): string {
    const decoded = decodeFrame(frame);
    if (decoded === null) return "none";
    const key = envelopeKey(decoded);
    if (key !== null || decoded.kind !== "ok") return key ?? "oneway";
    const { opcode, contextId } = decoded.message;
    return contextId === null ? "oneway" : conversationKey(opcode, contextId);
  }

  replyKey(m: WsMessage): string | null {
    return masqReplyKey(m, BROADCASTS);
  }

  checkReply(m: WsMessage): string | null {
    return checkMasqReply(m);
  }

  sentinel(n: number): { text: string; key: string } {
    const contextId = SENTINEL_BASE + BigInt(n);
    return {
      text: `{"opcode":"setup","contextId":${contextId},"payload":{"values":[]}}`,
      key: conversationKey("setup", contextId),
    };
  }

  group(frames: FuzzFrame[]): Promise<GroupOutcome> {
    return wsGroup(this, frames, ++this.#sentinels);
  }

  burst(frames: FuzzFrame[], rng: Rng): Promise<void> {
    return wsBurst(this, frames, rng);
  }

  async probe(): Promise<string | null> {
    const text = await askOnce(
      this.#port,
      '{"opcode":"setup","contextId":1,"payload":{"values":[]}}',
    );
    try {
      const v = JSON.parse(text);
      if (v.opcode === "setup" && v.contextId === 1 && Array.isArray(v.payload?.values)) {
        return null;
      }
    } catch {
      // below
    }
    return `setup answered ${text.slice(0, 200)}`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
