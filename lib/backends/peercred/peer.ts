/**
 * Who is on the other end of an accepted Unix connection. Deno has no SO_PEERCRED and its
 * permission system refuses /proc to anything short of --allow-all, so:
 * 1. right after `accept()` (and before the next accept), {@linkcode UnixPeerTracker.identify}
 *    runs `ss -xnH` and lists this process's socket fds (`find /proc/<pid>/fd`): among the
 *    connected sockets bound to our listener path that this process holds, exactly one is not yet
 *    claimed by an earlier connection — the new one; its line names the peer socket's inode;
 * 2. only for a privileged command, {@linkcode UnixPeerTracker.credentials} runs `ss -xpnH` to
 *    find the pids holding the peer socket, and reads their effective uid from
 *    `/proc/<pid>/status` with `cat`.
 */
import type { CommandRunner } from "../../core/mod.ts";

/** The process on the other end of a connection. */
export interface PeerCredentials {
  pids: number[];
  /** Effective uids of those processes (all must be 0 to count as root). */
  uids: number[];
}

/** One `ss -x` line. */
export interface SsUnixSocket {
  path: string;
  inode: number;
  peer: number;
  pids: number[];
}

/** Parses `ss -xpnH` output into local inode → socket. */
export function parseSsUnix(text: string): Map<number, SsUnixSocket> {
  const out = new Map<number, SsUnixSocket>();
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    // u_str ESTAB recvq sendq local inode peer peerInode [users:(...)]
    if (fields.length < 8 || !fields[0]!.startsWith("u_")) continue;
    const inode = Number(fields[5]);
    const peer = Number(fields[7]);
    if (!Number.isInteger(inode) || !Number.isInteger(peer)) continue;
    const pids = [...line.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]));
    out.set(inode, { path: fields[4]!, inode, peer, pids: [...new Set(pids)] });
  }
  return out;
}

/** Effective uid from a `/proc/<pid>/status` text, or null. */
export function parseEffectiveUid(status: string): number | null {
  const m = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
  return m ? Number(m[1]) : null;
}

/** Which socket an accepted connection is, and its peer socket. */
export interface ConnectionIdentity {
  inode: number;
  peer: number;
}

/** Tracks which socket belongs to which accepted connection of one listener. */
export class UnixPeerTracker {
  #paths: Set<string>;
  #claimed = new Set<number>();
  #runner: CommandRunner;
  #pid: number;

  /** `paths`: every name the listener socket may carry (its bind name and final name). */
  constructor(paths: readonly string[], runner: CommandRunner, ownPid = Deno.pid) {
    this.#paths = new Set(paths);
    this.#runner = runner;
    this.#pid = ownPid;
  }

  /**
   * Identifies the connection just accepted (null when it cannot be told apart). Await it before
   * accepting the next connection. Cheap: `ss -xnH` (no process scan) and the list of this
   * process's own socket fds, run side by side.
   */
  async identify(): Promise<ConnectionIdentity | null> {
    let table: Map<number, SsUnixSocket>;
    const own = new Set<number>();
    try {
      const [ss, fds] = await Promise.all([
        this.#runner(["ss", "-xnH"], { timeoutMs: 5000, maxOutput: 16 << 20 }),
        this.#runner(["find", `/proc/${this.#pid}/fd`, "-lname", "socket:*", "-printf", "%l\n"], {
          timeoutMs: 5000,
          check: false,
        }),
      ]);
      table = parseSsUnix(ss.stdout);
      for (const m of fds.stdout.matchAll(/socket:\[(\d+)\]/g)) own.add(Number(m[1]));
    } catch {
      return null;
    }
    const ours = [...table.values()].filter((s) =>
      this.#paths.has(s.path) && own.has(s.inode) && s.peer !== 0
    );
    const live = new Set(ours.map((s) => s.inode));
    for (const inode of [...this.#claimed]) if (!live.has(inode)) this.#claimed.delete(inode);
    const fresh = ours.filter((s) => !this.#claimed.has(s.inode));
    for (const s of fresh) this.#claimed.add(s.inode);
    return fresh.length === 1 ? { inode: fresh[0]!.inode, peer: fresh[0]!.peer } : null;
  }

  /**
   * The processes holding the peer socket and their effective uids (only needed for privileged
   * commands): one `ss -xpnH`, then `/proc/<pid>/status` read with `cat`.
   */
  async credentials(identity: ConnectionIdentity): Promise<PeerCredentials | null> {
    let table: Map<number, SsUnixSocket>;
    try {
      const r = await this.#runner(["ss", "-xpnH"], { timeoutMs: 5000, maxOutput: 16 << 20 });
      table = parseSsUnix(r.stdout);
    } catch {
      return null;
    }
    // the peer must still be connected to exactly our socket
    const peer = table.get(identity.peer);
    if (!peer || peer.peer !== identity.inode || peer.pids.length === 0) return null;
    const uids: number[] = [];
    for (const pid of peer.pids) {
      const r = await this.#runner(["cat", `/proc/${pid}/status`], {
        timeoutMs: 5000,
        check: false,
      }).catch(() => null);
      const uid = r && r.code === 0 ? parseEffectiveUid(r.stdout) : null;
      if (uid !== null) uids.push(uid);
    }
    return uids.length > 0 ? { pids: peer.pids, uids } : null;
  }
}
