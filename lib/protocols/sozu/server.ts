/**
 * The command socket: a Unix socket of mode 0600 (only root, or the agent's user, may drive the
 * proxy) whose every accepted connection is served by `connection.ts` until it closes or the
 * server does.
 */
import { closeUnix, listenUnix } from "../../core/mod.ts";
import {
  serveSozuConnection,
  type SozuAdmission,
  type SozuConnectionOptions,
} from "./connection.ts";
import { response } from "./schemas.ts";

/** The listening command socket and its open connections. */
export class SozuCommandServer {
  #listener: Deno.UnixListener | null;
  #path: string;
  #conns = new Set<Deno.Conn>();
  #closing = false;
  #accepting: Promise<void>;
  #options: SozuConnectionOptions;

  private constructor(
    listener: Deno.UnixListener,
    path: string,
    options: SozuConnectionOptions,
    onError: (error: unknown) => void,
  ) {
    this.#listener = listener;
    this.#path = path;
    this.#options = options;
    this.#accepting = this.#accept(listener, options, onError);
  }

  /**
   * Listens on `path` (mode 0600) and serves every client with `options`; `onError` hears of an
   * accept loop that failed other than by {@linkcode close}.
   */
  static async listen(
    path: string,
    options: SozuConnectionOptions,
    onError: (error: unknown) => void,
  ): Promise<SozuCommandServer> {
    const listener = await listenUnix(path, { mode: 0o600 });
    return new SozuCommandServer(listener, path, options, onError);
  }

  /** Open client connections. */
  get clients(): number {
    return this.#conns.size;
  }

  /**
   * Stops listening (removing the socket if it is still ours) and closes every connection, or
   * with `keepClients` (an upgrade) leaves them to finish and end with the process.
   */
  async close(options: { keepClients?: boolean } = {}): Promise<void> {
    this.#closing = true;
    const listener = this.#listener;
    this.#listener = null;
    if (listener) await closeUnix(listener, this.#path);
    if (!options.keepClients) { for (const conn of this.#conns) closeQuietly(conn); }
    this.#conns.clear();
    await this.#accepting.catch(() => {});
    this.#options.limits?.close();
  }

  /** A slot in the limits (answered ERROR and closed when there is none). */
  #admit(conn: Deno.Conn, options: SozuConnectionOptions): SozuAdmission | undefined | "refused" {
    if (!options.limits) return undefined;
    const admission = { expire: () => closeQuietly(conn) } as Partial<SozuAdmission>;
    const slot = options.limits.admit(null, { expire: (reason) => admission.expire!(reason) });
    if ("refused" in slot) {
      void refuse(conn, options.limits.config.max_connections);
      return "refused";
    }
    admission.admitted = slot;
    return admission as SozuAdmission;
  }

  async #accept(
    listener: Deno.UnixListener,
    options: SozuConnectionOptions,
    onError: (error: unknown) => void,
  ): Promise<void> {
    try {
      for await (const conn of listener) {
        const admission = this.#admit(conn, options);
        if (admission === "refused") continue;
        this.#conns.add(conn);
        void serveSozuConnection(conn, options, admission).finally(() => {
          admission?.admitted.release();
          this.#conns.delete(conn);
          closeQuietly(conn);
        });
      }
    } catch (error) {
      if (!this.#closing) onError(error);
    }
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** Answers ERROR to a client over the connection cap and closes it. */
async function refuse(conn: Deno.Conn, max: number): Promise<void> {
  const reply = response("", "ERROR", `too many clients (the limit is ${max}): try again later`);
  const timer = setTimeout(() => closeQuietly(conn), 2000);
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify(reply) + "\0"));
  } catch {
    // gone
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}
