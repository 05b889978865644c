/** Crash-safe file replacement: temp file, fsync, rename, fsync of the directory. */
import { dirname } from "node:path";

let counter = 0;

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteAtomicOptions {
  /** File mode of the new file. @default {0o600} */
  mode?: number;
}

/** Replaces `path` with `data` so that a crash leaves either the old or the new content. */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const tmp = `${path}.tmp-${Deno.pid}-${++counter}`;
  const file = await Deno.open(tmp, {
    write: true,
    create: true,
    truncate: true,
    mode: options.mode ?? 0o600,
  });
  try {
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } catch (error) {
    file.close();
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  file.close();
  try {
    await Deno.chmod(tmp, options.mode ?? 0o600);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** fsyncs a directory so a rename inside it is durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}
