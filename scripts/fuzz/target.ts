/**
 * What every fuzz target provides (frames, batches, bursts, a known-valid probe), the reply
 * ledger the targets check replies with, and the shared way a JSON frame is built: a valid
 * message from the protocol's schema and examples, then maybe mutated (structure first, bytes
 * second) or replaced by something that is not the protocol's object at all.
 *
 * @module
 */
import type { ProcessFigures } from "./agent.ts";
import { toJsonText } from "./json_text.ts";
import { foreignFrame, mutateBytes, mutateValue } from "./mutate.ts";
import type { Rng } from "./rng.ts";
import type { JsonSchema } from "./schema_values.ts";

/** One frame to send. */
export interface FuzzFrame {
  index: number;
  /** The bytes (a text message's bytes for WebSocket protocols). */
  bytes: Uint8Array;
  /** WebSocket: send as a binary message. */
  binary?: boolean;
  /** What was done to the valid message ("valid" when nothing). */
  label: string;
  /** The connection ends after this frame by design (its batch stops here). */
  endsConnection?: boolean;
}

/** A problem found, tied to the frame that showed it (-1: not tied to one frame). */
export interface FrameProblem {
  index: number;
  problem: string;
}

/** What one connection's worth of frames showed. */
export interface GroupOutcome {
  problems: FrameProblem[];
  /** Replies checked. */
  replies: number;
  /** Frames that get no reply by design (one-way messages, a connection closed by design). */
  silentByDesign: number;
}

/** One protocol endpoint under fuzz. */
export interface FuzzTarget {
  readonly name: string;
  /** Frame `index` of the run, built from its own generator. */
  frame(rng: Rng, index: number): FuzzFrame;
  /** Sends frames in order on one connection and checks that every one is answered. */
  group(frames: FuzzFrame[]): Promise<GroupOutcome>;
  /** Sends frames over several connections that close abruptly without reading. */
  burst(frames: FuzzFrame[], rng: Rng): Promise<void>;
  /** A known-valid request: null when its valid reply came, else the problem. */
  probe(): Promise<string | null>;
  /** Liveness beyond the agent's /healthz (a separate process): null when fine. */
  alive?(): Promise<string | null>;
  /** The figures of the process under test when it is not the agent. */
  figures?(): Promise<ProcessFigures>;
  close(): Promise<void>;
}

/** Expected replies, as a multiset of keys each tied to the frame that expects it. */
export class ReplyLedger {
  #expected = new Map<string, number[]>();
  #count = 0;
  #unexpected = new Map<string, number>();
  #taken = new Set<string>();
  #wake: (() => void) | null = null;
  #until: string | null = null;

  /** Frame `index` expects one reply with `key`. */
  expect(key: string, index: number): void {
    const list = this.#expected.get(key);
    if (list) list.push(index);
    else this.#expected.set(key, [index]);
    this.#count++;
  }

  /** Records a reply; false (and noted) when no frame expected it. */
  take(key: string): boolean {
    const list = this.#expected.get(key);
    if (!list || list.length === 0) {
      this.#unexpected.set(key, (this.#unexpected.get(key) ?? 0) + 1);
      return false;
    }
    list.shift();
    if (list.length === 0) this.#expected.delete(key);
    this.#count--;
    this.#taken.add(key);
    if (this.#count === 0 || key === this.#until) this.#wake?.();
    return true;
  }

  /**
   * Resolves once nothing is outstanding (or, with `until`, once that key's reply came: in a
   * protocol that answers in order, nothing else is coming), after `ms` at the latest, or when
   * {@linkcode interrupt}ed.
   */
  async settled(ms: number, until: string | null = null): Promise<void> {
    if (this.#count === 0 || (until !== null && this.#taken.has(until))) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#wake = resolve;
    this.#until = until;
    const timer = setTimeout(resolve, ms);
    await promise;
    clearTimeout(timer);
    this.#wake = null;
    this.#until = null;
  }

  /** Wakes a waiting {@linkcode settled} early (the connection ended). */
  interrupt(): void {
    this.#wake?.();
  }

  /** Replies still expected. */
  get outstanding(): number {
    return this.#count;
  }

  /** Counts unexpected `from` replies as expected `into` ones (as many as both have). */
  substitute(from: string, into: string): void {
    let spare = this.#unexpected.get(from) ?? 0;
    while (spare > 0 && (this.#expected.get(into)?.length ?? 0) > 0) {
      this.take(into);
      spare--;
    }
    this.#setUnexpected(from, spare);
  }

  /** Accepts up to `max` unexpected `key` replies (extra messages the protocol may send). */
  forgive(key: string, max: number): void {
    this.#setUnexpected(key, Math.max(0, (this.#unexpected.get(key) ?? 0) - max));
  }

  #setUnexpected(key: string, n: number): void {
    if (n > 0) this.#unexpected.set(key, n);
    else this.#unexpected.delete(key);
  }

  /** The frames still waiting, with their keys. */
  missing(): FrameProblem[] {
    const out: FrameProblem[] = [];
    for (const [key, list] of this.#expected) {
      for (const index of list) out.push({ index, problem: `no reply (expected ${key})` });
    }
    return out.sort((a, b) => a.index - b.index);
  }

  /** The problems of a finished group: missing and unexpected replies. */
  problems(firstIndex: number): FrameProblem[] {
    const out = this.missing();
    for (const [key, n] of [...this.#unexpected].slice(0, 5)) {
      out.push({
        index: firstIndex,
        problem: `${n} unexpected repl${n > 1 ? "ies" : "y"} ${key.slice(0, 200)}`,
      });
    }
    return out;
  }
}

/** A valid message and the JSON Schema of its whole envelope. */
export interface ValidMessage {
  value: unknown;
  schema: JsonSchema | undefined;
}

const encoder = new TextEncoder();

/**
 * Frame `index`: about a quarter valid, the rest mutated in structure (most), in bytes, or
 * replaced by a foreign value.
 */
export function jsonFrame(rng: Rng, index: number, message: ValidMessage): FuzzFrame {
  const kind = rng.weighted([[25, "valid"], [55, "structure"], [12, "bytes"], [8, "foreign"]]);
  if (kind === "foreign") return { index, ...foreignFrame(rng) };
  let value = message.value;
  let label = "valid";
  if (kind !== "valid") {
    const m = mutateValue(value, message.schema, rng);
    value = m.value;
    label = m.label;
  }
  let bytes: Uint8Array = encoder.encode(toJsonText(value));
  if (kind === "bytes") {
    const m = mutateBytes(bytes, rng);
    bytes = m.bytes;
    label = m.label;
  }
  return { index, bytes, label };
}

/** A JSON Schema object with these properties (all required unless listed as optional). */
export function objectSchema(
  properties: Record<string, JsonSchema | undefined>,
  optional: readonly string[] = [],
): JsonSchema {
  const props: Record<string, JsonSchema> = {};
  for (const [k, v] of Object.entries(properties)) props[k] = v ?? {};
  return {
    type: "object",
    properties: props,
    required: Object.keys(props).filter((k) => !optional.includes(k)),
  };
}

/** Waits until `done()` or `ms` pass; true when done. */
export async function waitUntil(done: () => boolean, ms: number, stepMs = 2): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return true;
}
