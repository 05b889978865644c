/**
 * Listening Unix sockets with the right mode from the first moment: the socket is bound under a
 * temporary name, chmod/chown'd, then renamed into place. A stale socket left by a killed agent is
 * replaced; one that still answers is an error.
 */
import { basename, dirname, join } from "node:path";

/** Options for {@linkcode listenUnix}. */
export interface ListenUnixOptions {
  /** @default {0o600} */
  mode?: number;
  /** Group id that owns the socket (use mode 0o660 with it). */
  gid?: number;
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

/** Binds a Unix stream socket at `path`. */
export async function listenUnix(
  path: string,
  options: ListenUnixOptions = {},
): Promise<Deno.UnixListener> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
  try {
    const info = await Deno.lstat(path);
    if (!info.isSocket) throw new Deno.errors.AlreadyExists(`"${path}" exists and is not a socket`);
    if (await isLive(path)) {
      throw new Deno.errors.AddrInUse(`Another process is listening on "${path}"`);
    }
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const tmp = join(dir, `.${basename(path)}.${Deno.pid}.tmp`);
  await Deno.remove(tmp).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path: tmp });
  try {
    await Deno.chmod(tmp, options.mode ?? 0o600);
    if (options.gid !== undefined) await Deno.chown(tmp, null, options.gid);
    await Deno.rename(tmp, path);
  } catch (error) {
    listener.close();
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
  return listener;
}

/** Closes a listener and removes its socket file (ignoring either being gone). */
export async function closeUnix(listener: Deno.UnixListener | null, path: string): Promise<void> {
  try {
    listener?.close();
  } catch {
    // already closed
  }
  await Deno.remove(path).catch(() => {});
}
