/**
 * The accounts services drop to when the agent runs as root: resolving `user`, `user:group` or
 * `uid:gid` from /etc/passwd and /etc/group, the default unprivileged account (`agent.user`, else
 * the `polyagent` account that scripts/install.sh creates, else `nobody`), and whether an account
 * can reach a folder, naming the folder that stops it.
 */

/** A resolved account. */
export interface Account {
  name: string;
  uid: number;
  gid: number;
  /** From /etc/passwd; "/" for a numeric id that has no entry. */
  home: string;
}

/** /etc/passwd and /etc/group texts (read from the system when absent). */
export interface AccountFiles {
  passwd?: string;
  group?: string;
}

/** The account scripts/install.sh creates for the agent's children. */
export const DEDICATED_USER = "polyagent";
/** The last resort when neither `agent.user` nor the dedicated account exists. */
export const FALLBACK_USER = "nobody";

const NAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/;
const NUMBER = /^\d{1,10}$/;

function readSystemFile(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** The fields of the first line of `text` whose field `index` is `value`. */
function entry(text: string, index: number, value: string): string[] | null {
  for (const line of text.split("\n")) {
    const fields = line.split(":");
    if (fields[index] === value) return fields;
  }
  return null;
}

function resolveGroup(group: string, files: AccountFiles): number {
  if (NUMBER.test(group)) return Number(group);
  if (!NAME.test(group)) throw new TypeError(`Invalid group name "${group}"`);
  const fields = entry(files.group ?? readSystemFile("/etc/group"), 0, group);
  if (!fields) throw new TypeError(`Unknown group "${group}"`);
  return Number(fields[2]);
}

/** Resolves `name`, `name:group`, `uid` or `uid:gid`; throws TypeError naming what is wrong. */
export function resolveAccount(spec: string, files: AccountFiles = {}): Account {
  const [user, group] = spec.split(":", 2) as [string, string | undefined];
  const passwd = files.passwd ?? readSystemFile("/etc/passwd");
  let account: Account;
  if (NUMBER.test(user)) {
    const fields = entry(passwd, 2, user);
    account = fields
      ? { name: fields[0]!, uid: Number(user), gid: Number(fields[3]), home: fields[5] || "/" }
      : { name: user, uid: Number(user), gid: Number(user), home: "/" };
  } else {
    if (!NAME.test(user)) throw new TypeError(`Invalid user name "${user}"`);
    const fields = entry(passwd, 0, user);
    if (!fields) throw new TypeError(`Unknown user "${user}"`);
    account = {
      name: user,
      uid: Number(fields[2]),
      gid: Number(fields[3]),
      home: fields[5] || "/",
    };
  }
  if (group !== undefined) account.gid = resolveGroup(group, files);
  if (!Number.isInteger(account.uid) || !Number.isInteger(account.gid)) {
    throw new TypeError(`Cannot resolve "${spec}"`);
  }
  return account;
}

/**
 * The account a service drops to when its own key names none: `agent.user` when set, else the
 * dedicated `polyagent` account when it exists, else `nobody`.
 */
export function defaultAccountSpec(agentUser: string, files: AccountFiles = {}): string {
  if (agentUser) return agentUser;
  const passwd = files.passwd ?? readSystemFile("/etc/passwd");
  return entry(passwd, 0, DEDICATED_USER) ? DEDICATED_USER : FALLBACK_USER;
}

/** How an account is named in messages: `nobody (uid 65534)`. */
export function describeAccount(account: Pick<Account, "name" | "uid">): string {
  return account.name === String(account.uid)
    ? `uid ${account.uid}`
    : `${account.name} (uid ${account.uid})`;
}

function permissionBits(info: Deno.FileInfo, account: { uid: number; gid: number }): number {
  const mode = info.mode ?? 0;
  if (info.uid === account.uid) return (mode >> 6) & 7;
  if (info.gid === account.gid) return (mode >> 3) & 7;
  return mode & 7;
}

/**
 * Why `account` cannot reach `dir`, or null when it can: the first existing folder on the way
 * (`dir` included) it may not traverse, by mode bits (children the agent starts have no
 * supplementary groups). Folders that do not exist yet are skipped: the agent creates them
 * traversable. With `write`, `dir` itself must also be writable.
 */
export function unreachableFolder(
  dir: string,
  account: { uid: number; gid: number },
  options: { write?: boolean } = {},
): string | null {
  if (account.uid === 0) return null;
  const parts = dir.split("/").filter((p) => p.length > 0);
  for (let i = 0; i <= parts.length; i++) {
    const path = "/" + parts.slice(0, i).join("/");
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(path);
    } catch {
      return null;
    }
    const need = i === parts.length && options.write ? 0o3 : 0o1;
    if ((permissionBits(info, account) & need) !== need) {
      const mode = ((info.mode ?? 0) & 0o7777).toString(8).padStart(4, "0");
      return `"${path}" is mode ${mode}, owned by uid ${info.uid}`;
    }
  }
  return null;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * Creates `dir` with `mode` and any missing parent with 0755, whatever the umask (a service's
 * umask, e.g. systemd's UMask=0077, would otherwise lock the dropped account out of the parents).
 * Existing folders keep their modes. Resolves true when `dir` was created.
 */
export async function makeTraversableFolder(dir: string, mode: number): Promise<boolean> {
  const parts = dir.split("/").filter((p) => p.length > 0);
  let created = false;
  for (let i = 1; i <= parts.length; i++) {
    const path = "/" + parts.slice(0, i).join("/");
    const last = i === parts.length;
    if (await exists(path)) continue;
    try {
      await Deno.mkdir(path);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      throw error;
    }
    await Deno.chmod(path, last ? mode : 0o755);
    created = last;
  }
  return created;
}
