/**
 * Splits a byte stream into JSON values: one per connection, several separated by newlines, or
 * back to back (`{…}{…}`). Garbage up to the next newline is one bad frame. Pure logic.
 */

/** One item out of the parser. */
export type ParsedItem =
  | { kind: "value"; text: string }
  | { kind: "bad"; text: string }
  | { kind: "oversized"; size: number };

/** Incremental JSON value splitter with a size limit. */
export class JsonStreamParser {
  #buf = "";
  /** The rest of a bad line already answered has not arrived yet: drop it, it is no new item. */
  #inBadLine = false;
  #max: number;
  #decoder = new TextDecoder();

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  /** Characters waiting for the rest of a value (1 while the rest of a bad line is awaited). */
  get pending(): number {
    return this.#inBadLine ? Math.max(1, this.#buf.trim().length) : this.#buf.trim().length;
  }

  /** Feeds bytes; returns complete items. After "oversized" the stream cannot be resynced. */
  push(chunk: Uint8Array): ParsedItem[] {
    this.#buf += this.#decoder.decode(chunk, { stream: true });
    this.#skipBadLineRest();
    const out = this.#drain(false);
    if (this.#buf.length > this.#max) {
      out.push({ kind: "oversized", size: this.#buf.length });
      this.#buf = "";
    }
    return out;
  }

  /** At end of stream: whatever is left is a bad frame. */
  end(): ParsedItem[] {
    this.#buf += this.#decoder.decode();
    this.#skipBadLineRest();
    this.#inBadLine = false;
    const out = this.#drain(true);
    if (this.#buf.trim() !== "") out.push({ kind: "bad", text: this.#buf.trim() });
    this.#buf = "";
    return out;
  }

  /** Drops what continues a bad line answered before (up to its newline). */
  #skipBadLineRest(): void {
    if (!this.#inBadLine) return;
    const nl = this.#buf.indexOf("\n");
    this.#buf = nl < 0 ? "" : this.#buf.slice(nl);
    this.#inBadLine = nl < 0;
  }

  #drain(atEnd: boolean): ParsedItem[] {
    const out: ParsedItem[] = [];
    for (;;) {
      const start = this.#buf.search(/\S/);
      if (start < 0) {
        this.#buf = "";
        return out;
      }
      const first = this.#buf[start];
      if (first !== "{" && first !== "[") {
        // not JSON: answer at once and drop it up to the next newline (or all of it)
        const nl = this.#buf.indexOf("\n", start);
        const stop = nl < 0 ? this.#buf.length : nl;
        out.push({ kind: "bad", text: this.#buf.slice(start, stop).trim() });
        this.#buf = this.#buf.slice(stop);
        // answered at once; a read boundary may have cut the line: its rest is not a new item
        this.#inBadLine = nl < 0 && !atEnd;
        if (atEnd || nl < 0) return out;
        continue;
      }
      const end = valueEnd(this.#buf, start);
      if (end < 0) return out;
      if (end - start > this.#max) out.push({ kind: "oversized", size: end - start });
      else out.push({ kind: "value", text: this.#buf.slice(start, end) });
      this.#buf = this.#buf.slice(end);
    }
  }
}

/** Index just past the JSON object/array starting at `start`, or -1 when incomplete. */
function valueEnd(s: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}
