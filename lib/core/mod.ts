/**
 * The agent's core: configuration, service lifecycle and supervision, the state store, logging,
 * the command runner, stream framing, Unix sockets and TCP control servers, the accounts services
 * drop to, and both sides of an upgrade (`upgrade.ts`, `takeover.ts`). Core imports nothing from
 * `lib/protocols` or `lib/backends`; they import it.
 *
 * @module
 */
export * from "./accounts.ts";
export * from "./agent_socket.ts";
export * from "./atomic_file.ts";
export * from "./tool_health.ts";
export * from "./command_runner.ts";
export * from "./config.ts";
export * from "./config_types.ts";
export * from "./dirs.ts";
export * from "./errors.ts";
export * from "./framing.ts";
export * from "./handler_table.ts";
export * from "./handover.ts";
export * from "./ip.ts";
export * from "./limits.ts";
export * from "./log.ts";
export * from "./service.ts";
export * from "./signals.ts";
export * from "./state_store.ts";
export * from "./status_page.ts";
export * from "./suggest.ts";
export * from "./supervisor.ts";
export * from "./takeover.ts";
export * from "./tcp_migrate.ts";
export * from "./tcp_server.ts";
export * from "./unix_socket.ts";
export * from "./upgrade.ts";
export * from "./upgrade_wire.ts";
export * from "./version.ts";
