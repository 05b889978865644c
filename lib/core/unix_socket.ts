/**
 * Listening Unix sockets with the right mode from the first moment: the socket is bound under a
 * temporary name, chmod/chown'd, then renamed into place. A socket nobody listens on (left by a
 * killed run) is replaced; one that still answers is an error, and so is anything that is not a
 * socket (a regular file, a directory, a symlink): it is never removed. On close only the socket
 * this listener created is removed, so a failed start never deletes what was at the path.
 *
 * At an upgrade the successor binds each of the old agent's sockets under a temporary name beside
 * it ({@linkcode bindBeside}, same mode and owner) and renames it over the live one: from that
 * instant new clients queue on the successor's socket (nobody is refused), while the old agent
 * finishes with the clients it has. The service's own `listenUnix` later picks that listener up.
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
/** Paths this process listens on (through {@linkcode listenUnix}). */
const listening = new Map<string, Deno.UnixListener>();
/** Listeners a takeover moved into place, waiting for the service that listens on the path. */
const movedIn = new Map<string, Deno.UnixListener>();

/** The socket paths this process listens on, for an upgrade's handover. */
export function listeningUnixPaths(): string[] {
  return [...listening.keys()];
}

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
  const moved = movedIn.get(path);
  if (moved) {
    movedIn.delete(path);
    await Deno.chmod(path, options.mode ?? 0o600);
    if (options.gid !== undefined) await Deno.chown(path, null, options.gid);
    listening.set(path, moved);
    return moved;
  }
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
  listening.set(path, listener);
  return listener;
}

function besideName(path: string, pid: number): string {
  return join(dirname(path), `.${basename(path)}.${pid}.tmp`);
}

/** Removes the sockets a killed process `pid` left beside `paths` ({@linkcode bindBeside}). */
export async function removeLeftBeside(paths: readonly string[], pid: number): Promise<void> {
  for (const path of paths) {
    const tmp = besideName(path, pid);
    const info = await Deno.lstat(tmp).catch(() => null);
    if (info?.isSocket) await Deno.remove(tmp).catch(() => {});
  }
}

/** A socket bound beside a live one by {@linkcode bindBeside}. */
export interface SocketBeside {
  readonly path: string;
  /** Renames it over the live socket; the next `listenUnix(path)` returns its listener. */
  moveIn(): Promise<void>;
  /**
   * Closes it and removes what is left of it (the temporary name, or the moved-in socket), unless
   * a service has taken it over by then.
   */
  discard(): Promise<void>;
}

/**
 * Binds a listener under a temporary name next to `path` with the mode and owner of the socket
 * there (or 0600), for a takeover: nothing changes for clients until {@linkcode SocketBeside.moveIn}.
 */
export async function bindBeside(path: string): Promise<SocketBeside> {
  const tmp = besideName(path, Deno.pid);
  const live = await Deno.lstat(path).catch(() => null);
  await Deno.remove(tmp).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path: tmp });
  let moved = false;
  const discard = async () => {
    if (moved && movedIn.get(path) !== listener) return; // a service listens on it now
    movedIn.delete(path);
    await closeUnix(listener, moved ? path : tmp);
  };
  try {
    await Deno.chmod(tmp, live?.isSocket ? live.mode! & 0o777 : 0o600);
    if (live?.isSocket) await Deno.chown(tmp, live.uid, live.gid);
    const info = await Deno.lstat(tmp);
    created.set(listener, { dev: info.dev, ino: info.ino });
  } catch (error) {
    await discard();
    throw error;
  }
  return {
    path,
    moveIn: async () => {
      await Deno.rename(tmp, path);
      moved = true;
      movedIn.set(path, listener);
    },
    discard,
  };
}

/**
 * Closes a listener and removes its socket file, but only when the path still holds the socket
 * that listener created (without a listener nothing is removed).
 */
export async function closeUnix(listener: Deno.UnixListener | null, path: string): Promise<void> {
  if (!listener) return;
  if (listening.get(path) === listener) listening.delete(path);
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

/**
 * Connects to a Unix socket as a blocking `connect(2)` would: Deno's connect is non-blocking, so
 * a listener whose accept queue is full (a burst of clients faster than it accepts; the queue
 * holds 1024) fails it at once with `WouldBlock` (EAGAIN). This retries every few milliseconds
 * until `timeoutMs` has passed, then throws the last error. Any other error is thrown at once.
 */
export async function connectUnix(path: string, timeoutMs = 10_000): Promise<Deno.UnixConn> {
  const deadline = performance.now() + timeoutMs;
  for (let wait = 1;; wait = Math.min(wait * 2, 20)) {
    try {
      return await Deno.connect({ transport: "unix", path });
    } catch (error) {
      if (!(error instanceof Deno.errors.WouldBlock) || performance.now() >= deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
