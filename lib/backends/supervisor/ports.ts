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

/** Direct children of a process's main thread, from /proc/<pid>/task/<pid>/children. */
export function childPids(pid: number): number[] {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
    return text ? text.split(" ").map(Number) : [];
  } catch {
    return [];
  }
}

/** The process and all its descendants (bounded). */
export function processTree(pid: number, limit = 256): number[] {
  const out = [pid];
  for (let i = 0; i < out.length && out.length < limit; i++) {
    for (const c of childPids(out[i]!)) if (!out.includes(c)) out.push(c);
  }
  return out;
}

/** Options for {@linkcode PortIndex}. */
export interface PortIndexOptions {
  /** A root's descriptors are rescanned when older than this. @default {5000} */
  rescanMs?: number;
  /** Roots rescanned per call at most, so one call stays cheap. @default {100} */
  scanBudget?: number;
}

/**
 * Maps listening ports to supervised process trees. Each root's socket descriptors are cached and
 * rescanned incrementally (new roots first, then the stalest, a bounded number per call); a cached
 * socket is confirmed with one readlink per call. A port can therefore show up a few seconds after
 * a long-running process opens it, while one call never scans more than `scanBudget` trees.
 */
export class PortIndex {
  #roots = new Map<number, { at: number; sockets: Map<number, { pid: number; fd: string }> }>();
  #rescanMs: number;
  #budget: number;

  constructor(options: PortIndexOptions = {}) {
    this.#rescanMs = options.rescanMs ?? 5000;
    this.#budget = options.scanBudget ?? 100;
  }

  /** Rescan every root on the next call (within the budget). */
  invalidate(): void {
    for (const entry of this.#roots.values()) entry.at = 0;
  }

  /** root pid → listening ports, for the given supervised root pids. */
  ports(roots: readonly number[]): Map<number, number[]> {
    const result = new Map<number, number[]>();
    const live = new Set(roots);
    for (const pid of this.#roots.keys()) if (!live.has(pid)) this.#roots.delete(pid);
    const listening = listeningSockets();
    if (roots.length === 0) return result;
    const now = Date.now();
    const due = roots
      .map((pid) => ({ pid, at: this.#roots.get(pid)?.at ?? -1 }))
      .filter((r) => now - r.at >= this.#rescanMs || r.at < 0)
      .sort((a, b) => a.at - b.at)
      .slice(0, this.#budget);
    for (const { pid } of due) {
      const sockets = new Map<number, { pid: number; fd: string }>();
      for (const p of processTree(pid)) {
        for (const { inode, fd } of socketFds(p)) sockets.set(inode, { pid: p, fd });
      }
      this.#roots.set(pid, { at: now, sockets });
    }
    if (listening.size === 0) return result;
    for (const root of roots) {
      const entry = this.#roots.get(root);
      if (!entry) continue;
      for (const [inode, holder] of entry.sockets) {
        const port = listening.get(inode);
        if (port === undefined) continue;
        if (!stillHolds(holder.pid, holder.fd, inode)) {
          entry.sockets.delete(inode);
          entry.at = 0;
          continue;
        }
        const list = result.get(root) ?? [];
        if (!list.includes(port)) list.push(port);
        result.set(root, list);
      }
    }
    for (const list of result.values()) list.sort((a, b) => a - b);
    return result;
  }
}

function stillHolds(pid: number, fd: string, inode: number): boolean {
  try {
    return Deno.readLinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
  } catch {
    return false;
  }
}
