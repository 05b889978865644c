/**
 * Listening Unix sockets with the right mode from the first moment: the socket is bound under a
 * temporary name, chmod/chown'd, then renamed into place. A socket nobody listens on (left by a
 * killed run) is replaced; one that still answers is an error, and so is anything that is not a
 * socket (a regular file, a directory, a symlink): it is never removed. On close only the socket
 * this listener created is removed, so a failed start never deletes what was at the path.
 */
import { basename, dirname, join } from "node:path";

/** Options for {@linkcode listenUnix}. */
export interface ListenUnixOptions {
  /** @default {0o600} */
  mode?: number;
  /** Group id that owns the socket (use mode 0o660 with it). */
  gid?: number;
}

/** The inode each listener bound, so close removes that socket and nothing else. */
const created = new WeakMap<Deno.UnixListener, { dev: number; ino: number | null }>();

async function isLive(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a directory";
  if (info.isSymlink) return "a symbolic link";
  return "not a socket";
}

/** Throws when `path` holds anything but a dead socket; removes a dead socket. */
async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) {
    throw new Deno.errors.AlreadyExists(
      `"${path}" exists and is ${kindOf(info)}, not a socket: refusing to replace it ` +
        `(move it away or configure another path)`,
    );
  }
  if (await isLive(path)) {
    throw new Deno.errors.AddrInUse(`Another process is listening on "${path}"`);
  }
  await Deno.remove(path);
}

/** Binds a Unix stream socket at `path`. */
export async function listenUnix(
  path: string,
  options: ListenUnixOptions = {},
): Promise<Deno.UnixListener> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  await clearStaleSocket(path);
  const tmp = join(dir, `.${basename(path)}.${Deno.pid}.tmp`);
  await Deno.remove(tmp).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path: tmp });
  try {
    await Deno.chmod(tmp, options.mode ?? 0o600);
    if (options.gid !== undefined) await Deno.chown(tmp, null, options.gid);
    const info = await Deno.lstat(tmp);
    await Deno.rename(tmp, path);
    created.set(listener, { dev: info.dev, ino: info.ino });
  } catch (error) {
    listener.close();
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  return listener;
}

/**
 * Closes a listener and removes its socket file, but only when the path still holds the socket
 * that listener created (without a listener nothing is removed).
 */
export async function closeUnix(listener: Deno.UnixListener | null, path: string): Promise<void> {
  if (!listener) return;
  try {
    listener.close();
  } catch {
    // already closed
  }
  const mine = created.get(listener);
  created.delete(listener);
  if (!mine) return;
  try {
    const info = await Deno.lstat(path);
    if (info.isSocket && info.dev === mine.dev && info.ino === mine.ino) await Deno.remove(path);
  } catch {
    // gone already
  }
}
