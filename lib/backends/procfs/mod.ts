/**
 * Reading /proc and /sys (through a helper process, since Deno needs `--allow-all` to read them
 * directly) and figures about the agent's own process (RSS, open files, event-loop lag).
 *
 * @module
 */
export * from "./read.ts";
export * from "./self_stats.ts";
export * from "./stat.ts";
