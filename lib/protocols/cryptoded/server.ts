/**
 * The control socket: accepts connections, splits requests (stream_parser.ts), checks the peer for
 * privileged commands, dispatches through the handler table and writes each reply. A connection is
 * closed once every complete request it sent has been answered; a bad client only loses its own
 * connection.
 */
import { basename, dirname, join } from "node:path";
import { closeUnix, type CommandRunner, listenUnix, type Logger } from "../../core/mod.ts";
import { type ConnectionIdentity, UnixPeerTracker } from "../../backends/peercred/mod.ts";
import { Resp } from "./codes.ts";
import { encodeReply, errorReply, type Reply } from "./errors.ts";
import type { HandlerContext, HandlerTable } from "./handlers.ts";
import { describeIssue, requestSchema } from "./schema.ts";
import { JsonStreamParser } from "./stream_parser.ts";

/** Options for {@linkcode ControlServer}. */
export interface ControlServerOptions {
  path: string;
  /** Group id for a 0660 socket, or null for 0600. */
  gid: number | null;
  maxRequestBytes: number;
  maxClients: number;
  table: HandlerTable;
  context: HandlerContext;
  runner: CommandRunner;
  log: Logger;
  /** True when every peer that can open the socket is root (root-owned 0600 socket). */
  peersAreRoot: boolean;
}

const IDLE_MS = 30_000;

interface ClientState {
  /** Which socket this connection is (null: unknown, or every peer is root). */
  identity: ConnectionIdentity | null;
  /** Whether the peer is root, looked up on the first privileged command. */
  root: Promise<boolean> | null;
}

/** One listening control socket. */
export class ControlServer {
  #o: ControlServerOptions;
  #listener: Deno.UnixListener | null = null;
  #tracker: UnixPeerTracker;
  #clients = new Set<Deno.UnixConn>();
  #loop: Promise<void> | null = null;

  constructor(options: ControlServerOptions) {
    this.#o = options;
    const tmp = join(dirname(options.path), `.${basename(options.path)}.${Deno.pid}.tmp`);
    this.#tracker = new UnixPeerTracker([options.path, tmp], options.runner);
  }

  /** Binds the socket; `onFatal` hears about an accept loop that dies while still listening. */
  async listen(onFatal: (error: unknown) => void): Promise<void> {
    const listener = await listenUnix(this.#o.path, {
      mode: this.#o.gid === null ? 0o600 : 0o660,
      ...(this.#o.gid === null ? {} : { gid: this.#o.gid }),
    });
    this.#listener = listener;
    this.#loop = this.#acceptLoop(listener).catch((error) => {
      if (this.#listener === listener) onFatal(error);
    });
  }

  async #acceptLoop(listener: Deno.UnixListener): Promise<void> {
    for (;;) {
      let conn: Deno.UnixConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#listener !== listener) return; // closed by us
        throw error;
      }
      // serialised on purpose: the next accept waits until this connection is identified
      const identity = this.#o.peersAreRoot
        ? null
        : await this.#tracker.identify().catch(() => null);
      if (this.#clients.size >= this.#o.maxClients) {
        this.#o.log.warn("too many clients; refusing a connection", { max: this.#o.maxClients });
        void this.#refuse(conn);
        continue;
      }
      this.#clients.add(conn);
      void this.#serve(conn, { identity, root: null }).finally(() => {
        this.#clients.delete(conn);
        try {
          conn.close();
        } catch {
          // already closed
        }
      });
    }
  }

  async #refuse(conn: Deno.UnixConn): Promise<void> {
    const timer = setTimeout(() => {
      try {
        conn.close();
      } catch {
        // gone
      }
    }, 2000);
    try {
      await writeAll(conn, encodeReply({ code: Resp.NO_MEMORY, data: "too many clients" }, true));
      await conn.closeWrite();
      // drain what the client sent so closing does not reset the reply away
      const sink = new Uint8Array(4096);
      let total = 0;
      for (
        let n = await conn.read(sink);
        n !== null && total < 1 << 20;
        n = await conn.read(sink)
      ) {
        total += n;
      }
    } catch {
      // gone
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch {
        // gone
      }
    }
  }

  #isRoot(state: ClientState): Promise<boolean> {
    if (this.#o.peersAreRoot) return Promise.resolve(true);
    const identity = state.identity;
    if (identity === null) return Promise.resolve(false);
    state.root ??= this.#tracker.credentials(identity).then(
      (peer) => peer !== null && peer.uids.every((u) => u === 0),
      () => false,
    );
    return state.root;
  }

  async #serve(conn: Deno.UnixConn, state: ClientState): Promise<void> {
    const parser = new JsonStreamParser(this.#o.maxRequestBytes);
    const buf = new Uint8Array(16 * 1024);
    for (;;) {
      let n: number | null;
      // a client that goes quiet mid-request loses its connection, nothing else
      const idle = setTimeout(() => {
        try {
          conn.close();
        } catch {
          // gone
        }
      }, IDLE_MS);
      try {
        n = await conn.read(buf);
      } catch {
        return;
      } finally {
        clearTimeout(idle);
      }
      const items = n === null ? parser.end() : parser.push(buf.subarray(0, n));
      for (const item of items) {
        let out: string;
        if (item.kind === "oversized") {
          out = encodeReply({
            code: Resp.JSON_INVALID,
            data: `request larger than ${this.#o.maxRequestBytes} bytes`,
          }, true);
          await writeAll(conn, out).catch(() => {});
          return;
        }
        if (item.kind === "bad") {
          out = encodeReply(
            { code: Resp.JSON_INVALID, data: "request is not a JSON object" },
            true,
          );
        } else {
          out = await this.#dispatch(item.text, state);
        }
        try {
          await writeAll(conn, out);
        } catch {
          return;
        }
      }
      if (n === null) return;
      if (items.length > 0 && parser.pending === 0) return; // answered everything it sent
    }
  }

  async #dispatch(text: string, state: ClientState): Promise<string> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      return encodeReply({
        code: Resp.JSON_INVALID,
        data: `invalid JSON: ${(error as Error).message}`,
      }, true);
    }
    const json = typeof raw === "object" && raw !== null && "json" in raw
      ? (raw as { json: unknown }).json !== false
      : true;
    const parsed = requestSchema.safeParse(raw);
    if (!parsed.success) {
      return encodeReply({ code: Resp.JSON_INVALID, data: describeIssue(parsed.error) }, json);
    }
    const request = parsed.data;
    const handler = this.#o.table.get(request.cmd);
    let reply: Reply;
    if (!handler) {
      reply = { code: Resp.INVALID_CMD, data: `cmd: unknown command ${request.cmd}` };
    } else if (handler.privileged && !(await this.#isRoot(state))) {
      reply = { code: Resp.SUDO_REQUIRED, data: "this command needs a root client" };
    } else {
      try {
        reply = await handler.handle(request, this.#o.context);
      } catch (error) {
        reply = errorReply(error, this.#o.log);
      }
    }
    return encodeReply(reply, json);
  }

  async close(): Promise<void> {
    const listener = this.#listener;
    this.#listener = null;
    await closeUnix(listener, this.#o.path);
    for (const c of this.#clients) {
      try {
        c.close();
      } catch {
        // gone
      }
    }
    this.#clients.clear();
    await this.#loop?.catch(() => {});
  }
}

async function writeAll(conn: Deno.UnixConn, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}
