/** Resolving `run_as` (a user name, or `uid:gid`) from /etc/passwd and /etc/group. */

/** A resolved account. */
export interface Account {
  name: string;
  uid: number;
  gid: number;
}

const NAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/;

/** Resolves `name`, `name:group` or `uid:gid`. */
export function resolveAccount(
  spec: string,
  files: { passwd?: string; group?: string } = {},
): Account {
  const [user, group] = spec.split(":", 2) as [string, string | undefined];
  let uid: number;
  let gid: number;
  let name = user;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    gid = uid;
  } else {
    if (!NAME.test(user)) throw new TypeError(`Invalid user name "${user}"`);
    const passwd = files.passwd ?? Deno.readTextFileSync("/etc/passwd");
    const line = passwd.split("\n").find((l) => l.split(":")[0] === user);
    if (!line) throw new TypeError(`Unknown user "${user}"`);
    const fields = line.split(":");
    uid = Number(fields[2]);
    gid = Number(fields[3]);
    name = user;
  }
  if (group !== undefined) {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      if (!NAME.test(group)) throw new TypeError(`Invalid group name "${group}"`);
      const groups = files.group ?? Deno.readTextFileSync("/etc/group");
      const line = groups.split("\n").find((l) => l.split(":")[0] === group);
      if (!line) throw new TypeError(`Unknown group "${group}"`);
      gid = Number(line.split(":")[2]);
    }
  }
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new TypeError(`Cannot resolve "${spec}"`);
  }
  return { name, uid, gid };
}

/**
 * Whether `account` can reach `dir` (execute permission on every ancestor, write on `dir`), by
 * mode bits. Supplementary groups are not considered, so this errs on the side of refusing.
 */
export function canUseDirectory(dir: string, account: { uid: number; gid: number }): boolean {
  const parts = dir.split("/").filter((p) => p.length > 0);
  for (let i = 0; i <= parts.length; i++) {
    const path = "/" + parts.slice(0, i).join("/");
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch {
      return false;
    }
    const mode = info.mode ?? 0;
    const need = i === parts.length ? 0o3 : 0o1;
    const bits = info.uid === account.uid
      ? (mode >> 6) & 7
      : info.gid === account.gid
      ? (mode >> 3) & 7
      : mode & 7;
    if ((bits & need) !== need) return false;
  }
  return true;
}
