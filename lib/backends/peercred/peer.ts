/**
 * Who is on the other end of an accepted Unix connection. Deno has no SO_PEERCRED, so:
 * 1. right after `accept()` (before the next accept), {@linkcode UnixPeerTracker.identify} reads
 *    `/proc/self/fd` and `/proc/net/unix` (no child process) and finds the one connected socket
 *    bound to our listener path that this process holds and no earlier connection claimed: that is
 *    the new connection's inode;
 * 2. only when a privileged command arrives, {@linkcode peerOfInode} runs `ss -xpn` once to learn
 *    the peer socket's inode and the pids holding it, and reads their effective uid from
 *    `/proc/<pid>/status`.
 */
import type { CommandRunner } from "../../core/mod.ts";

/** The process on the other end of a connection. */
export interface PeerCredentials {
  pids: number[];
  /** Effective uids of those processes (all must be 0 to count as root). */
  uids: number[];
}

function ownSocketInodes(): Set<number> {
  const inodes = new Set<number>();
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(Number(m[1]));
    } catch {
      // closed while reading
    }
  }
  return inodes;
}

function connectedInodesOnPaths(paths: ReadonlySet<string>): Set<number> {
  const out = new Set<number>();
  const text = Deno.readTextFileSync("/proc/net/unix");
  for (const line of text.split("\n")) {
    // Num RefCount Protocol Flags Type St Inode Path
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8 || fields[5] !== "03") continue;
    if (paths.has(fields.slice(7).join(" "))) out.add(Number(fields[6]));
  }
  return out;
}

/** Tracks which socket inode belongs to which accepted connection of one listener. */
export class UnixPeerTracker {
  #paths: Set<string>;
  #claimed = new Set<number>();

  /** `paths`: every name the listener socket may carry in /proc (its bind name and final name). */
  constructor(paths: readonly string[]) {
    this.#paths = new Set(paths);
  }

  /**
   * The inode of the connection just accepted, or null when it cannot be told apart. Call it
   * synchronously after `accept()` resolves and before accepting again.
   */
  identify(): number | null {
    let own: Set<number>;
    let candidates: Set<number>;
    try {
      own = ownSocketInodes();
      candidates = connectedInodesOnPaths(this.#paths);
    } catch {
      return null;
    }
    for (const inode of [...this.#claimed]) if (!own.has(inode)) this.#claimed.delete(inode);
    const fresh = [...candidates].filter((i) => own.has(i) && !this.#claimed.has(i));
    for (const inode of fresh) this.#claimed.add(inode);
    return fresh.length === 1 ? fresh[0]! : null;
  }
}

/** Parses `ss -xpn` output into local inode → {peer inode, pids}. */
export function parseSsUnix(text: string): Map<number, { peer: number; pids: number[] }> {
  const out = new Map<number, { peer: number; pids: number[] }>();
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    // u_str ESTAB recvq sendq local inode peer peerInode [users:(...)]
    if (fields.length < 8 || !fields[0]!.startsWith("u_")) continue;
    const local = Number(fields[5]);
    const peer = Number(fields[7]);
    if (!Number.isInteger(local) || !Number.isInteger(peer)) continue;
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    out.set(local, { peer, pids });
  }
  return out;
}

/** Effective uid of a process from /proc, or null when it is gone. */
export function effectiveUid(pid: number): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Finds the processes on the other end of our socket `inode` (null when not found). */
export async function peerOfInode(
  inode: number,
  runner: CommandRunner,
  timeoutMs = 5000,
): Promise<PeerCredentials | null> {
  const result = await runner(["ss", "-xpnH"], { timeoutMs, check: false, maxOutput: 8 << 20 });
  const table = parseSsUnix(result.stdout);
  const ours = table.get(inode);
  if (!ours) return null;
  const peer = table.get(ours.peer);
  if (!peer || peer.pids.length === 0) return null;
  const pids = [...new Set(peer.pids)];
  const uids: number[] = [];
  for (const pid of pids) {
    const uid = effectiveUid(pid);
    if (uid !== null) uids.push(uid);
  }
  if (uids.length === 0) return null;
  return { pids, uids };
}
