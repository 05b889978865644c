/**
 * Launching and supervising the MASQ Node child: the command that runs this same executable in
 * node mode, a free loopback port, readiness and death by events (a readiness line, a fast
 * connect probe for foreign binaries, the child's exit), re-adoption of a Node that outlived the
 * agent (pid + process start time from /proc), and host facts the setup defaults need.
 *
 * @module
 */
export * from "./host_facts.ts";
export * from "./launcher.ts";
export * from "./proc.ts";
export * from "./self_command.ts";
export * from "./watch.ts";
