/**
 * The container manager: the records ({@linkcode ContainerStore}), the host network
 * ({@linkcode ContainerNetwork}) and the three groups of operations built on them. Every
 * operation serialises its work per container (and per address and forward), keeps the stored
 * state, the runtime and the nft table in step, and makes each change durable before it resolves.
 */
import type { JsonDocument, Logger } from "../../../core/mod.ts";
import type { IntervirtConfig } from "../config.ts";
import type { IntervirtBackends } from "./backends.ts";
import { ConnectionOperations } from "./connections.ts";
import { ContainerOperations } from "./containers.ts";
import { HostOperations } from "./host.ts";
import { ContainerNetwork } from "./network.ts";
import { Reconciler } from "./reconcile.ts";
import { cloneState, type IntervirtState } from "./state.ts";
import { ContainerStore } from "./store.ts";

/** Options for {@linkcode ContainerManager}. */
export interface ContainerManagerOptions {
  config: IntervirtConfig;
  backends: IntervirtBackends;
  document: JsonDocument<IntervirtState>;
  log: Logger;
  /** What the host lacks (root, tools), or null when the agent can manage containers. */
  unavailable: string | null;
  /** Called after each committed change. */
  onChange?: () => void;
  /** Every listener the agent announced (a port forward may not take their ports). */
  agentListeners?: () => readonly string[];
}

/** Every Intervirt operation, grouped: containers, connections, host. */
export class ContainerManager {
  /** AddContainer, RemoveContainer, Start/StopContainer, IDWithNewIpv4/6. */
  readonly containers: ContainerOperations;
  /** Connect, Disconnect, SetInternetAccess, Add/RemovePortForwarding. */
  readonly connections: ConnectionOperations;
  /** The wipe, update, shutdown and reboot commands. */
  readonly host: HostOperations;
  readonly #store: ContainerStore;
  readonly #reconciler: Reconciler;
  #drift: string[] = [];

  constructor(options: ContainerManagerOptions) {
    const { config, backends, log } = options;
    const network = new ContainerNetwork({ config, backends });
    const store = new ContainerStore({
      document: options.document,
      network,
      unavailable: options.unavailable,
      ...(options.onChange ? { onChange: options.onChange } : {}),
    });
    const agentListeners = options.agentListeners ?? (() => []);
    const parts = { config, store, network, backends, log, agentListeners };
    this.#store = store;
    this.containers = new ContainerOperations(parts);
    this.connections = new ConnectionOperations(parts);
    this.host = new HostOperations(parts);
    this.#reconciler = new Reconciler(parts);
  }

  /** A copy of the current state. */
  get state(): IntervirtState {
    return cloneState(this.#store.current);
  }

  /** Drift found by the last reconcile. */
  get drift(): readonly string[] {
    return this.#drift;
  }

  /** Why the agent cannot manage containers here, or null. */
  get unavailable(): string | null {
    return this.#store.unavailable;
  }

  /**
   * Brings the host in line with the stored state after a (re)start: the runtime's containers,
   * their running state and the nft table. Returns the drift found.
   */
  async reconcile(): Promise<string[]> {
    const drift = await this.#reconciler.run();
    this.#drift = drift;
    return drift;
  }
}
