/**
 * Which ports a process listens on: listening TCP and bound UDP sockets from /proc/net/{tcp,tcp6,
 * udp,udp6} (inode → port), matched against the `socket:[inode]` links in /proc/<pid>/fd of the
 * process and its descendants. An inode → (pid, fd) cache makes the steady state one readlink per
 * listening socket instead of a scan of every supervised process's descriptors.
 */

const NET_FILES = [
  { path: "/proc/net/tcp", listen: "0A" },
  { path: "/proc/net/tcp6", listen: "0A" },
  { path: "/proc/net/udp", listen: "07" },
  { path: "/proc/net/udp6", listen: "07" },
] as const;

/** Parses one /proc/net/{tcp,udp}[6] table into inode → local port for sockets in `state`. */
export function parseNetTable(text: string, state: string, into: Map<number, number>): void {
  const lines = text.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i]!.trim().split(/\s+/);
    if (fields.length < 10 || fields[3] !== state) continue;
    const local = fields[1]!;
    const port = parseInt(local.slice(local.lastIndexOf(":") + 1), 16);
    const inode = Number(fields[9]);
    if (port > 0 && inode > 0) into.set(inode, port);
  }
}

/** Listening sockets of this network namespace: inode → port. */
export function listeningSockets(): Map<number, number> {
  const out = new Map<number, number>();
  for (const { path, listen } of NET_FILES) {
    try {
      parseNetTable(Deno.readTextFileSync(path), listen, out);
    } catch {
      // no IPv6, or no /proc: nothing listening there
    }
  }
  return out;
}

/** The socket inodes held by a process, with the fd that holds each. */
export function socketFds(pid: number): { inode: number; fd: string }[] {
  const out: { inode: number; fd: string }[] = [];
  try {
    for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const target = Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`);
        if (target.startsWith("socket:[")) {
          out.push({ inode: Number(target.slice(8, -1)), fd: entry.name });
        }
      } catch {
        // fd closed meanwhile
      }
    }
  } catch {
    // gone, or not ours to read
  }
  return out;
}

/** Direct children of a process (all its threads), from /proc/<pid>/task/<tid>/children. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
        if (text) { for (const c of text.split(" ")) out.push(Number(c)); }
      } catch {
        // thread gone
      }
    }
  } catch {
    // process gone
  }
  return out;
}

/** The process and all its descendants (bounded). */
export function processTree(pid: number, limit = 256): number[] {
  const out = [pid];
  for (let i = 0; i < out.length && out.length < limit; i++) {
    for (const c of childPids(out[i]!)) if (!out.includes(c)) out.push(c);
  }
  return out;
}

/** Maps listening ports to supervised processes, caching who holds which socket. */
export class PortIndex {
  /** inode → the holder found last time. */
  #owners = new Map<number, { pid: number; fd: string; root: number }>();
  /** Inodes no supervised process held at the last full scan. */
  #foreign = new Set<number>();
  #lastScan = 0;
  #rescanMs: number;

  constructor(options: { rescanMs?: number } = {}) {
    this.#rescanMs = options.rescanMs ?? 5000;
  }

  /** Forget the negative cache (a process was started). */
  invalidate(): void {
    this.#foreign.clear();
    this.#lastScan = 0;
  }

  /** root pid → listening ports, for the given supervised root pids. */
  ports(roots: readonly number[]): Map<number, number[]> {
    const result = new Map<number, number[]>();
    const listening = listeningSockets();
    if (listening.size === 0 || roots.length === 0) return result;
    const rootSet = new Set(roots);
    const unknown: number[] = [];
    for (const inode of listening.keys()) {
      const owner = this.#owners.get(inode);
      if (owner && rootSet.has(owner.root) && this.#stillHolds(owner.pid, owner.fd, inode)) {
        continue;
      }
      this.#owners.delete(inode);
      if (!this.#foreign.has(inode)) unknown.push(inode);
    }
    const now = Date.now();
    if (unknown.length > 0 || now - this.#lastScan > this.#rescanMs) this.#scan(roots, listening);
    for (const [inode, owner] of this.#owners) {
      const port = listening.get(inode);
      if (port === undefined || !rootSet.has(owner.root)) continue;
      const list = result.get(owner.root) ?? [];
      if (!list.includes(port)) list.push(port);
      result.set(owner.root, list);
    }
    for (const list of result.values()) list.sort((a, b) => a - b);
    return result;
  }

  #stillHolds(pid: number, fd: string, inode: number): boolean {
    try {
      return Deno.readLinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
    } catch {
      return false;
    }
  }

  #scan(roots: readonly number[], listening: Map<number, number>): void {
    this.#lastScan = Date.now();
    this.#owners.clear();
    for (const root of roots) {
      for (const pid of processTree(root)) {
        for (const { inode, fd } of socketFds(pid)) {
          if (listening.has(inode) && !this.#owners.has(inode)) {
            this.#owners.set(inode, { pid, fd, root });
          }
        }
      }
    }
    this.#foreign = new Set([...listening.keys()].filter((i) => !this.#owners.has(i)));
  }
}
