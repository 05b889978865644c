/**
 * The local status socket for `polyagent ctl quix …` (a second listener beside the link, not the
 * protocol's server): newline-delimited JSON on a 0600 Unix socket. `{"cmd":"status"}` → the link and process status; `{"cmd":"vpn_refresh"}` → asks the
 * server for the WireGuard config and applies it.
 */
import {
  type AdmittedConnection,
  closeUnix,
  DEFAULT_LIMITS,
  type ExpiryReason,
  type FrameEvent,
  type LimitsConfig,
  lineFramer,
  ListenerLimits,
  listenUnix,
  type Logger,
} from "../../core/mod.ts";
import { statusSocketRequestSchema } from "./schemas.ts";

/** What the status socket calls. */
export interface QuixStatusHandlers {
  status(): unknown;
  vpnRefresh(): Promise<unknown>;
}

/** Serves the status socket until closed. */
export class QuixStatusSocket {
  #listener: Deno.UnixListener | null = null;
  #path: string;
  #log: Logger;
  #handlers: QuixStatusHandlers;
  #conns = new Set<Deno.UnixConn>();
  #limits: ListenerLimits;

  constructor(
    path: string,
    handlers: QuixStatusHandlers,
    log: Logger,
    limits: LimitsConfig = DEFAULT_LIMITS,
  ) {
    this.#path = path;
    this.#handlers = handlers;
    this.#log = log;
    this.#limits = new ListenerLimits("quix", path, limits, log);
  }

  /** Binds the socket (0600) and starts accepting. */
  async listen(): Promise<void> {
    this.#listener = await listenUnix(this.#path, { mode: 0o600 });
    void this.#accept(this.#listener);
  }

  /** Closes the socket and every connection. */
  async close(): Promise<void> {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await closeUnix(this.#listener, this.#path);
    this.#listener = null;
    this.#limits.close();
  }

  async #accept(listener: Deno.UnixListener): Promise<void> {
    try {
      for await (const conn of listener) {
        const slot = this.#limits.admit(null, { expire: (reason) => this.#expired(conn, reason) });
        if ("refused" in slot) {
          void this.#refuse(conn, "too many clients");
          continue;
        }
        void this.#serve(conn, slot).finally(() => slot.release());
      }
    } catch {
      // listener closed
    }
  }

  /** Answers `{ok:false}` with the reason and closes the connection. */
  async #refuse(conn: Deno.UnixConn, error: string): Promise<void> {
    await conn.write(new TextEncoder().encode(JSON.stringify({ ok: false, error }) + "\n"))
      .catch(() => {});
    closeQuietly(conn);
  }

  #expired(conn: Deno.UnixConn, reason: ExpiryReason): void {
    void this.#refuse(
      conn,
      reason === "frame_timeout"
        ? `request not complete after ${this.#limits.config.frame_timeout_ms} ms`
        : reason === "idle_timeout"
        ? `connection idle for ${this.#limits.config.idle_timeout_ms} ms`
        : "closed to make room for another client",
    );
  }

  async #serve(conn: Deno.UnixConn, watch: AdmittedConnection): Promise<void> {
    this.#conns.add(conn);
    const framer = lineFramer(64 * 1024);
    const encoder = new TextEncoder();
    const reply = async (value: unknown) => {
      await conn.write(encoder.encode(JSON.stringify(value) + "\n"));
    };
    const buf = new Uint8Array(4096);
    try {
      for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
        const events = framer.push(buf.subarray(0, n));
        watch.received(events.length, framer.buffered > 0);
        for (const event of events) {
          if (event.kind === "oversized") this.#limits.refuse("oversize");
          watch.busy(1);
          await this.#answer(event, reply);
          watch.busy(0);
        }
      }
    } catch (error) {
      this.#log.debug("ctl connection ended", { error });
    } finally {
      watch.release();
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }

  async #answer(event: FrameEvent, reply: (value: unknown) => Promise<void>): Promise<void> {
    if (event.kind === "oversized") {
      await reply({ ok: false, error: "request too large" });
      return;
    }
    let parsed;
    try {
      parsed = statusSocketRequestSchema.safeParse(
        JSON.parse(new TextDecoder().decode(event.data)),
      );
    } catch {
      await reply({ ok: false, error: "request is not JSON" });
      return;
    }
    if (!parsed.success) {
      await reply({ ok: false, error: `cmd: expected "status" or "vpn_refresh"` });
      return;
    }
    try {
      const result = parsed.data.cmd === "status"
        ? this.#handlers.status()
        : await this.#handlers.vpnRefresh();
      await reply({ ok: true, result });
    } catch (error) {
      await reply({ ok: false, error: (error as Error).message });
    }
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed
  }
}
