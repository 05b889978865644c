/**
 * Launching and supervising the MASQ Node child: the command that runs this same executable in
 * node mode, a free loopback port, readiness and death by events (a readiness line, a fast
 * connect probe for foreign binaries, the child's exit), re-adoption of a Node that outlived the
 * agent (pid + process start time, read through the injected runner), host facts the setup
 * defaults need (DNS servers, the default real-user), who holds a taken port (`ss`), and what the
 * built-in Node program needs from its process (its switch from root to its real-user with its
 * data directory, log file, settings document, stdout/stderr, SIGTERM).
 * {@linkcode masqNodeControl} binds the Daemon's side to a runner.
 *
 * @module
 */
export * from "./control.ts";
export * from "./host_facts.ts";
export * from "./launcher.ts";
export * from "./node_program.ts";
export * from "./port_holder.ts";
export * from "./proc.ts";
export * from "./real_user.ts";
export * from "./self_command.ts";
export * from "./watch.ts";
