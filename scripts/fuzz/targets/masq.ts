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
import { type decodeMessage, NODE_UI_PROTOCOL } from "../../../lib/protocols/masq/mod.ts";
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

/** A well-formed message, as the listener's decoder gives it. */
export type UiMessage = Extract<ReturnType<typeof decodeMessage>, { kind: "ok" }>["message"];
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

/** What the Daemon and Node targets share: the UI transport, replies, sentinel and probe. */
export abstract class MasqUiTarget implements FuzzTarget, WsProtocol {
  abstract readonly name: string;
  readonly waitMs = 10_000;
  readonly ordered = true;
  readonly #port: number;
  readonly #ask: { opcode: string; payload: string };
  readonly #broadcasts: ReadonlySet<string>;
  #sentinels = 0;

  /** `ask` is the conversation used as sentinel and probe; `broadcasts` are left aside. */
  protected constructor(
    port: number,
    ask: { opcode: string; payload: string },
    broadcasts: ReadonlySet<string>,
  ) {
    this.#port = port;
    this.#ask = ask;
    this.#broadcasts = broadcasts;
  }

  abstract frame(rng: Rng, index: number): FuzzFrame;

  /** Whether a well-formed message gets no reply by design. */
  protected silent(_message: UiMessage): boolean {
    return false;
  }

  expect(frame: FuzzFrame): string {
    const decoded = decodeFrame(frame);
    if (decoded === null) return "none";
    const key = envelopeKey(decoded);
    if (key !== null || decoded.kind !== "ok") return key ?? "oneway";
    if (this.silent(decoded.message)) return "none";
    const { opcode, contextId } = decoded.message;
    return contextId === null ? "oneway" : conversationKey(opcode, contextId);
  }

  connect(): Promise<RawWebSocket> {
    return connectUi(this.#port);
  }

  replyKey(m: WsMessage): string | null {
    return masqReplyKey(m, this.#broadcasts);
  }

  checkReply(m: WsMessage): string | null {
    return checkMasqReply(m);
  }

  #conversation(contextId: bigint): string {
    return `{"opcode":"${this.#ask.opcode}","contextId":${contextId},"payload":${this.#ask.payload}}`;
  }

  sentinel(n: number): { text: string; key: string } {
    const contextId = SENTINEL_BASE + BigInt(n);
    return {
      text: this.#conversation(contextId),
      key: conversationKey(this.#ask.opcode, contextId),
    };
  }

  group(frames: FuzzFrame[]): Promise<GroupOutcome> {
    return wsGroup(this, frames, ++this.#sentinels);
  }

  burst(frames: FuzzFrame[], rng: Rng): Promise<void> {
    return wsBurst(this, frames, rng);
  }

  async probe(): Promise<string | null> {
    const text = await askOnce(this.#port, this.#conversation(1n));
    try {
      const v = JSON.parse(text);
      const payload = v.payload !== null && typeof v.payload === "object";
      if (v.opcode === this.#ask.opcode && v.contextId === 1 && payload) return null;
    } catch {
      // below
    }
    return `${this.#ask.opcode} answered ${text.slice(0, 200)}`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The Daemon target. */
export class MasqDaemonTarget extends MasqUiTarget {
  readonly name = "masq";

  /** The target for the agent's Daemon. */
  static create(agent: FuzzAgent): Promise<MasqDaemonTarget> {
    const ask = { opcode: "setup", payload: '{"values":[]}' };
    return Promise.resolve(new MasqDaemonTarget(agent.endpoints.masqPort, ask, BROADCASTS));
  }

  frame(rng: Rng, index: number): FuzzFrame {
    return masqFrame(rng, index, ALL_OPCODES);
  }
}
