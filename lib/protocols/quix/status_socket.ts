/**
 * The local status socket for `polyagent ctl quix …` (a second listener beside the link, not the
 * protocol's server): newline-delimited JSON on a 0600 Unix socket. `{"cmd":"status"}` → the link and process status; `{"cmd":"vpn_refresh"}` → asks the
 * server for the WireGuard config and applies it.
 */
import { closeUnix, lineFramer, listenUnix, type Logger } from "../../core/mod.ts";
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

  constructor(path: string, handlers: QuixStatusHandlers, log: Logger) {
    this.#path = path;
    this.#handlers = handlers;
    this.#log = log;
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
  }

  async #accept(listener: Deno.UnixListener): Promise<void> {
    try {
      for await (const conn of listener) void this.#serve(conn);
    } catch {
      // listener closed
    }
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    this.#conns.add(conn);
    const framer = lineFramer(64 * 1024);
    const encoder = new TextEncoder();
    const reply = async (value: unknown) => {
      await conn.write(encoder.encode(JSON.stringify(value) + "\n"));
    };
    try {
      for await (const chunk of conn.readable) {
        for (const event of framer.push(chunk)) {
          if (event.kind === "oversized") {
            await reply({ ok: false, error: "request too large" });
            continue;
          }
          let parsed;
          try {
            parsed = statusSocketRequestSchema.safeParse(
              JSON.parse(new TextDecoder().decode(event.data)),
            );
          } catch {
            await reply({ ok: false, error: "request is not JSON" });
            continue;
          }
          if (!parsed.success) {
            await reply({ ok: false, error: `cmd: expected "status" or "vpn_refresh"` });
            continue;
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
    } catch (error) {
      this.#log.debug("ctl connection ended", { error });
    } finally {
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  }
}
