/**
 * Stream framers for socket protocols: delimiter-separated frames (NUL for sozu, newline for
 * line protocols) with a maximum frame size, and whole-connection reads for one-message-per-
 * connection protocols. An oversized frame is reported once and skipped up to its delimiter, so
 * the connection stays usable.
 */

/** One event from a framer. */
export type FrameEvent =
  | { kind: "frame"; data: Uint8Array }
  | { kind: "oversized"; size: number };

/** Options for {@linkcode DelimitedFramer}. */
export interface DelimitedFramerOptions {
  /** The byte that ends a frame. */
  delimiter: number;
  /** Largest frame accepted, in bytes (delimiter excluded). */
  maxFrame: number;
  /** Drop a `\r` before the delimiter (line protocols). @default {false} */
  stripCR?: boolean;
  /** Skip empty frames. @default {true} */
  skipEmpty?: boolean;
}

/** Splits a byte stream into frames. Push chunks in; get complete frames out. */
export class DelimitedFramer {
  #delimiter: number;
  #max: number;
  #stripCR: boolean;
  #skipEmpty: boolean;
  #buffer = new Uint8Array(4096);
  #length = 0;
  /** Bytes of an oversized frame being discarded, or -1 when not discarding. */
  #discarding = -1;

  constructor(options: DelimitedFramerOptions) {
    this.#delimiter = options.delimiter;
    this.#max = options.maxFrame;
    this.#stripCR = options.stripCR ?? false;
    this.#skipEmpty = options.skipEmpty ?? true;
  }

  /** Bytes buffered for a frame not yet complete. */
  get buffered(): number {
    return this.#length;
  }

  /** Feeds bytes; returns the frames (and oversize reports) they complete. */
  push(chunk: Uint8Array): FrameEvent[] {
    const events: FrameEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf(this.#delimiter, start);
      const piece = chunk.subarray(start, end < 0 ? chunk.length : end);
      if (this.#discarding >= 0) {
        this.#discarding += piece.length;
      } else if (this.#length + piece.length > this.#max) {
        this.#discarding = this.#length + piece.length;
        this.#length = 0;
      } else {
        this.#append(piece);
      }
      if (end < 0) break;
      if (this.#discarding >= 0) {
        events.push({ kind: "oversized", size: this.#discarding });
        this.#discarding = -1;
      } else {
        let frame = this.#buffer.slice(0, this.#length);
        if (this.#stripCR && frame.length > 0 && frame[frame.length - 1] === 0x0d) {
          frame = frame.subarray(0, frame.length - 1);
        }
        this.#length = 0;
        if (frame.length > 0 || !this.#skipEmpty) events.push({ kind: "frame", data: frame });
      }
      start = end + 1;
    }
    return events;
  }

  #append(piece: Uint8Array): void {
    const need = this.#length + piece.length;
    if (need > this.#buffer.length) {
      const grown = new Uint8Array(
        Math.min(Math.max(need, this.#buffer.length * 2), this.#max + 1),
      );
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(piece, this.#length);
    this.#length = need;
  }
}

/** A NUL-delimited framer (sozu's command socket). */
export function nulFramer(maxFrame: number): DelimitedFramer {
  return new DelimitedFramer({ delimiter: 0, maxFrame });
}

/** A newline-delimited framer that drops `\r`. */
export function lineFramer(maxFrame: number): DelimitedFramer {
  return new DelimitedFramer({ delimiter: 0x0a, maxFrame, stripCR: true });
}

/** Result of {@linkcode readWhole}. */
export type WholeRead = { kind: "message"; data: Uint8Array } | { kind: "oversized"; size: number };

/**
 * Reads until the peer closes its side (one message per connection), refusing more than
 * `maxBytes`. Stops early at `until` when given (for example a newline).
 */
export async function readWhole(
  reader: { read(p: Uint8Array): Promise<number | null> },
  maxBytes: number,
  options: { until?: number; timeoutMs?: number } = {},
): Promise<WholeRead> {
  const buffer = new Uint8Array(maxBytes + 1);
  let length = 0;
  const deadline = options.timeoutMs === undefined ? null : Date.now() + options.timeoutMs;
  while (length <= maxBytes) {
    if (deadline !== null && Date.now() > deadline) break;
    const n = await reader.read(buffer.subarray(length));
    if (n === null) break;
    length += n;
    if (
      options.until !== undefined && buffer.subarray(length - n, length).includes(options.until)
    ) break;
  }
  if (length > maxBytes) return { kind: "oversized", size: length };
  return { kind: "message", data: buffer.slice(0, length) };
}

/** Copies all frames out of a connection, calling `onEvent` for each, until EOF or abort. */
export async function readFrames(
  conn: { readable: ReadableStream<Uint8Array> },
  framer: DelimitedFramer,
  onEvent: (event: FrameEvent) => void | Promise<void>,
): Promise<void> {
  for await (const chunk of conn.readable) {
    for (const event of framer.push(chunk)) await onEvent(event);
  }
}

/** The parts one after the other (the one part itself when there is only one). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
