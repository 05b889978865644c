/**
 * Peer credentials of Unix-socket connections without SO_PEERCRED: the accepted socket and its
 * peer process from `ss -xpn`, the peer's uid from /proc/<pid>/status (read with `cat`).
 *
 * @module
 */
export * from "./peer.ts";
