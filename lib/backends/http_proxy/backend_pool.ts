/**
 * Keep-alive connections to backends, per worker and per backend address: an exchange takes an
 * idle connection (newest first, the least likely to be stale) or opens a new one with a connect
 * timeout, and gives it back when the response ended cleanly.
 */
import { parseAddress } from "./address.ts";
import { type Reader, readerOf } from "./direct_read.ts";

/** The subset of `Deno.Conn` the proxy uses, so a TLS connection can be plugged in too. */
export interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
  setNoDelay?(noDelay?: boolean): void;
  readonly remoteAddr?: Deno.Addr;
  readonly localAddr?: Deno.Addr;
}

/** A pooled backend connection. */
export interface BackendConn {
  conn: ByteConn;
  /** Reads from `conn` (direct_read.ts): resolves to the bytes read, 0 or null at its end. */
  read: Reader;
  address: string;
  /** The pool's clock when it went idle. */
  idleSince: number;
  /** Whether it came out of the pool (a failure may then just mean it was stale). */
  reused: boolean;
  /** Set by the exchange: the response ended cleanly and the connection may go back. */
  reusable: boolean;
  /** Its index among the pool's lent connections (-1: not lent). */
  slot: number;
}

/** Raised when a backend cannot be reached in time. */
export class ConnectError extends Error {
  constructor(address: string, options?: ErrorOptions) {
    super(`cannot connect to backend "${address}"`, options);
    this.name = "ConnectError";
  }
}

/** A connect failure's text for logs and the status page: the message and its cause's. */
export function connectErrorText(error: ConnectError): string {
  return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
}

/** Opens TCP connections with a timeout (the late connection, if any, is closed). */
export function connectWithTimeout(address: string, timeoutMs: number): Promise<Deno.TcpConn> {
  const { hostname, port } = parseAddress(address);
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new ConnectError(address, { cause: new Error("connect timeout") }));
    }, timeoutMs);
    Deno.connect({ hostname, port }).then((conn) => {
      clearTimeout(timer);
      if (settled) {
        conn.close();
        return;
      }
      settled = true;
      conn.setNoDelay(true);
      resolve(conn);
    }, (error) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      reject(new ConnectError(address, { cause: error }));
    });
  });
}

/** Options for a {@linkcode BackendPool}. */
export interface BackendPoolOptions {
  /** Idle connections kept per backend address. @default {1024} */
  maxIdlePerBackend?: number;
  /** Idle connections older than this are closed, ms. @default {55000} */
  idleTimeoutMs?: number;
  /** Read with Deno's read op directly (direct_read.ts). @default {true} */
  directReads?: boolean;
}

/** Idle keep-alive backend connections, per address. */
export class BackendPool {
  #idle = new Map<string, BackendConn[]>();
  #maxIdle: number;
  #idleTimeoutMs: number;
  #direct: boolean;
  /**
   * Connections lent out (closed on hard stop), each knowing its index: taking and giving back
   * are a push and a swap-remove. A Set did the same with hashing, and V8 shrank and regrew its
   * table as the lent count swung between 0 and the concurrency (runtime calls on the hot path).
   */
  #open: BackendConn[] = [];
  /**
   * Now, ms, as the owner last set it (the engine's tick does, so taking and giving back read no
   * clock); idle ages are measured with it.
   */
  clock: number = Date.now();

  constructor(options: BackendPoolOptions = {}) {
    this.#direct = options.directReads ?? true;
    this.#maxIdle = options.maxIdlePerBackend ?? 1024;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 55_000;
  }

  /** An idle connection to `address`, or null. */
  take(address: string): BackendConn | null {
    const list = this.#idle.get(address);
    if (!list) return null;
    const now = this.clock;
    while (list.length > 0) {
      const bc = list.pop()!;
      if (now - bc.idleSince < this.#idleTimeoutMs) {
        bc.reused = true;
        bc.reusable = false;
        this.#lend(bc);
        return bc;
      }
      closeQuietly(bc.conn);
    }
    return null;
  }

  /** A new connection to `address`. */
  async open(address: string, timeoutMs: number): Promise<BackendConn> {
    const conn = await connectWithTimeout(address, timeoutMs);
    const bc: BackendConn = {
      conn,
      read: readerOf(conn, this.#direct),
      address,
      idleSince: 0,
      reused: false,
      reusable: false,
      slot: -1,
    };
    this.#lend(bc);
    return bc;
  }

  #lend(bc: BackendConn): void {
    bc.slot = this.#open.length;
    this.#open.push(bc);
  }

  #unlend(bc: BackendConn): void {
    const i = bc.slot;
    if (i < 0 || this.#open[i] !== bc) return;
    const last = this.#open.pop()!;
    if (last !== bc) {
      this.#open[i] = last;
      last.slot = i;
    }
    bc.slot = -1;
  }

  /** Gives a connection back for reuse. */
  give(bc: BackendConn): void {
    this.#unlend(bc);
    let list = this.#idle.get(bc.address);
    if (!list) {
      list = [];
      this.#idle.set(bc.address, list);
    }
    if (list.length >= this.#maxIdle) {
      closeQuietly(bc.conn);
      return;
    }
    bc.idleSince = this.clock;
    list.push(bc);
  }

  /** Closes a connection that will not be reused. */
  discard(bc: BackendConn): void {
    this.#unlend(bc);
    closeQuietly(bc.conn);
  }

  /** Closes the idle connections of an address (a removed backend). */
  dropAddress(address: string): void {
    const list = this.#idle.get(address);
    if (!list) return;
    this.#idle.delete(address);
    for (const bc of list) closeQuietly(bc.conn);
  }

  /** Closes idle connections older than the idle timeout. */
  sweep(now: number): void {
    for (const [address, list] of this.#idle) {
      const keep = list.filter((bc) => {
        if (now - bc.idleSince < this.#idleTimeoutMs) return true;
        closeQuietly(bc.conn);
        return false;
      });
      if (keep.length === 0) this.#idle.delete(address);
      else if (keep.length !== list.length) this.#idle.set(address, keep);
    }
  }

  /** Connections lent out now, per address (for the status page; not on the request path). */
  lentByAddress(): Map<string, number> {
    const out = new Map<string, number>();
    for (const bc of this.#open) out.set(bc.address, (out.get(bc.address) ?? 0) + 1);
    return out;
  }

  /** Number of idle connections. */
  get idleCount(): number {
    let n = 0;
    for (const list of this.#idle.values()) n += list.length;
    return n;
  }

  /** Closes every connection, idle or lent. */
  closeAll(): void {
    for (const list of this.#idle.values()) for (const bc of list) closeQuietly(bc.conn);
    this.#idle.clear();
    for (const bc of this.#open) {
      bc.slot = -1;
      closeQuietly(bc.conn);
    }
    this.#open = [];
  }
}

/** Closes a connection, ignoring "already closed". */
export function closeQuietly(conn: ByteConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
