/**
 * Host telemetry: per-core CPU fractions (node:os cpus() deltas), memory in MB (/proc/meminfo) and
 * bytes used/free per mounted block device (df), cached and refreshed at most once a second, and
 * tunnel devices from the OS interface list.
 *
 * @module
 */
export * from "./cpu.ts";
export * from "./disks.ts";
export * from "./host.ts";
export * from "./memory.ts";
export * from "./vpn.ts";
