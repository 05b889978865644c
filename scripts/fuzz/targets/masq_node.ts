/**
 * The built-in MASQ Node under fuzz: `polyagent masq-node` started by the fuzzer on loopback with
 * a data directory under the run directory (zero-hop, no MASQ network), and the same frames as the
 * Daemon's minus a well-formed `shutdown` (which ends the Node by design; such a frame is sent
 * with another opcode instead). A conversation is answered on its opcode and contextId, except a
 * well-formed `crash`, which the Node ignores when not started with a crash point; a one-way
 * message gets a one-way answer or a `logBroadcast`. The Node must still run after every batch.
 *
 * @module
 */
import { join } from "node:path";
import { crashRequest } from "../../../lib/protocols/masq/schemas.ts";
import { freePort, ROOT, RUNTIME_FLAGS } from "../../../tests/_helpers/mod.ts";
import { type FuzzAgent, type ProcessFigures, processFigures } from "../agent.ts";
import type { RawWebSocket, WsMessage } from "../raw_ws.ts";
import type { Rng } from "../rng.ts";
import type { FuzzFrame, FuzzTarget, GroupOutcome, ReplyLedger } from "../target.ts";
import { wsBurst, wsGroup, type WsProtocol, wsText } from "../ws_target.ts";
import { askOnce, connectUi } from "./masq.ts";
import {
  ALL_OPCODES,
  checkMasqReply,
  conversationKey,
  decodeFrame,
  envelopeKey,
  masqFrame,
  masqReplyKey,
} from "./masq_frames.ts";

const BROADCASTS: ReadonlySet<string> = new Set(["newPassword"]);
const OPCODES = ALL_OPCODES.filter((o) => o !== "shutdown");

/** A Node process started for the fuzz run. */
interface NodeProcess {
  child: Deno.ChildProcess;
  port: number;
  status: Deno.CommandStatus | null;
}

async function startNode(dir: string): Promise<NodeProcess> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-q",
      "-P=agent",
      ...RUNTIME_FLAGS,
      join(ROOT, "main.ts"),
      "masq-node",
      "--data-directory",
      join(dir, "masq-node"),
      "--neighborhood-mode",
      "zero-hop",
      "--ui-port",
      String(port),
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", POLYAGENT_MASQ_MAX_MESSAGE_BYTES: String(1 << 20) },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const node: NodeProcess = { child, port, status: null };
  child.status.then((s) => node.status = s);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const deadline = Date.now() + 30_000;
  while (!seen.includes("node ready")) {
    const timeout = new Promise<{ done: true; value: undefined }>((r) =>
      setTimeout(() => r({ done: true, value: undefined }), Math.max(1, deadline - Date.now()))
    );
    const { done, value } = await Promise.race([reader.read(), timeout]);
    if (done) throw new Error(`the masq node did not start: ${seen.slice(0, 500)}`);
    seen += value;
  }
  void reader.read().then(function drain(r): unknown {
    return r.done ? undefined : reader.read().then(drain);
  }).catch(() => {});
  return node;
}

/** Rewrites a well-formed `shutdown` (which would end the Node) into an unknown opcode. */
function withoutShutdown(frame: FuzzFrame): FuzzFrame {
  const decoded = decodeFrame(frame);
  if (decoded?.kind !== "ok" || decoded.message.opcode !== "shutdown") return frame;
  if (!("payload" in decoded.message.body)) return frame;
  const text = wsText(frame.bytes).replaceAll('"shutdown"', '"shutdownX"');
  const out = {
    ...frame,
    bytes: new TextEncoder().encode(text),
    label: `${frame.label} (no shutdown)`,
  };
  const again = decodeFrame(out);
  if (again?.kind === "ok" && again.message.opcode === "shutdown") {
    return { ...out, bytes: new TextEncoder().encode('{"opcode":"shutdownX","payload":{}}') };
  }
  return out;
}

/** The built-in Node target. */
export class MasqNodeTarget implements FuzzTarget, WsProtocol {
  readonly name = "masq-node";
  readonly waitMs = 10_000;
  readonly ordered = true;
  readonly #node: NodeProcess;
  #sentinels = 0;

  private constructor(node: NodeProcess) {
    this.#node = node;
  }

  /** Starts the Node under the agent's run directory. */
  static async create(agent: FuzzAgent): Promise<MasqNodeTarget> {
    return new MasqNodeTarget(await startNode(agent.dir));
  }

  connect(): Promise<RawWebSocket> {
    return connectUi(this.#node.port);
  }

  frame(rng: Rng, index: number): FuzzFrame {
    return withoutShutdown(masqFrame(rng, index, OPCODES));
  }

  expect(frame: FuzzFrame): string {
    const decoded = decodeFrame(frame);
    if (decoded === null) return "none";
    const key = envelopeKey(decoded);
    if (key !== null || decoded.kind !== "ok") return key ?? "oneway";
    const { opcode, contextId, body } = decoded.message;
    const crash = opcode === "crash" && "payload" in body &&
      crashRequest.safeParse(body.payload).success;
    if (crash) return "none";
    return contextId === null ? "oneway" : conversationKey(opcode, contextId);
  }

  replyKey(m: WsMessage): string | null {
    return masqReplyKey(m, BROADCASTS);
  }

  checkReply(m: WsMessage): string | null {
    return checkMasqReply(m);
  }

  /**
   * A one-way message may be answered by a `logBroadcast` (its failure, told to every client),
   * and a conversation whose handler refuses it also broadcasts the warning: such broadcasts
   * stand for missing one-way answers first; one per conversation is allowed beyond that.
   */
  reconcile(ledger: ReplyLedger, frames: FuzzFrame[]): void {
    ledger.substitute("log", "oneway");
    ledger.forgive("log", frames.filter((f) => this.expect(f).startsWith("c:")).length);
  }

  sentinel(n: number): { text: string; key: string } {
    const contextId = 10n ** 15n + BigInt(n);
    return {
      text: `{"opcode":"descriptor","contextId":${contextId},"payload":{}}`,
      key: conversationKey("descriptor", contextId),
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
      this.#node.port,
      '{"opcode":"descriptor","contextId":1,"payload":{}}',
    );
    try {
      const v = JSON.parse(text);
      if (v.opcode === "descriptor" && v.contextId === 1 && v.payload) return null;
    } catch {
      // below
    }
    return `descriptor answered ${text.slice(0, 200)}`;
  }

  figures(): Promise<ProcessFigures> {
    return processFigures(this.#node.child.pid);
  }

  alive(): Promise<string | null> {
    const s = this.#node.status;
    return Promise.resolve(s ? `the masq node exited (code ${s.code}, signal ${s.signal})` : null);
  }

  async close(): Promise<void> {
    if (this.#node.status) return;
    try {
      this.#node.child.kill("SIGTERM");
    } catch {
      // gone
    }
    await this.#node.child.status;
  }
}
