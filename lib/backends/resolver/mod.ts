/**
 * The Linux resolver as a backend for DNS_OVERRIDE: resolvectl, resolvconf, or a managed
 * resolv.conf with an exact backup.
 *
 * @module
 */
export * from "./dns_override.ts";
