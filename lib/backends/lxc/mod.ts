/**
 * The LXC container runtime: containers under one agent-owned LXC path, created from a local
 * rootfs tarball (or the download template), with the NIC configured in the LXC config.
 *
 * @module
 */
export * from "./runtime.ts";
export * from "./spec.ts";
