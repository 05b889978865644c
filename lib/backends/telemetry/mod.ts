/**
 * Host telemetry from /proc and statfs: per-core CPU fractions, memory in MB, bytes used/free per
 * mounted block device, and tunnel devices. Every reading is a few small file reads; nothing here
 * starts a process.
 *
 * @module
 */
export * from "./cpu.ts";
export * from "./disks.ts";
export * from "./memory.ts";
export * from "./vpn.ts";
