/**
 * Which ports a process listens on: listening TCP and bound UDP sockets from /proc/net/{tcp,tcp6,
 * udp,udp6} (inode → port), matched against the `socket:[inode]` links in /proc/<pid>/fd of the
 * process, its children and grandchildren.
 */
import type { ProcReader } from "./proc_reader.ts";

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

/** The socket tables read for listening ports. */
export const NET_TABLES: readonly string[] = NET_FILES.map((f) => f.path);

/** Listening sockets (inode → port) from the texts of the socket tables. */
export function listeningFrom(files: Map<string, string>): Map<number, number> {
  const out = new Map<number, number>();
  for (const { path, listen } of NET_FILES) {
    const text = files.get(path);
    if (text !== undefined) parseNetTable(text, listen, out);
  }
  return out;
}

/** The file listing the children of a process's main thread. */
export function childrenPath(pid: number): string {
  return `/proc/${pid}/task/${pid}/children`;
}

function parseChildren(text: string | undefined): number[] {
  const trimmed = text?.trim();
  return trimmed ? trimmed.split(/\s+/).map(Number).filter((n) => n > 0) : [];
}

/** Options for {@linkcode PortIndex}. */
export interface PortIndexOptions {
  /** A root's descriptors are rescanned when older than this. @default {5000} */
  rescanMs?: number;
  /** Roots rescanned per call at most, so one call stays cheap. @default {100} */
  scanBudget?: number;
  /**
   * The socket tables are re-read at most this often: /proc/net/tcp lists every socket of the
   * namespace (TIME_WAIT included) and is costly on a busy host. @default {1000}
   */
  tableMs?: number;
}

/** What one sample must read for the ports, planned before the batch read. */
export interface PortPlan {
  /** Socket tables to read (empty when the cached ones are fresh). */
  tables: string[];
  /** Roots whose trees are rescanned now. */
  due: number[];
  /** children files of the due roots. */
  children: string[];
}

/**
 * Maps listening ports to supervised process trees (root, children, grandchildren). Each root's
 * socket inodes are cached and rescanned incrementally: new roots first, then the stalest, at most
 * `scanBudget` per call, so a port can show up a few seconds after a long-running process opens
 * it while one call never lists more than `scanBudget` trees.
 */
export class PortIndex {
  #roots = new Map<number, { at: number; inodes: Set<number> }>();
  #rescanMs: number;
  #budget: number;
  #tableMs: number;
  #table: { at: number; sockets: Map<number, number> } | null = null;

  constructor(options: PortIndexOptions = {}) {
    this.#rescanMs = options.rescanMs ?? 5000;
    this.#budget = options.scanBudget ?? 100;
    this.#tableMs = options.tableMs ?? 1000;
  }

  /** Rescan every root (within the budget) and re-read the tables on the next call. */
  invalidate(): void {
    for (const entry of this.#roots.values()) entry.at = 0;
    this.#table = null;
  }

  /** Which files the next sample must read for `roots`. */
  plan(roots: readonly number[]): PortPlan {
    const live = new Set(roots);
    for (const pid of this.#roots.keys()) if (!live.has(pid)) this.#roots.delete(pid);
    const now = Date.now();
    const tables = !this.#table || now - this.#table.at >= this.#tableMs ? [...NET_TABLES] : [];
    const due = roots
      .map((pid) => ({ pid, at: this.#roots.get(pid)?.at ?? -1 }))
      .filter((r) => r.at < 0 || now - r.at >= this.#rescanMs)
      .sort((a, b) => a.at - b.at)
      .slice(0, this.#budget)
      .map((r) => r.pid);
    return { tables, due, children: due.map(childrenPath) };
  }

  /** Finishes a sample with the batch-read files; root pid → listening ports. */
  async complete(
    plan: PortPlan,
    roots: readonly number[],
    files: Map<string, string>,
    reader: ProcReader,
  ): Promise<Map<number, number[]>> {
    const now = Date.now();
    if (plan.tables.length > 0) this.#table = { at: now, sockets: listeningFrom(files) };
    if (plan.due.length > 0) {
      const trees = new Map<number, number[]>();
      const level1: number[] = [];
      for (const root of plan.due) {
        const kids = parseChildren(files.get(childrenPath(root)));
        trees.set(root, [root, ...kids]);
        level1.push(...kids);
      }
      if (level1.length > 0) {
        const more = await reader.readFiles(level1.map(childrenPath));
        for (const tree of trees.values()) {
          for (const kid of tree.slice(1)) tree.push(...parseChildren(more.get(childrenPath(kid))));
        }
      }
      const owner = new Map<string, number>();
      for (const [root, tree] of trees) for (const pid of tree) owner.set(`/proc/${pid}/fd`, root);
      const entries = await reader.listDirs([...owner.keys()]);
      const found = new Map<number, Set<number>>(plan.due.map((r) => [r, new Set<number>()]));
      for (const e of entries) {
        if (!e.target.startsWith("socket:[")) continue;
        const root = owner.get(e.dir);
        if (root !== undefined) found.get(root)?.add(Number(e.target.slice(8, -1)));
      }
      for (const [root, inodes] of found) this.#roots.set(root, { at: now, inodes });
    }
    const result = new Map<number, number[]>();
    const listening = this.#table?.sockets;
    if (!listening || listening.size === 0) return result;
    for (const root of roots) {
      const entry = this.#roots.get(root);
      if (!entry) continue;
      const ports = new Set<number>();
      for (const inode of entry.inodes) {
        const port = listening.get(inode);
        if (port !== undefined) ports.add(port);
      }
      if (ports.size > 0) result.set(root, [...ports].sort((a, b) => a - b));
    }
    return result;
  }
}
