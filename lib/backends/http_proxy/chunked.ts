/**
 * An incremental, strict scanner for `Transfer-Encoding: chunked` bodies. It does not copy or
 * decode: it only finds where the body ends, so the bytes can be forwarded verbatim and anything
 * after the end is kept as the next message. Chunk-size lines must be hex with optional
 * extensions and CRLF endings, trailers field lines; a bare LF, a bad digit, an absurd size or a
 * trailer that is not `name: value` is an error.
 */

import { C_TOKEN, CLASS } from "./head_bytes.ts";

const S_SIZE_FIRST = 0;
const S_SIZE = 1;
const S_EXT = 2;
const S_SIZE_LF = 3;
const S_DATA = 4;
const S_DATA_CR = 5;
const S_DATA_LF = 6;
const S_TRAILER_START = 7;
const S_TRAILER = 8;
const S_TRAILER_LF = 9;
const S_END_LF = 10;
const S_DONE = 11;
/** After the size, blanks before ";": 13, since a failed scanner sits at S_DONE + 1. */
const S_SIZE_BWS = 13;
const S_TRAILER_NAME = 14;

/** Largest chunk size accepted (2^48 bytes): bigger sizes are an attack, not a body. */
const MAX_CHUNK = 2 ** 48;
/** Longest chunk-extension or trailer line accepted, bytes. */
const MAX_LINE = 8192;

/** Result of {@linkcode ChunkedScanner.feed} when the body is not complete yet. */
export const CHUNKED_MORE = -1;
/** Result of {@linkcode ChunkedScanner.feed} when the framing is invalid. */
export const CHUNKED_ERROR = -2;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Finds the end of one chunked body, fed in pieces. */
export class ChunkedScanner {
  #state = S_SIZE_FIRST;
  #remaining = 0;
  #lineLength = 0;
  #sawSizeZero = false;

  /** Starts over for a new body. */
  reset(): void {
    this.#state = S_SIZE_FIRST;
    this.#remaining = 0;
    this.#lineLength = 0;
    this.#sawSizeZero = false;
  }

  /** Whether the last feed ended the body. */
  get done(): boolean {
    return this.#state === S_DONE;
  }

  /**
   * Scans `buf[from, to)`. Returns the index just past the end of the body when it ends inside
   * this range, {@linkcode CHUNKED_MORE} when every byte belongs to the body so far, or
   * {@linkcode CHUNKED_ERROR} on invalid framing.
   * Long on purpose: one state machine switch per byte (a call per state would cost one per byte).
   */
  feed(buf: Uint8Array, from: number, to: number): number {
    let i = from;
    let state = this.#state;
    while (i < to) {
      const c = buf[i]!;
      switch (state) {
        case S_SIZE_FIRST: {
          const v = hexValue(c);
          if (v < 0) return this.#fail();
          this.#remaining = v;
          state = S_SIZE;
          i++;
          break;
        }
        case S_SIZE: {
          const v = hexValue(c);
          if (v >= 0) {
            this.#remaining = this.#remaining * 16 + v;
            if (this.#remaining > MAX_CHUNK) return this.#fail();
            i++;
          } else if (c === 13) {
            state = S_SIZE_LF;
            i++;
          } else if (c === 59) {
            state = S_EXT;
            this.#lineLength = 0;
            i++;
          } else if (c === 32 || c === 9) {
            // BWS is tolerated before ";ext" only (RFC 9112): "5 " is not a chunk size
            state = S_SIZE_BWS;
            this.#lineLength = 0;
            i++;
          } else {
            return this.#fail();
          }
          break;
        }
        case S_SIZE_BWS: {
          if (c === 59) state = S_EXT;
          else if ((c !== 32 && c !== 9) || ++this.#lineLength > MAX_LINE) return this.#fail();
          i++;
          break;
        }
        case S_EXT: {
          if (c === 13) state = S_SIZE_LF;
          else if (c === 10 || (c < 32 && c !== 9) || c === 127) return this.#fail();
          else if (++this.#lineLength > MAX_LINE) return this.#fail();
          i++;
          break;
        }
        case S_SIZE_LF: {
          if (c !== 10) return this.#fail();
          i++;
          if (this.#remaining === 0) {
            this.#sawSizeZero = true;
            state = S_TRAILER_START;
          } else {
            state = S_DATA;
          }
          break;
        }
        case S_DATA: {
          const take = Math.min(this.#remaining, to - i);
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) state = S_DATA_CR;
          break;
        }
        case S_DATA_CR: {
          if (c !== 13) return this.#fail();
          state = S_DATA_LF;
          i++;
          break;
        }
        case S_DATA_LF: {
          if (c !== 10) return this.#fail();
          state = S_SIZE_FIRST;
          i++;
          break;
        }
        case S_TRAILER_START: {
          // a trailer is a field line (token ":" value): anything else, such as a request line
          // sent after a last chunk without its CRLF, is an error, never forwarded as a trailer
          if (c === 13) {
            state = S_END_LF;
          } else if ((CLASS[c]! & C_TOKEN) !== 0) {
            state = S_TRAILER_NAME;
            this.#lineLength = 1;
          } else {
            return this.#fail();
          }
          i++;
          break;
        }
        case S_TRAILER_NAME: {
          if (c === 58) state = S_TRAILER;
          else if ((CLASS[c]! & C_TOKEN) === 0 || ++this.#lineLength > MAX_LINE) {
            return this.#fail();
          }
          i++;
          break;
        }
        case S_TRAILER: {
          if (c === 13) state = S_TRAILER_LF;
          else if (c === 10 || (c < 32 && c !== 9) || c === 127) return this.#fail();
          else if (++this.#lineLength > MAX_LINE) return this.#fail();
          i++;
          break;
        }
        case S_TRAILER_LF: {
          if (c !== 10) return this.#fail();
          state = S_TRAILER_START;
          i++;
          break;
        }
        case S_END_LF: {
          if (c !== 10) return this.#fail();
          this.#state = S_DONE;
          return i + 1;
        }
        default:
          return this.#fail();
      }
    }
    this.#state = state;
    return CHUNKED_MORE;
  }

  /** Whether the terminating zero-size chunk has been seen. */
  get sawLastChunk(): boolean {
    return this.#sawSizeZero;
  }

  #fail(): number {
    this.#state = S_DONE + 1;
    return CHUNKED_ERROR;
  }
}
