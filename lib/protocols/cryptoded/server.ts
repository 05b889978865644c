/**
 * One control socket, speaking one dialect: binds it (0600, or 0660 for `socket_group`), accepts
 * connections, identifies each peer (right after accept, before the next one) unless every peer
 * is root, refuses clients over `max_clients` with NO_MEMORY, and hands each connection to
 * connection.ts.
 */
import { basename, dirname, join } from "node:path";
import {
  closeUnix,
  type LimitsConfig,
  ListenerLimits,
  listenUnix,
  type Logger,
} from "../../core/mod.ts";
import type { ConnectionIdentity } from "../../backends/peercred/mod.ts";
import type { CryptodedPeerIdentifier } from "./backends.ts";
import { type ExpiryHook, serveCryptodedConnection } from "./connection.ts";
import type { CryptodedDialect } from "./dialect.ts";
import type { CryptodedHandlerContext, CryptodedHandlerTable } from "./handlers.ts";
import { closeQuietly, drainAndClose, writeAllText } from "./socket_io.ts";

/** Options for {@linkcode CryptodedServer}. */
export interface CryptodedServerOptions {
  path: string;
  dialect: CryptodedDialect;
  /** Group id for a 0660 socket, or null for 0600. */
  gid: number | null;
  maxRequestBytes: number;
  maxClients: number;
  /** `[cryptoded.limits]`: the connection cap is the smaller of it and `maxClients`. */
  limits: LimitsConfig;
  table: CryptodedHandlerTable;
  context: CryptodedHandlerContext;
  /** Makes the peer identifier for the socket's names (bind name and final name). */
  peers(socketPaths: readonly string[]): CryptodedPeerIdentifier;
  log: Logger;
  /** True when every peer that can open the socket is root (root-owned 0600 socket). */
  peersAreRoot: boolean;
}

/** One listening control socket. */
export class CryptodedServer {
  readonly #o: CryptodedServerOptions;
  #listener: Deno.UnixListener | null = null;
  readonly #peers: CryptodedPeerIdentifier;
  readonly #clients = new Set<Deno.UnixConn>();
  #loop: Promise<void> | null = null;
  #limits: ListenerLimits | null = null;

  constructor(options: CryptodedServerOptions) {
    this.#o = options;
    const tmp = join(dirname(options.path), `.${basename(options.path)}.${Deno.pid}.tmp`);
    this.#peers = options.peers([options.path, tmp]);
  }

  /** Binds the socket; `onFatal` hears about an accept loop that dies while still listening. */
  async listen(onFatal: (error: unknown) => void): Promise<void> {
    const listener = await listenUnix(this.#o.path, {
      mode: this.#o.gid === null ? 0o600 : 0o660,
      ...(this.#o.gid === null ? {} : { gid: this.#o.gid }),
    });
    this.#listener = listener;
    this.#limits = new ListenerLimits("cryptoded", this.#o.path, this.#o.limits, this.#o.log);
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
      const identity = this.#o.peersAreRoot ? null : await this.#peers.identify().catch(() => null);
      const limits = this.#limits!;
      const hook: ExpiryHook = { expire: () => closeQuietly(conn) };
      const slot = limits.admit(null, {
        cap: this.#o.maxClients,
        expire: (reason) => hook.expire(reason),
      });
      if ("refused" in slot) { // counted and logged (once per interval) by the limits
        void refuse(conn, this.#o.dialect);
        continue;
      }
      this.#clients.add(conn);
      void serveCryptodedConnection(conn, {
        maxRequestBytes: this.#o.maxRequestBytes,
        dialect: this.#o.dialect,
        table: this.#o.table,
        context: this.#o.context,
        log: this.#o.log,
        isRoot: this.#rootCheck(identity),
        limits,
        admitted: slot,
        hook,
      }).finally(() => {
        slot.release();
        this.#clients.delete(conn);
        closeQuietly(conn);
      });
    }
  }

  /** Whether the peer of `identity` is root, looked up once, on the first privileged command. */
  #rootCheck(identity: ConnectionIdentity | null): () => Promise<boolean> {
    let root: Promise<boolean> | null = null;
    return () => {
      if (this.#o.peersAreRoot) return Promise.resolve(true);
      if (identity === null) return Promise.resolve(false);
      root ??= this.#peers.credentials(identity).then(
        (peer) => peer !== null && peer.uids.every((u) => u === 0),
        () => false,
      );
      return root;
    };
  }

  /** Closes the socket and every connection. */
  async close(): Promise<void> {
    const listener = this.#listener;
    this.#listener = null;
    await closeUnix(listener, this.#o.path);
    for (const c of this.#clients) closeQuietly(c);
    this.#clients.clear();
    await this.#loop?.catch(() => {});
    this.#limits?.close();
  }
}

/** Answers NO_MEMORY to a client over the limit and closes it (within 2 s). */
async function refuse(conn: Deno.UnixConn, dialect: CryptodedDialect): Promise<void> {
  const failure = { resp: "NO_MEMORY", message: "too many clients" } as const;
  await writeAllText(conn, dialect.encode({ kind: "failure", failure }, true)).catch(() => {});
  await drainAndClose(conn);
}
