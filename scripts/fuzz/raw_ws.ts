/**
 * A WebSocket endpoint written on a raw TCP connection, both roles (client frames masked, server
 * frames not), so the fuzzer can send what a browser API never would: text frames with invalid
 * UTF-8, binary and fragmented frames, odd control frames, a frame cut in half. Incoming messages
 * are reassembled, pings answered, a close frame answered and reported.
 *
 * @module
 */

import { concatBytes, writeFull } from "./stream_io.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One message received. */
export interface WsMessage {
  binary: boolean;
  data: Uint8Array;
  /** The text of a text message. */
  text: string;
}

/** How the connection ended: the close frame's code and reason, or 1006 when it was cut. */
export interface WsClose {
  code: number;
  reason: string;
}

/** Options for {@linkcode RawWebSocket.connect}. */
export interface RawConnectOptions {
  host: string;
  port: number;
  path: string;
  protocol?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

/** Reads until the end of an HTTP head; returns the head text and the bytes after it. */
async function readHead(
  conn: Deno.Conn,
  timeoutMs: number,
): Promise<{ head: string; rest: Uint8Array }> {
  const buf = new Uint8Array(16384);
  let len = 0;
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    for (;;) {
      const n = await conn.read(buf.subarray(len));
      if (n === null) throw new Error("Connection closed during the WebSocket handshake");
      len += n;
      const text = decoder.decode(buf.subarray(0, len));
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const headBytes = encoder.encode(text.slice(0, end + 4)).length;
        return { head: text.slice(0, end), rest: buf.slice(headBytes, len) };
      }
      if (len === buf.length) throw new Error("WebSocket handshake head too large");
    }
  } finally {
    clearTimeout(timer);
  }
}

/** A WebSocket over a raw connection. */
export class RawWebSocket {
  readonly conn: Deno.Conn;
  readonly #mask: boolean;
  #buf: Uint8Array = new Uint8Array(0);
  #fragments: Uint8Array[] = [];
  #fragmentBinary = false;
  #closed = Promise.withResolvers<WsClose>();
  #done = false;
  #writing: Promise<void> = Promise.resolve();
  /** Called with every complete message. */
  onMessage: (message: WsMessage) => void = () => {};

  private constructor(conn: Deno.Conn, mask: boolean, rest: Uint8Array) {
    this.conn = conn;
    this.#mask = mask;
    this.#buf = rest;
    void this.#readLoop();
  }

  /** Resolves when the connection has ended. */
  get closed(): Promise<WsClose> {
    return this.#closed.promise;
  }

  /** Whether the connection has ended. */
  get done(): boolean {
    return this.#done;
  }

  /** Opens a client connection; throws with the status line when the upgrade is refused. */
  static async connect(o: RawConnectOptions): Promise<RawWebSocket> {
    const conn = await Deno.connect({ hostname: o.host, port: o.port });
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    const lines = [
      `GET ${o.path} HTTP/1.1`,
      `Host: ${o.host}:${o.port}`,
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Key: ${key}`,
      "Sec-WebSocket-Version: 13",
      ...(o.protocol ? [`Sec-WebSocket-Protocol: ${o.protocol}`] : []),
      ...Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    ];
    try {
      await writeFull(conn, encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
      const { head, rest } = await readHead(conn, o.timeoutMs ?? 10_000);
      if (!/^HTTP\/1\.1 101/.test(head)) {
        throw new Error(`Upgrade refused: ${head.split("\r\n")[0]}`);
      }
      return new RawWebSocket(conn, true, rest);
    } catch (error) {
      try {
        conn.close();
      } catch {
        // closed
      }
      throw error;
    }
  }

  /** Completes the server side of an upgrade on an accepted connection. */
  static async accept(conn: Deno.Conn, protocol?: string): Promise<RawWebSocket> {
    const { head, rest } = await readHead(conn, 10_000);
    const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1];
    if (!key) throw new Error("Not a WebSocket upgrade");
    const reply = [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${await acceptKey(key)}`,
      ...(protocol ? [`Sec-WebSocket-Protocol: ${protocol}`] : []),
    ];
    await writeFull(conn, encoder.encode(reply.join("\r\n") + "\r\n\r\n"));
    return new RawWebSocket(conn, false, rest);
  }

  /** The bytes of one frame (masked in the client role). */
  encode(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
    const len = payload.length;
    const head: number[] = [(fin ? 0x80 : 0) | opcode];
    const maskBit = this.#mask ? 0x80 : 0;
    if (len < 126) head.push(maskBit | len);
    else if (len < 65536) head.push(maskBit | 126, len >> 8, len & 0xff);
    else {
      head.push(maskBit | 127, 0, 0, 0, 0);
      head.push((len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
    }
    let body = payload;
    if (this.#mask) {
      const key = crypto.getRandomValues(new Uint8Array(4));
      head.push(...key);
      body = new Uint8Array(len);
      for (let i = 0; i < len; i++) body[i] = payload[i]! ^ key[i & 3]!;
    }
    const out = new Uint8Array(head.length + len);
    out.set(head);
    out.set(body, head.length);
    return out;
  }

  /** Sends one frame; `fin` false starts or continues a fragmented message. */
  frame(opcode: number, payload: Uint8Array, options: { fin?: boolean } = {}): Promise<void> {
    return this.writeRaw(this.encode(opcode, payload, options.fin ?? true));
  }

  /** Writes bytes as they are (a frame cut short, for instance). */
  async writeRaw(bytes: Uint8Array): Promise<void> {
    if (this.#done) return;
    // one write at a time, so a ping's pong never lands inside a large frame
    const write = this.#writing.then(() => writeFull(this.conn, bytes));
    this.#writing = write.catch(() => this.#end({ code: 1006, reason: "write failed" }));
    await this.#writing;
  }

  /** Sends a text message (bytes are sent as they are, valid UTF-8 or not). */
  text(data: string | Uint8Array): Promise<void> {
    return this.frame(1, typeof data === "string" ? encoder.encode(data) : data);
  }

  /** Sends a binary message. */
  binary(data: Uint8Array): Promise<void> {
    return this.frame(2, data);
  }

  /** Sends a close frame and waits (up to `waitMs`) for the peer to close. */
  async close(code = 1000, waitMs = 2000): Promise<void> {
    if (this.#done) return;
    const payload = new Uint8Array([code >> 8, code & 0xff]);
    await this.frame(8, payload);
    const timer = setTimeout(() => this.abort(), waitMs);
    await this.closed;
    clearTimeout(timer);
  }

  /** Cuts the connection without a close frame. */
  abort(): void {
    try {
      this.conn.close();
    } catch {
      // closed
    }
    this.#end({ code: 1006, reason: "aborted" });
  }

  #end(close: WsClose): void {
    if (this.#done) return;
    this.#done = true;
    try {
      this.conn.close();
    } catch {
      // closed
    }
    this.#closed.resolve(close);
  }

  async #readLoop(): Promise<void> {
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        while (this.#parseOne()) {
          if (this.#done) return;
        }
        const n = await this.conn.read(chunk);
        if (n === null) break;
        this.#buf = concatBytes([this.#buf, chunk.subarray(0, n)]);
      }
    } catch {
      // reset or closed by us
    }
    this.#end({ code: 1006, reason: "connection ended" });
  }

  /** Parses one frame from the buffer; false when more bytes are needed. */
  #parseOne(): boolean {
    const b = this.#buf;
    if (b.length < 2) return false;
    const fin = (b[0]! & 0x80) !== 0;
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let at = 2;
    if (len === 126) {
      if (b.length < 4) return false;
      len = (b[2]! << 8) | b[3]!;
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return false;
      len = b[6]! * 2 ** 24 + (b[7]! << 16) + (b[8]! << 8) + b[9]!;
      at = 10;
    }
    const maskKey = masked ? b.subarray(at, at + 4) : null;
    if (masked) at += 4;
    if (b.length < at + len) return false;
    const payload = b.slice(at, at + len);
    if (maskKey) { for (let i = 0; i < len; i++) payload[i] = payload[i]! ^ maskKey[i & 3]!; }
    this.#buf = b.subarray(at + len);
    this.#onFrame(fin, opcode, payload);
    return true;
  }

  #onFrame(fin: boolean, opcode: number, payload: Uint8Array): void {
    if (opcode === 9) {
      void this.frame(10, payload);
      return;
    }
    if (opcode === 10) return;
    if (opcode === 8) {
      const code = payload.length >= 2 ? (payload[0]! << 8) | payload[1]! : 1005;
      const reason = decoder.decode(payload.subarray(2));
      void this.frame(8, payload.subarray(0, 2)).finally(() => this.#end({ code, reason }));
      return;
    }
    if (opcode === 1 || opcode === 2) {
      this.#fragments = [payload];
      this.#fragmentBinary = opcode === 2;
    } else if (opcode === 0) {
      this.#fragments.push(payload);
    }
    if (!fin) return;
    const data = this.#fragments.length === 1 ? this.#fragments[0]! : concatBytes(this.#fragments);
    this.#fragments = [];
    const binary = this.#fragmentBinary;
    this.onMessage({ binary, data, text: binary ? "" : decoder.decode(data) });
  }
}
