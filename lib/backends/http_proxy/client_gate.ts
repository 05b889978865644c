/**
 * The proxy's per-client-address connection cap and its counts of connections refused or closed
 * by a limit, for one worker. Only the accept and the end of a connection touch it (one Map
 * lookup each); the request path never does. Connections of a listener that expects a PROXY
 * header are not capped: their peer is the load balancer in front, not the client.
 */
// The file itself, not core's mod.ts: a proxy worker loads only what its data plane needs.
import { unmappedIp } from "../../core/ip.ts";
import type { ByteConn } from "./backend_pool.ts";

/** Why the proxy refused or closed a client connection. */
export type ProxyCloseReason =
  /** At accept: the worker's `maxConnections` request buffers are all lent out. */
  | "max_connections"
  /** At accept: the client's address already holds `maxConnectionsPerClient` connections. */
  | "per_client"
  /** A request head not complete within the listener's request timeout (answered 408). */
  | "head_timeout"
  /** A keep-alive connection (or a TCP session) quiet past the listener's front timeout. */
  | "idle_timeout"
  /** A client that stopped sending a request body, or reading a response, past the timeout. */
  | "client_timeout";

/** The address a connection is counted under: its IP (IPv4-mapped IPv6 as IPv4), or null. */
function clientKey(conn: ByteConn): string | null {
  const addr = conn.remoteAddr;
  if (!addr || !("hostname" in addr)) return null;
  return unmappedIp(addr.hostname);
}

/** Per-client-address connection counts and refusal counters of one worker. */
export class ClientGate {
  readonly #max: number;
  #open = new Map<string, number>();
  #counts = new Map<ProxyCloseReason, number>();

  /** `maxPerClient`: connections at once from one address; 0 = no cap. */
  constructor(maxPerClient: number) {
    this.#max = maxPerClient;
  }

  /**
   * Takes a slot for `conn`'s address: the key to {@linkcode release} when it ends, null when it
   * is not counted (no cap, no IP address), or false when the address is at its cap (counted as
   * `per_client`; the caller closes the connection).
   */
  admit(conn: ByteConn): string | null | false {
    if (this.#max === 0) return null;
    const key = clientKey(conn);
    if (key === null) return null;
    const open = this.#open.get(key) ?? 0;
    if (open >= this.#max) {
      this.count("per_client");
      return false;
    }
    this.#open.set(key, open + 1);
    return key;
  }

  /** Gives back a slot {@linkcode admit} returned. */
  release(key: string): void {
    const left = (this.#open.get(key) ?? 1) - 1;
    if (left <= 0) this.#open.delete(key);
    else this.#open.set(key, left);
  }

  /** Counts one connection refused or closed by a limit. */
  count(reason: ProxyCloseReason): void {
    this.#counts.set(reason, (this.#counts.get(reason) ?? 0) + 1);
  }

  /** Refused or closed connections so far, by reason. */
  counts(): Partial<Record<ProxyCloseReason, number>> {
    return Object.fromEntries(this.#counts);
  }
}
