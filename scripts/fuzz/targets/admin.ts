/**
 * The admin HTTP listener under fuzz: each frame is one connection carrying one to three
 * pipelined requests for /healthz, /metrics or an unknown path, valid or mutated with the HTTP
 * corpus's head and framing mutations. Every response must parse, with a status the listener
 * may give (200, 302 from `/` to the status page, 404, or a refusal: 400, 405, 408, 413, 414, 417,
 * 431, 501, 505; 417 is node:http's answer to an `Expect` other than `100-continue`, RFC 9110
 * §10.1.1); a connection
 * whose requests were complete must get at least one response before the listener closes it.
 *
 * @module
 */
import type { FuzzAgent } from "../agent.ts";
import { exchange } from "../http/client.ts";
import type { CorpusConnection } from "../http/corpus.ts";
import { validRequest } from "../http/corpus.ts";
import { mutateFraming, mutateHead } from "../http/mutations.ts";
import { requestText, setHeader, wireBytes, type WireRequest } from "../http/wire.ts";
import type { Rng } from "../rng.ts";
import type { FrameProblem, FuzzFrame, FuzzTarget, GroupOutcome } from "../target.ts";

const STATUSES = new Set([200, 302, 404, 400, 405, 408, 413, 414, 417, 431, 501, 505]);
const PATHS = ["/healthz", "/metrics", "/nope", "/healthz?x=1", "/"];

/** The admin target. */
export class AdminTarget implements FuzzTarget {
  readonly name = "admin";
  readonly #host: string;
  readonly #port: number;
  /** Per frame: the requests it framed (methods) and whether it was cut or mutated in framing. */
  readonly #meta = new Map<number, { methods: string[]; incomplete: boolean }>();

  private constructor(admin: string) {
    this.#host = admin;
    this.#port = Number(admin.split(":").at(-1));
  }

  /** The target for the agent's admin listener. */
  static create(agent: FuzzAgent): AdminTarget {
    return new AdminTarget(agent.endpoints.admin);
  }

  frame(rng: Rng, index: number): FuzzFrame {
    const count = rng.weighted([[70, 1], [20, 2], [10, 3]]);
    const wires: WireRequest[] = [];
    let incomplete = false;
    for (let k = 0; k < count; k++) {
      const r = validRequest(rng, `${index}-${k}`);
      r.target = rng.pick(PATHS);
      setHeader(r, "Host", this.#host);
      if (rng.chance(0.7)) {
        if (rng.chance(0.65)) mutateHead(r, rng);
        else {
          mutateFraming(r, rng);
          incomplete = true; // a body framed longer than sent waits for more by design
        }
      }
      if (r.headEnd === "") incomplete = true;
      wires.push(r);
    }
    let text = wires.map(requestText).join("");
    if (rng.chance(0.05)) {
      text = text.slice(0, rng.int(text.length));
      incomplete = true;
    }
    const labels = wires.flatMap((w) => w.labels);
    // Deno.serve (hyper) closes without a response when a Transfer-Encoding line ends in a bare LF
    if (/transfer-encoding[^\n]*[^\r]\n/i.test(text)) incomplete = true;
    // a mutated line ending can leave the head without its empty line: it never ends
    if (!/\r?\n\r?\n/.test(text)) incomplete = true;
    this.#meta.set(index, { methods: wires.map((w) => w.method), incomplete });
    return { index, bytes: wireBytes(text, true), label: labels.join(", ") || "valid" };
  }

  async #one(f: FuzzFrame): Promise<FrameProblem[]> {
    const meta = this.#meta.get(f.index) ?? { methods: ["GET"], incomplete: true };
    this.#meta.delete(f.index);
    const c: CorpusConnection = {
      index: f.index,
      bytes: f.bytes,
      requests: meta.methods.map((method, k) => ({
        id: `${f.index}-${k}`,
        method,
        intended: null,
        mutated: true,
        label: f.label,
      })),
      label: f.label,
      truncated: meta.incomplete,
    };
    // Deno.serve drops a request whose client closed its side: wait longer for complete ones
    const r = await exchange(this.#port, c, meta.incomplete ? 300 : 10_000);
    const problems: FrameProblem[] = [];
    if (r.hung) {
      problems.push({ index: f.index, problem: "neither answered nor closed within 5 s" });
    }
    if (r.parsed.error) {
      problems.push({ index: f.index, problem: `malformed response: ${r.parsed.error}` });
    }
    for (const resp of r.parsed.responses) {
      if (!STATUSES.has(resp.status)) {
        problems.push({ index: f.index, problem: `status ${resp.status}` });
      }
    }
    if (r.parsed.responses.length === 0 && !meta.incomplete && f.bytes.length > 0) {
      problems.push({ index: f.index, problem: "closed without any response" });
    }
    return problems;
  }

  async group(frames: FuzzFrame[]): Promise<GroupOutcome> {
    const results = await Promise.all(frames.map((f) => this.#one(f)));
    return { problems: results.flat(), replies: frames.length, silentByDesign: 0 };
  }

  async burst(frames: FuzzFrame[], rng: Rng): Promise<void> {
    await Promise.all(frames.map(async (f) => {
      this.#meta.delete(f.index);
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.#port });
        await conn.write(f.bytes.subarray(0, rng.int(f.bytes.length + 1))).catch(() => 0);
        conn.close();
      } catch {
        // refused
      }
    }));
  }

  async probe(): Promise<string | null> {
    const res = await fetch(`http://${this.#host}/healthz`).catch((e) => e as Error);
    if (res instanceof Error) return `GET /healthz failed: ${res.message}`;
    const body = await res.text();
    return res.status === 200 && body.includes('"status":"ok"')
      ? null
      : `GET /healthz: ${res.status} ${body.slice(0, 200)}`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
