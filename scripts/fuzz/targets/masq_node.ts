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
import { type FuzzAgent, type ProcessFigures, processFigures, stopChild } from "../agent.ts";
import type { Rng } from "../rng.ts";
import type { FuzzFrame, ReplyLedger } from "../target.ts";
import { wsText } from "../ws_target.ts";
import { MasqUiTarget, type UiMessage } from "./masq.ts";
import { ALL_OPCODES, decodeFrame, masqFrame } from "./masq_frames.ts";

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
    env: {
      NO_COLOR: "1",
      POLYAGENT_MASQ_MAX_MESSAGE_BYTES: String(1 << 20),
      // The Node refuses a data directory outside its data root (what the Daemon passes it).
      POLYAGENT_MASQ_DATA_ROOT: dir,
    },
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
export class MasqNodeTarget extends MasqUiTarget {
  readonly name = "masq-node";
  readonly #node: NodeProcess;

  private constructor(node: NodeProcess) {
    super(node.port, { opcode: "descriptor", payload: "{}" }, BROADCASTS);
    this.#node = node;
  }

  /** Starts the Node under the agent's run directory. */
  static async create(agent: FuzzAgent): Promise<MasqNodeTarget> {
    return new MasqNodeTarget(await startNode(agent.dir));
  }

  frame(rng: Rng, index: number): FuzzFrame {
    return withoutShutdown(masqFrame(rng, index, OPCODES));
  }

  /** A well-formed `crash` is ignored: the Node was not started with a crash point. */
  protected override silent(m: UiMessage): boolean {
    return m.opcode === "crash" && "payload" in m.body &&
      crashRequest.safeParse(m.body.payload).success;
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

  figures(): Promise<ProcessFigures> {
    return processFigures(this.#node.child.pid);
  }

  alive(): Promise<string | null> {
    const s = this.#node.status;
    return Promise.resolve(s ? `the masq node exited (code ${s.code}, signal ${s.signal})` : null);
  }

  override async close(): Promise<void> {
    if (!this.#node.status) await stopChild(this.#node.child, 5000);
  }
}
