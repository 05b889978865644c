/**
 * OpenVPN as a backend: launching openvpn detached with a Unix-socket management interface, an
 * event-driven management client, the per-connection state machine ({@linkcode Tunnel}), the
 * launcher that names each tunnel's files and makes or re-adopts tunnels
 * ({@linkcode OpenVpnLauncher}), the profile directory and its settings files, IMPORT sources,
 * pre-connect commands, and the daemon's own pid files (what the real clients signal).
 *
 * @module
 */
export * from "./import.ts";
export * from "./launcher.ts";
export * from "./management.ts";
export * from "./pre_exec.ts";
export * from "./pid_file.ts";
export * from "./process.ts";
export * from "./profile_settings.ts";
export * from "./profiles.ts";
export * from "./tunnel.ts";
export * from "./tunnel_log.ts";
export * from "./tunnel_types.ts";
