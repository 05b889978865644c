/**
 * The WireGuard backend: validation of received wg-quick configs (hooks refused), a 0600 config
 * file, wg-quick up/down (userspace wireguard-go fallback) with rollback, and live status over the
 * UAPI socket.
 *
 * @module
 */
export * from "./conf.ts";
export * from "./manager.ts";
export * from "./uapi.ts";
