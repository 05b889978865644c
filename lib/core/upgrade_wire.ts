/**
 * The two small wire protocols of an upgrade, both JSON lines over a Unix socket of mode 0600:
 *
 * - the agent control socket (`<run_dir>/polyagent.sock`): `polyagent upgrade` sends
 *   `{"op":"upgrade","binary":…}` and reads `PROCESSING` lines, then one `OK` or `ERROR`;
 * - the handover socket (`<run_dir>/.polyagent-handover-<pid>.sock`) between the old agent and
 *   its successor: hello → handover → ready → move → moved → detached → running (any step may
 *   be answered `failed` / `abort` instead).
 */
import { z } from "zod";
import { lineFramer } from "./framing.ts";

const tcpAddress = z.object({ hostname: z.string(), port: z.number().int().min(1).max(65535) });

/** Successor → old agent. */
export const fromSuccessorSchema = z.discriminatedUnion("t", [
  z.object({ t: z.literal("hello"), pid: z.number().int(), version: z.string() }),
  z.object({ t: z.literal("ready"), ms: z.record(z.string(), z.number()) }),
  z.object({ t: z.literal("moved"), notes: z.array(z.string()) }),
  z.object({ t: z.literal("running"), pid: z.number().int() }),
  z.object({ t: z.literal("failed"), reason: z.string() }),
]);
/** A message from the successor. */
export type FromSuccessor = z.infer<typeof fromSuccessorSchema>;

/** Old agent → successor. */
export const fromOldAgentSchema = z.discriminatedUnion("t", [
  z.object({
    t: z.literal("handover"),
    from: z.object({ pid: z.number().int(), version: z.string(), startedAt: z.number() }),
    services: z.record(z.string(), z.unknown()),
    unix: z.array(z.string()),
    tcp: z.array(tcpAddress),
  }),
  z.object({ t: z.literal("move") }),
  z.object({ t: z.literal("detached") }),
  z.object({ t: z.literal("abort"), reason: z.string() }),
]);
/** A message from the old agent. */
export type FromOldAgent = z.infer<typeof fromOldAgentSchema>;

/** A request on the agent control socket. */
export const agentRequestSchema = z.object({
  op: z.literal("upgrade"),
  binary: z.string().min(1).nullable().default(null),
});
/** A parsed control request. */
export type AgentRequest = z.infer<typeof agentRequestSchema>;

/** A reply line on the agent control socket. */
export const agentReplySchema = z.object({
  status: z.enum(["PROCESSING", "OK", "ERROR"]),
  message: z.string(),
  pid: z.number().int().optional(),
});
/** A reply line. */
export type AgentReply = z.infer<typeof agentReplySchema>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One JSON-lines peer: typed sends, and reads checked against a schema. */
export class JsonLines<In> {
  #conn: Deno.Conn;
  #schema: z.ZodType<In>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #framer = lineFramer(16 << 20);
  #queue: In[] = [];

  constructor(conn: Deno.Conn, schema: z.ZodType<In>) {
    this.#conn = conn;
    this.#schema = schema;
    this.#reader = conn.readable.getReader();
  }

  /** Writes one message as a line. */
  async send(message: unknown): Promise<void> {
    const bytes = encoder.encode(JSON.stringify(message) + "\n");
    for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
  }

  /** The next message, or null at end of stream; throws on a line that is not one. */
  async next(): Promise<In | null> {
    while (this.#queue.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) return null;
      for (const event of this.#framer.push(value)) {
        if (event.kind === "oversized") throw new RangeError("Handover message too large");
        const parsed = this.#schema.safeParse(JSON.parse(decoder.decode(event.data)));
        if (!parsed.success) {
          throw new TypeError(`Unexpected handover message: ${parsed.error.issues[0]?.message}`);
        }
        this.#queue.push(parsed.data);
      }
    }
    return this.#queue.shift()!;
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** Reads the next message within `ms`; null at end of stream. */
export function nextWithin<In>(peer: JsonLines<In>, ms: number, what: string): Promise<In | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`No ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([peer.next(), timeout]).finally(() => clearTimeout(timer));
}
