/**
 * How the supervisor reads /proc. Deno 2.9 refuses reads below /proc without `--allow-all`, so
 * the agent reads them through a helper process in batches; the service passes that reader in
 * (backends import only core, so the supervisor does not import the procfs backend itself).
 */

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
