/**
 * The process supervisor backend: spawn argv without a shell, per-process rotating log files,
 * process-group signals, re-adoption after an agent restart (pid + /proc start time), and live
 * figures (cpu from /proc deltas, RSS, listening ports of the process tree). It throws neutral
 * core errors: ForbiddenError (not allowed, not ours), NotFoundError (exited) and FailedError with
 * reason {@linkcode SPAWN_FAILED} (cannot start).
 *
 * Files: `process_supervisor.ts` (the supervisor), `spawn.ts` (resolve and start one command),
 * `records.ts` (the durable records, exits read from /proc), `figures.ts` (cpu, RSS, ports),
 * `ports.ts`, `log_files.ts`, `proc_reader.ts` and `work_dir.ts` (the accounts are core's).
 *
 * @module
 */
export * from "./figures.ts";
export * from "./log_files.ts";
export * from "./ports.ts";
export * from "./proc_reader.ts";
export * from "./process_supervisor.ts";
export * from "./records.ts";
export * from "./spawn.ts";
export * from "./work_dir.ts";
