/**
 * The Incus container runtime (`intervirt.runtime = "incus"`): instances with a bridged NIC on the
 * agent's bridge; local rootfs tarballs are imported as aliased images.
 *
 * @module
 */
export * from "./runtime.ts";
