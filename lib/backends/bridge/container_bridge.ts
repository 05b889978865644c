/** One container bridge and the host networking around it, bound to a runner. */
import type { CommandRunner } from "../../core/mod.ts";
import { deleteLink, ensureBridge, ensurePort } from "./link.ts";
import { type AddressChange, changeAddress } from "./netns.ts";
import { addHostRoute, deleteHostRoute, enableProxyArp } from "./route.ts";
import { enableForwarding } from "./sysctl.ts";

/** Options for {@linkcode ContainerBridge}. */
export interface ContainerBridgeOptions {
  /** The bridge's interface name. */
  name: string;
  /** Gateway addresses in CIDR form, e.g. `10.93.0.1/24`, `fd93::1/64`. */
  addresses: readonly string[];
}

/** The agent's container bridge: set up, tear down, host routes, ports, in-container addresses. */
export class ContainerBridge {
  readonly #runner: CommandRunner;
  readonly #options: ContainerBridgeOptions;

  constructor(runner: CommandRunner, options: ContainerBridgeOptions) {
    this.#runner = runner;
    this.#options = options;
  }

  /** Makes sure the bridge is up with its addresses, forwarding is on and proxy ARP too. */
  async setUp(): Promise<void> {
    await ensureBridge(this.#runner, this.#options);
    await enableForwarding(this.#runner, true);
    await enableProxyArp(this.#runner, this.#options.name);
  }

  /** Deletes the bridge; a missing one is fine. */
  remove(): Promise<void> {
    return deleteLink(this.#runner, this.#options.name);
  }

  /** Routes `ip` onto the bridge (idempotent). */
  addHostRoute(ip: string): Promise<void> {
    return addHostRoute(this.#runner, this.#options.name, ip);
  }

  /** Removes the route of `ip` (a missing one is fine). */
  deleteHostRoute(ip: string): Promise<void> {
    return deleteHostRoute(this.#runner, this.#options.name, ip);
  }

  /**
   * Makes sure the host-side veth `port` is on the bridge: true when it had to be re-attached,
   * false when it was, null when the link does not exist.
   */
  attachPort(port: string): Promise<boolean | null> {
    return ensurePort(this.#runner, port, this.#options.name);
  }

  /** Changes an address inside a running container's namespace. */
  changeAddress(change: AddressChange): Promise<void> {
    return changeAddress(this.#runner, change);
  }
}
