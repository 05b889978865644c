/**
 * cryptoded under fuzz (Unix socket, JSON). Requests are built from `requestSchema` and the
 * document's parameter shapes (targets, enable/disable, IMPORT objects and strings, REMOVE,
 * DNS_OVERRIDE), joined by newlines on one connection, then the write side is closed. The
 * expected reply count comes from the listener's stream splitter (`JsonStreamParser`): every item
 * it finds must be answered with `{"code","data"}` (or the plain-text form for `"json": false`),
 * up to and including an oversized one, after which the connection ends by design.
 *
 * @module
 */
import { join } from "node:path";
import { JsonStreamParser, Resp } from "../../../lib/protocols/cryptoded/mod.ts";
import { requestSchema } from "../../../lib/protocols/cryptoded/schemas.ts";
import type { FuzzAgent } from "../agent.ts";
import type { Rng } from "../rng.ts";
import { generateValue, type JsonSchema, jsonSchemaOf } from "../schema_values.ts";
import { burstConnections, closeConn, joinFrames, readUntil, sendAll } from "../stream_io.ts";
import {
  type FrameProblem,
  type FuzzFrame,
  type FuzzTarget,
  type GroupOutcome,
  jsonFrame,
  objectSchema,
} from "../target.ts";

const MAX_REQUEST = 65_536;
const NAMES = ["all", "fz-a", "fz-b", "fz.c_d", "nope"];
const str = (maxLength?: number): JsonSchema => ({
  type: "string",
  ...(maxLength ? { maxLength } : {}),
});

/** The parameter of each command: its JSON Schema and valid examples. */
function paramSpecs(src: string): Record<number, { schema: JsonSchema; examples: unknown[] }> {
  const target = { schema: str(65536), examples: NAMES };
  return {
    0: target,
    1: target,
    2: target,
    3: { schema: { enum: ["enable", "disable"] }, examples: ["enable", "disable"] },
    4: { schema: { type: "null" }, examples: [null] },
    5: {
      schema: {
        anyOf: [
          objectSchema({ type: str(), path: { type: "string", minLength: 1, maxLength: 4096 } }),
          objectSchema({ name: { type: "string", minLength: 1, maxLength: 200 }, content: str() }),
          str(),
        ],
      },
      examples: [
        { type: "new-from-ovpn", path: join(src, "fz-a.ovpn") },
        { type: "new-from-tblk", path: join(src, "fzt.tblk") },
        { name: "fz-b", content: "client\ndev tun\nremote 127.0.0.1 1194\n" },
        `new-from-ovpn ${join(src, "fz-a.ovpn")}`,
      ],
    },
    6: {
      schema: {
        anyOf: [str(), objectSchema({ name: str(), force: { type: "boolean" } }, ["force"])],
      },
      examples: ["fz-a", { name: "fz-b", force: true }, { name: "fz.c_d" }],
    },
    7: { schema: str(), examples: ["enable 10.9.8.7,10.9.8.6", "disable", "status"] },
    8: { schema: { type: "null" }, examples: [null] },
  };
}

/** Writes the IMPORT sources the examples name (a profile and a Tunnelblick bundle). */
async function writeSources(src: string): Promise<void> {
  const profile = "client\ndev tun\nremote 127.0.0.1 1194\n";
  const res = join(src, "fzt.tblk", "Contents", "Resources");
  await Deno.mkdir(res, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(join(src, "fz-a.ovpn"), profile, { mode: 0o600 });
  await Deno.writeTextFile(join(res, "fzt.ovpn"), profile, { mode: 0o600 });
}

const decoder = new TextDecoder();

/** How many replies the listener owes for `bytes`, and whether any is in text mode. */
function expectedItems(bytes: Uint8Array): { items: number; text: boolean; cut: boolean } {
  const parser = new JsonStreamParser(MAX_REQUEST);
  const all = [...parser.push(bytes), ...parser.end()];
  let items = 0;
  let text = false;
  for (const item of all) {
    items++;
    if (item.kind === "oversized") return { items, text, cut: true };
    if (item.kind !== "value") continue;
    try {
      const v = JSON.parse(item.text);
      if (v !== null && typeof v === "object" && "json" in v && v.json === false) text = true;
    } catch {
      // answered as JSON_INVALID in JSON form
    }
  }
  return { items, text, cut: false };
}

/** Checks the reply lines of one connection. */
function checkReplies(
  replyText: string,
  expected: { items: number; text: boolean },
  first: number,
): FrameProblem[] {
  const lines = replyText.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const problems: FrameProblem[] = [];
  for (const line of lines) {
    let reply: { code?: unknown } | null = null;
    try {
      reply = JSON.parse(line);
    } catch {
      if (!expected.text) {
        problems.push({ index: first, problem: `not a JSON reply: ${line.slice(0, 120)}` });
      }
      continue;
    }
    const code = reply?.code;
    if (typeof code !== "number" || code < Resp.OK || code > Resp.UNKNOWN_ERR) {
      problems.push({ index: first, problem: `reply without a valid code: ${line.slice(0, 120)}` });
    }
  }
  const n = lines.length;
  if (expected.text ? n < expected.items : n !== expected.items) {
    problems.push({ index: first, problem: `${n} reply line(s) for ${expected.items} request(s)` });
  }
  return problems;
}

/** The cryptoded target. */
export class CryptodedTarget implements FuzzTarget {
  readonly name = "cryptoded";
  readonly #socket: string;
  readonly #specs: ReturnType<typeof paramSpecs>;
  readonly #envelope: JsonSchema = jsonSchemaOf(requestSchema);

  private constructor(socket: string, src: string) {
    this.#socket = socket;
    this.#specs = paramSpecs(src);
  }

  /** Prepares the IMPORT sources under the agent's directory. */
  static async create(agent: FuzzAgent): Promise<CryptodedTarget> {
    const src = join(agent.dir, "import-src");
    await writeSources(src);
    return new CryptodedTarget(agent.endpoints.cryptodedSocket, src);
  }

  frame(rng: Rng, index: number): FuzzFrame {
    const cmd = rng.chance(0.95) ? rng.int(9) : rng.pick([9, 10, -1, 255]);
    const spec = this.#specs[cmd] ?? this.#specs[8]!;
    const request: Record<string, unknown> = { cmd };
    const param = rng.chance(0.8) ? rng.pick(spec.examples) : generateValue(spec.schema, rng, {});
    if (param !== null || rng.chance(0.3)) request.param = param;
    if (rng.chance(0.15)) request.json = rng.chance(0.4);
    const schema = {
      ...this.#envelope,
      properties: { ...this.#envelope.properties, param: spec.schema },
    };
    const frame = jsonFrame(rng, index, { value: request, schema });
    // an oversized request ends its connection by design: let it end its group
    return frame.bytes.length > MAX_REQUEST ? { ...frame, endsConnection: true } : frame;
  }

  #connect(): Promise<Deno.Conn> {
    return Deno.connect({ transport: "unix", path: this.#socket });
  }

  async group(frames: FuzzFrame[]): Promise<GroupOutcome> {
    const bytes = joinFrames(frames, 0x0a);
    const expected = expectedItems(bytes);
    const first = frames[0]!.index;
    const conn = await this.#connect();
    const sent = await sendAll(conn, bytes);
    if (sent) await (conn as Deno.UnixConn).closeWrite().catch(() => {});
    const read = await readUntil(conn, 15_000);
    closeConn(conn);
    if (read.timedOut) {
      return {
        problems: [{ index: first, problem: "no reply and no close within 15 s" }],
        replies: 0,
        silentByDesign: 0,
      };
    }
    const problems = checkReplies(decoder.decode(read.bytes), expected, first);
    if (!sent && expected.cut) problems.length = 0; // the listener closed after an oversized request
    return {
      problems,
      replies: expected.items,
      silentByDesign: expected.cut ? Math.max(0, frames.length - expected.items) : 0,
    };
  }

  async burst(frames: FuzzFrame[], rng: Rng): Promise<void> {
    await burstConnections(() => this.#connect(), frames, rng);
  }

  async probe(): Promise<string | null> {
    const conn = await this.#connect();
    await sendAll(conn, new TextEncoder().encode('{"cmd":8}'));
    await (conn as Deno.UnixConn).closeWrite().catch(() => {});
    const read = await readUntil(conn, 10_000);
    closeConn(conn);
    const text = decoder.decode(read.bytes);
    try {
      const reply = JSON.parse(text);
      if (reply.code === Resp.OK && typeof reply.data === "string") return null;
    } catch {
      // below
    }
    return `GET_CONFDIR answered ${JSON.stringify(text.slice(0, 200))}`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
