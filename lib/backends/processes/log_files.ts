/**
 * Per-process log files. The agent opens the file (O_APPEND) and hands the descriptor to the child
 * as stdout and stderr, so the child writes straight to disk and never depends on the agent being
 * alive. Rotation is copy-then-truncate: with O_APPEND the child's next write lands at the start
 * of the truncated file, so no descriptor has to be reopened.
 */

/** Rotation limits. */
export interface RotateOptions {
  /** Rotate when the file is larger than this. */
  maxBytes: number;
  /** Rotated generations kept (`file.1` … `file.N`). */
  keep: number;
}

/** Rotates `path` when it has grown past `maxBytes`; true when it did. */
export async function rotateIfNeeded(path: string, options: RotateOptions): Promise<boolean> {
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch {
    return false;
  }
  if (size <= options.maxBytes) return false;
  const keep = Math.max(1, options.keep);
  await Deno.remove(`${path}.${keep}`).catch(() => {});
  for (let i = keep - 1; i >= 1; i--) {
    await Deno.rename(`${path}.${i}`, `${path}.${i + 1}`).catch(() => {});
  }
  await Deno.copyFile(path, `${path}.1`);
  await Deno.truncate(path, 0);
  return true;
}

/** Removes a log file and its rotated generations. */
export async function removeLogs(path: string, keep: number): Promise<void> {
  await Deno.remove(path).catch(() => {});
  for (let i = 1; i <= keep; i++) await Deno.remove(`${path}.${i}`).catch(() => {});
}
