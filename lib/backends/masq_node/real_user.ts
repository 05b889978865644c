/**
 * The built-in Node's switch to its `real-user`, as the real MASQ Node does it: started as root
 * (so it can load its code, even from a checkout only root can read), it creates its data
 * directory, hands it to the real user, and then sets its gid and uid for good. The Daemon spawns
 * it with uid and gid 0, which clears its supplementary groups (Deno.Command calls setgroups(0)
 * when it sets a uid as root), so nothing of root is left after the switch.
 */
import process from "node:process";
import { join } from "node:path";
import { makeTraversableFolder, unreachableFolder } from "../../core/mod.ts";
import { NODE_DOCUMENT_NAME, NODE_LOG_NAME } from "./node_program.ts";

/** The account a Node runs as. */
export interface RealUser {
  uid: number;
  gid: number;
  home: string;
}

/** The data directory cannot be used, or the switch failed; the message says why. */
export class RealUserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RealUserError";
  }
}

/** Whether this process runs as root (and must switch to its real user). */
export function runsAsRoot(): boolean {
  return Deno.uid() === 0;
}

/** `uid:gid:home` as numbers; blank fields come from `fallback` (same form). */
export function parseRealUser(spec: string, fallback: string): RealUser {
  const [uid = "", gid = "", ...home] = spec.split(":");
  const [fUid = "", fGid = "", ...fHome] = fallback.split(":");
  const pick = (a: string, b: string, what: string) => {
    const text = a || b;
    if (!/^\d{1,10}$/.test(text)) throw new RealUserError(`real-user: no ${what} in "${spec}"`);
    return Number(text);
  };
  return {
    uid: pick(uid, fUid, "uid"),
    gid: pick(gid, fGid, "gid"),
    home: home.join(":") || fHome.join(":") || "/",
  };
}

/**
 * Why `realUser` (`uid:gid:home`) cannot reach `dataRoot` (the folder in the way), or null; null
 * too when this process is not root (the Node then runs as it, with no switch).
 */
export function dataRootProblem(dataRoot: string, realUser: string): string | null {
  if (!runsAsRoot()) return null;
  let user: RealUser;
  try {
    user = parseRealUser(realUser, "");
  } catch (error) {
    return (error as Error).message;
  }
  if (user.uid === 0 || user.gid === 0) return "real-user is root: the Node refuses to run as root";
  return unreachableFolder(dataRoot, user);
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * An existing folder on the way to a data directory: a real directory (no symlink), and when a
 * user is switched to, owned by root, so that no other user can swap it while root works below.
 */
function checkParent(path: string, info: Deno.FileInfo, user: RealUser | null): void {
  if (info.isSymlink || !info.isDirectory) {
    throw new RealUserError(`"${path}" is not a directory (symlinks are refused)`);
  }
  if (user && info.uid !== 0) {
    throw new RealUserError(
      `"${path}" belongs to uid ${info.uid}: a data directory must lie below folders owned by root`,
    );
  }
}

/** Chowns the Node's own files left by a Node that ran as root. */
async function handOverOwnFiles(dir: string, user: RealUser): Promise<void> {
  for (const name of [`${NODE_DOCUMENT_NAME}.json`, NODE_LOG_NAME]) {
    const info = await lstatOrNull(join(dir, name));
    if (info?.isFile && info.uid === 0) await Deno.chown(join(dir, name), user.uid, user.gid);
  }
}

/** Creates or checks the data directory itself and hands it to `user`. */
async function ownDataDirectory(dir: string, user: RealUser | null): Promise<void> {
  const info = await lstatOrNull(dir);
  if (!info) {
    await Deno.mkdir(dir, { mode: 0o700 });
    await Deno.chmod(dir, 0o700);
  } else if (info.isSymlink || !info.isDirectory) {
    throw new RealUserError(`"${dir}" is not a directory (symlinks are refused)`);
  } else if (user && info.uid !== 0 && info.uid !== user.uid) {
    throw new RealUserError(
      `"${dir}" belongs to uid ${info.uid}, not to the real user ${user.uid}`,
    );
  }
  if (!user) return;
  await Deno.chown(dir, user.uid, user.gid);
  if (info?.uid === 0) await handOverOwnFiles(dir, user);
  const blocked = unreachableFolder(dir, user, { write: true });
  if (blocked) {
    throw new RealUserError(
      `Data directory "${dir}" is not reachable by real-user ${user.uid}:${user.gid}: ${blocked}`,
    );
  }
}

/**
 * Creates `dataDir` (0700; folders between it and `dataRoot` 0755, owned by root) and, when `user`
 * is given, hands it to that user. Throws {@linkcode RealUserError} when `dataDir` is not below
 * `dataRoot`, crosses a symlink or a folder root does not own, or stays out of the user's reach.
 */
export async function prepareDataDirectory(
  dataRoot: string,
  dataDir: string,
  user: RealUser | null,
): Promise<void> {
  if (user) refuseRoot(user);
  const root = dataRoot.replace(/\/+$/, "");
  if (!dataDir.startsWith(root + "/")) {
    throw new RealUserError(`Data directory "${dataDir}" is not below the data root "${root}"`);
  }
  const below = dataDir.slice(root.length + 1).split("/").filter((p) => p.length > 0);
  const last = below.pop();
  if (last === undefined) {
    throw new RealUserError(`Data directory "${dataDir}" is not below the data root "${root}"`);
  }
  await makeTraversableFolder(root, 0o755);
  let path = root;
  for (const part of below) {
    path = join(path, part);
    const info = await lstatOrNull(path);
    if (info) checkParent(path, info, user);
    else {
      await Deno.mkdir(path, { mode: 0o755 });
      await Deno.chmod(path, 0o755);
    }
  }
  await ownDataDirectory(join(path, last), user);
}

const STILL_ROOT_GROUP = "Attempt to drop group privileges failed: still root";
const STILL_ROOT_USER = "Attempt to drop user privileges failed: still root";

/** Throws the real Node's panic text when `user` is root (its gid first, as the Node checks). */
function refuseRoot(user: RealUser): void {
  if (user.gid === 0) throw new RealUserError(STILL_ROOT_GROUP);
  if (user.uid === 0) throw new RealUserError(STILL_ROOT_USER);
}

/**
 * Sets this process's gid then uid to `user`'s for good (every thread) and HOME to its home;
 * throws {@linkcode RealUserError} with the real Node's panic texts when either would stay root.
 */
export function switchToRealUser(user: RealUser): void {
  if (!process.setgid || !process.setuid) {
    throw new RealUserError("Cannot switch to the real user on this platform");
  }
  refuseRoot(user);
  process.setgid(user.gid);
  if (Deno.gid() === 0) throw new RealUserError(STILL_ROOT_GROUP);
  process.setuid(user.uid);
  if (Deno.uid() === 0) throw new RealUserError(STILL_ROOT_USER);
  Deno.env.set("HOME", user.home);
}
