/**
 * What the container domain needs from the system, as one interface: the container runtime, the
 * bridge, the nft table, the local images and the host. `definition.ts` builds the real ones
 * (LXC or Incus from `intervirt.runtime`); a test may pass fakes.
 */
import type { CommandRunner, RunResult } from "../../../core/mod.ts";
import type { AddressChange } from "../../../backends/bridge/mod.ts";
import type { ContainerSpec, ImageSource, RuntimeState } from "../../../backends/lxc/mod.ts";
import type { NetfilterState } from "../../../backends/netfilter/mod.ts";
import type { IntervirtConfig } from "../config.ts";

export type { AddressChange, ContainerSpec, ImageSource, NetfilterState, RuntimeState };

/** What the domain needs from a runtime (LXC and Incus implement it). */
export interface ContainerRuntime {
  readonly kind: string;
  /** False when the agent must set addresses inside the container after start. */
  readonly configuresAddresses: boolean;
  requiredTools(): string[];
  prepare(): Promise<void>;
  create(spec: ContainerSpec, image: ImageSource): Promise<void>;
  setNetwork(spec: ContainerSpec): Promise<void>;
  /** False when the container was already running. */
  start(name: string): Promise<boolean>;
  /** False when the container was not running. */
  stop(name: string, graceSeconds: number): Promise<boolean>;
  destroy(name: string): Promise<void>;
  state(name: string): Promise<RuntimeState>;
  pid(name: string): Promise<number | null>;
  list(): Promise<string[]>;
  exec(name: string, argv: readonly string[], timeoutMs: number): Promise<RunResult>;
}

/** The agent's bridge and the host networking around it. */
export interface IntervirtBridge {
  /** The bridge up with its addresses, forwarding and proxy ARP on. */
  setUp(): Promise<void>;
  /** Deletes the bridge. */
  remove(): Promise<void>;
  addHostRoute(ip: string): Promise<void>;
  deleteHostRoute(ip: string): Promise<void>;
  /** Re-attaches a host-side veth: true when it had to, false when it was, null when absent. */
  attachPort(veth: string): Promise<boolean | null>;
  /** Changes an address inside a running container. */
  changeAddress(change: AddressChange): Promise<void>;
}

/** The agent's nft table. */
export interface IntervirtNetfilter {
  /** Makes the table hold `state`; returns whether the live table changed. */
  apply(state: NetfilterState, compareLive?: boolean): Promise<boolean>;
  /** Deletes the table. */
  delete(): Promise<void>;
  /** Gets ready for the first change (starts helper processes). */
  warm(): void;
  close(): Promise<void>;
}

/** Local rootfs images. */
export interface IntervirtImages {
  /** The directory searched (named in the not-found error). */
  readonly dir: string;
  /** The local tarball of `name`, or null. */
  find(name: string): Promise<{ kind: "tarball"; path: string } | null>;
}

/** The host itself. */
export interface IntervirtHost {
  /** Names what the host lacks to run `tools` (root, commands); empty when ready. */
  missing(tools: readonly string[]): string[];
  /** Host sockets listening on `protocol`/`port`, one description each (empty when none). */
  listeners(protocol: "tcp" | "udp", port: number): Promise<string[]>;
  /** Runs a host command (update step, shutdown, reboot). */
  run(argv: readonly string[], timeoutMs: number): Promise<void>;
}

/** Everything the Intervirt service touches the system through. */
export interface IntervirtBackends {
  runtime: ContainerRuntime;
  bridge: IntervirtBridge;
  netfilter: IntervirtNetfilter;
  images: IntervirtImages;
  host: IntervirtHost;
}

/** What the backends are built from when the service starts. */
export interface IntervirtBackendSetup {
  config: IntervirtConfig;
  /** The agent's command runner. */
  runner: CommandRunner;
  /** The agent's state directory. */
  stateDir: string;
}

/** Builds the backends of a starting service. */
export type IntervirtBackendsFactory = (setup: IntervirtBackendSetup) => Promise<IntervirtBackends>;
