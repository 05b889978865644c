/** Crash-safe file replacement: temp file, fsync, rename, fsync of the directory. */
import { dirname } from "node:path";
import { UnavailableError } from "./errors.ts";

let counter = 0;

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteAtomicOptions {
  /** File mode of the new file. @default {0o600} */
  mode?: number;
}

/** Storage faults a write can meet, by errno code: what an operator should be told. */
const STORAGE_FAULTS: Readonly<Record<string, string>> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only file system",
  EIO: "input/output error",
};

/**
 * A storage fault (full, read-only, quota, I/O error) as an {@linkcode UnavailableError} with
 * reason "storage" and a message naming the file and the cause (`Cannot write "…": no space left
 * on device (ENOSPC)`); any other error unchanged.
 */
export function storageError(path: string, error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const cause = typeof code === "string" ? STORAGE_FAULTS[code] : undefined;
  if (cause === undefined) return error;
  return new UnavailableError(`Cannot write "${path}": ${cause} (${code})`, {
    reason: "storage",
    cause: error,
  });
}

/**
 * Replaces `path` with `data` so that a crash leaves either the old or the new content. A storage
 * fault (disk full, read-only) leaves the old content and no temp file, and throws
 * {@linkcode storageError}'s error naming the cause.
 *
 * Only the two fsyncs run off the main thread: open, write, chmod, rename and close of a small
 * local file take microseconds, and doing them synchronously saves five thread-pool round trips
 * (about 1 ms per write when the machine is busy) on every acknowledged state change.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteAtomicOptions = {},
): Promise<void> {
  try {
    await replaceFile(path, data, options);
  } catch (error) {
    throw storageError(path, error);
  }
}

async function replaceFile(
  path: string,
  data: Uint8Array | string,
  options: WriteAtomicOptions,
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const mode = options.mode ?? 0o600;
  const tmp = `${path}.tmp-${Deno.pid}-${++counter}`;
  const file = Deno.openSync(tmp, { write: true, create: true, truncate: true, mode });
  try {
    let written = 0;
    while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    file.close();
    removeQuietly(tmp);
    throw error;
  }
  file.close();
  try {
    Deno.chmodSync(tmp, mode); // the umask may have narrowed the mode given to open
    Deno.renameSync(tmp, path);
  } catch (error) {
    removeQuietly(tmp);
    throw error;
  }
  await syncDirectory(dirname(path));
}

/**
 * Whether `name` is the temp file of a {@linkcode writeFileAtomic} by another process: a writer
 * killed mid-write left it, it was never renamed into place, and it may be removed. The temp
 * files of this process's writes in flight are not stale.
 */
export function isStaleTempName(name: string): boolean {
  const m = /\.tmp-(\d+)-\d+$/.exec(name);
  return m !== null && Number(m[1]) !== Deno.pid;
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path);
  } catch {
    // already gone
  }
}

/** fsyncs a directory so a rename inside it is durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = Deno.openSync(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}
