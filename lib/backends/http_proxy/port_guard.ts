/**
 * The port-sharing guard of the data plane: our workers bind with SO_REUSEPORT, which would let
 * them silently share a port with another process's socket bound the same way. So before they
 * bind a listener, a bind without SO_REUSEPORT probes the port (any listener there refuses it) and
 * closes at once; the guard remembers the addresses our workers listen on, which need no probe.
 */
import { parseAddress } from "./address.ts";
import { bindError, closeListener } from "./listeners.ts";
import type { ProxyOrder } from "./model.ts";

/**
 * Throws, naming the port, when another socket already listens on `address` — another process,
 * even one bound with SO_REUSEPORT, with which our workers' reusePort binds would silently share
 * the connections. The probe binds without SO_REUSEPORT (which any listener there refuses) and
 * closes at once; call it only while none of our own workers listens there.
 */
export function refuseForeignListener(address: string): void {
  const { hostname, port } = parseAddress(address);
  let probe: Deno.Listener;
  try {
    probe = Deno.listen({ hostname, port, reusePort: false });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `cannot listen on "${address}": port ${port} is already in use by another socket ` +
          `(another process?); refusing to share it`,
      );
    }
    throw bindError(address, error);
  }
  closeListener(probe);
}

/** Probes before activations, and tracks the addresses our workers listen on. */
export class PortGuard {
  #bound = new Set<string>();

  /** Before `order` goes to the workers: probes a new activation (when `probe`). */
  before(order: ProxyOrder, probe = true): void {
    if (order.op === "activate_listener") {
      if (probe && !this.#bound.has(order.address)) refuseForeignListener(order.address);
      this.#bound.add(order.address);
    } else if (order.op === "deactivate_listener" || order.op === "remove_listener") {
      this.#bound.delete(order.address);
    }
  }

  /** `order` failed on the workers. */
  failed(order: ProxyOrder): void {
    if (order.op === "activate_listener") this.#bound.delete(order.address);
  }
}
