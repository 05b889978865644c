/**
 * How the supervisor reads /proc. Deno 2.9 refuses reads below /proc without `--allow-all`, so
 * the agent reads them through a helper process in batches; the service passes a reader in, so
 * pure-logic tests can replace it.
 */
import type { CommandRunner } from "../../core/mod.ts";
import { listProcDirs, readProcFiles } from "../procfs/mod.ts";

/** One directory entry with its symlink target ("" when not a link). */
export interface ProcDirEntry {
  dir: string;
  name: string;
  target: string;
}

/** Batch readers of /proc. */
export interface ProcReader {
  /** Whole files; missing ones are absent from the result. */
  readFiles(paths: readonly string[]): Promise<Map<string, string>>;
  /** Entries (with symlink targets) of directories such as /proc/<pid>/fd. */
  listDirs(dirs: readonly string[]): Promise<ProcDirEntry[]>;
}

/**
 * A {@linkcode ProcReader} over the shared /proc helper-process readers (one `grep` per batch of
 * files, one `find` per batch of directories; see backends/procfs).
 */
export function helperReader(runner: CommandRunner, timeoutMs = 5000): ProcReader {
  return {
    readFiles: (paths) => readProcFiles(paths, { runner, timeoutMs }),
    listDirs: (dirs) => listProcDirs(dirs, { runner, timeoutMs }),
  };
}
