/** What a container looks like to a runtime backend: names, NIC and addresses, image source. */

/** One address family of the container NIC. */
export interface NicAddress {
  address: string;
  prefix: number;
  /** Gateway address, or "dev" for an on-link default route, or null for none. */
  gateway: string | null;
  /** IPv4 broadcast (LXC otherwise derives a wrong one). */
  broadcast?: string;
}

/** A container as the runtime creates it. */
export interface ContainerSpec {
  /** Runtime name (already prefixed and checked). */
  name: string;
  hostname: string;
  /** Bridge the host side of the veth joins. */
  bridge: string;
  /** Host-side veth name (max 15 bytes). */
  hostVeth: string;
  mac: string;
  ipv4: NicAddress;
  ipv6: NicAddress;
}

/** Where a rootfs comes from. */
export type ImageSource =
  | { kind: "tarball"; path: string }
  | { kind: "download"; distribution: string; release: string };

/** Runtime state of one container. */
export type RuntimeState = "running" | "stopped" | "missing";

/** Names the runtime accepts for containers the agent makes. */
export const CONTAINER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
