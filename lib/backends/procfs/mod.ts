/**
 * Reading /proc: figures about the agent's own process (RSS, open files, event-loop lag).
 *
 * @module
 */
export * from "./self_stats.ts";
