/** What every group of operations shares: the config, the records, the network, the backends. */
import type { Logger } from "../../../core/mod.ts";
import type { IntervirtConfig } from "../config.ts";
import type { IntervirtBackends } from "./backends.ts";
import type { ContainerNetwork } from "./network.ts";
import type { ContainerStore } from "./store.ts";

/** The shared parts the operation classes are built from. */
export interface ContainerDomainParts {
  config: IntervirtConfig;
  store: ContainerStore;
  network: ContainerNetwork;
  backends: IntervirtBackends;
  log: Logger;
  /** Every listener the agent announced (its services' addresses and socket paths). */
  agentListeners: () => readonly string[];
}
