/**
 * The Intervirt domain: the containers the agent manages, their pairs, internet access and port
 * forwards. {@linkcode ContainerManager} holds the records (`store.ts`, durable, locked per
 * container in `lock.ts`), the host network (`network.ts`) and the operations grouped as
 * containers (`containers.ts`), connections (`connections.ts`) and host commands (`host.ts`),
 * plus the reconcile after a restart (`reconcile.ts`). It throws core's neutral errors and touches
 * the system only through the {@linkcode IntervirtBackends} it is given (`backends.ts`).
 *
 * @module
 */
export * from "./backends.ts";
export { ConnectionOperations } from "./connections.ts";
export { ContainerOperations } from "./containers.ts";
export { HostOperations, splitCommand } from "./host.ts";
export { Gate, KeyedLock, type Release } from "./lock.ts";
export { ContainerManager, type ContainerManagerOptions } from "./manager.ts";
export {
  broadcastOf,
  type Cidr,
  inSubnet,
  parseCidr,
  sameAddress,
  unusableAddress,
} from "./net.ts";
export { ContainerNetwork } from "./network.ts";
export * from "./state.ts";
export { checkExternalPort, type ExternalPortSources, listenerPort } from "./ports.ts";
export { ContainerStore } from "./store.ts";
