/**
 * The process supervisor backend: spawn argv without a shell, per-process rotating log files,
 * process-group signals, re-adoption after an agent restart (pid + /proc start time), and live
 * figures (cpu from /proc deltas, RSS, listening ports of the process tree).
 *
 * @module
 */
export * from "./errors.ts";
export * from "./log_files.ts";
export * from "./ports.ts";
export * from "./proc_reader.ts";

export * from "./process_supervisor.ts";
export * from "./users.ts";
