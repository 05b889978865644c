/**
 * Peer credentials of Unix-socket connections without SO_PEERCRED: the accepted socket's inode
 * from /proc, the peer process from `ss -xpn`, its uid from /proc/<pid>/status.
 *
 * @module
 */
export * from "./peer.ts";
