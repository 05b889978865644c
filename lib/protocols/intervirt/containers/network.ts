/**
 * The host side of the container network: the bridge (set up once, on first need), the host
 * routes of addresses outside the bridge subnets, the nft table rendered from the state, the NIC
 * each container gets, and live address changes inside running containers.
 */
import type { IntervirtConfig } from "../config.ts";
import type { ContainerSpec, IntervirtBackends, NetfilterState } from "./backends.ts";
import {
  broadcastOf,
  type Cidr,
  inSubnet,
  OUTSIDE_PREFIX_V4,
  OUTSIDE_PREFIX_V6,
  parseCidr,
  unusableAddress,
} from "./net.ts";
import { containerName, type IntervirtState, type StoredContainer, vethName } from "./state.ts";

/** Options for {@linkcode ContainerNetwork}. */
export interface ContainerNetworkOptions {
  config: IntervirtConfig;
  backends: Pick<IntervirtBackends, "runtime" | "bridge" | "netfilter">;
}

/** The bridge, routes, nft table and container NICs. */
export class ContainerNetwork {
  readonly #config: IntervirtConfig;
  readonly #backends: ContainerNetworkOptions["backends"];
  readonly #bridge4: Cidr;
  readonly #bridge6: Cidr;
  #ready = false;
  #pending: Promise<boolean> | null = null;

  constructor(options: ContainerNetworkOptions) {
    this.#config = options.config;
    this.#backends = options.backends;
    this.#bridge4 = parseCidr(options.config.bridge_ipv4);
    this.#bridge6 = parseCidr(options.config.bridge_ipv6);
  }

  /**
   * Why `ip` cannot be a container's `family` address here (the bridge's gateway, network or
   * broadcast address, loopback, multicast…), or null when it can.
   */
  unusable(family: "ipv4" | "ipv6", ip: string): string | null {
    const bridge = family === "ipv4" ? this.#bridge4 : this.#bridge6;
    return unusableAddress(ip, bridge, this.#config.bridge);
  }

  /** Whether the bridge and table are set up (commits then update the table). */
  get ready(): boolean {
    return this.#ready;
  }

  /** The NIC and names container `c` gets from the runtime. */
  spec(c: StoredContainer): ContainerSpec {
    const in4 = inSubnet(c.ipv4, this.#bridge4);
    const in6 = inSubnet(c.ipv6, this.#bridge6);
    const prefix4 = in4 ? this.#bridge4.prefix : OUTSIDE_PREFIX_V4;
    return {
      name: containerName(this.#config.name_prefix, c.id),
      hostname: c.id,
      bridge: this.#config.bridge,
      hostVeth: vethName(this.#config.veth_prefix, c.id),
      mac: c.mac,
      ipv4: {
        address: c.ipv4,
        prefix: prefix4,
        gateway: in4 ? this.#bridge4.address : "dev",
        broadcast: broadcastOf(c.ipv4, prefix4),
      },
      ipv6: {
        address: c.ipv6,
        prefix: in6 ? this.#bridge6.prefix : OUTSIDE_PREFIX_V6,
        gateway: in6 ? this.#bridge6.address : "dev",
      },
    };
  }

  #netfilterState(state: IntervirtState): NetfilterState {
    const ep = (id: string) => {
      const c = state.containers[id]!;
      return { ipv4: c.ipv4, ipv6: c.ipv6 };
    };
    return {
      table: this.#config.nft_table,
      bridge: this.#config.bridge,
      pairs: state.connections.filter(([a, b]) => state.containers[a] && state.containers[b])
        .map(([a, b]) => [ep(a), ep(b)] as const),
      internet: Object.values(state.containers).filter((c) => c.internet).map((c) => ep(c.id)),
      forwards: state.forwards.filter((f) => state.containers[f.id]).map((f) => ({
        protocol: f.protocol,
        externalPort: f.externalPort,
        internalPort: f.internalPort,
        ...ep(f.id),
      })),
    };
  }

  /** Makes the nft table hold `state`; returns whether the live table changed. */
  apply(state: IntervirtState, compareLive = false): Promise<boolean> {
    return this.#backends.netfilter.apply(this.#netfilterState(state), compareLive);
  }

  /**
   * Bridge, sysctls, host routes and the nft table for the state `current()` returns; returns
   * whether the live table had to change. Runs once (later calls wait for the first).
   */
  ensure(current: () => IntervirtState): Promise<boolean> {
    if (this.#ready) return Promise.resolve(false);
    this.#pending ??= (async () => {
      try {
        await this.#backends.bridge.setUp();
        for (const c of Object.values(current().containers)) await this.routeOutside(c);
        const changed = await this.apply(current(), true);
        this.#ready = true;
        return changed;
      } finally {
        this.#pending = null;
      }
    })();
    return this.#pending;
  }

  /** Deletes the nft table and the bridge; the next {@linkcode ensure} sets them up again. */
  async tearDown(): Promise<void> {
    await this.#backends.netfilter.delete();
    await this.#backends.bridge.remove();
    this.#ready = false;
  }

  /** Addresses of `c` outside the bridge subnets (they need a host route). */
  #outside(c: StoredContainer): string[] {
    const out: string[] = [];
    if (!inSubnet(c.ipv4, this.#bridge4)) out.push(c.ipv4);
    if (!inSubnet(c.ipv6, this.#bridge6)) out.push(c.ipv6);
    return out;
  }

  /** Routes the addresses of `c` outside the bridge subnets onto the bridge. */
  async routeOutside(c: StoredContainer): Promise<void> {
    for (const ip of this.#outside(c)) await this.#backends.bridge.addHostRoute(ip);
  }

  /** Removes the routes {@linkcode routeOutside} added. */
  async unrouteOutside(c: StoredContainer): Promise<void> {
    for (const ip of this.#outside(c)) await this.#backends.bridge.deleteHostRoute(ip);
  }

  /** Re-attaches the host-side veth of `id` to the bridge; true when it had to. */
  async reattach(id: string): Promise<boolean> {
    const veth = vethName(this.#config.veth_prefix, id);
    return await this.#backends.bridge.attachPort(veth) === true;
  }

  /**
   * Sets the addresses of running container `c` from inside its namespace (runtimes that do not
   * configure them); with `old`, only the families whose address changed.
   */
  async configureAddresses(c: StoredContainer, old: StoredContainer | null): Promise<void> {
    const pid = await this.#backends.runtime.pid(containerName(this.#config.name_prefix, c.id));
    if (pid === null) return;
    const spec = this.spec(c);
    const before = old ? this.spec(old) : null;
    for (const family of ["ipv4", "ipv6"] as const) {
      const nic = spec[family];
      const prev = before?.[family];
      if (prev && prev.address === nic.address && old !== null) continue;
      await this.#backends.bridge.changeAddress({
        pid,
        device: "eth0",
        from: prev ? `${prev.address}/${prev.prefix}` : null,
        to: `${nic.address}/${nic.prefix}`,
        ...(nic.broadcast ? { broadcast: nic.broadcast } : {}),
        gateway: nic.gateway,
      });
    }
  }
}
