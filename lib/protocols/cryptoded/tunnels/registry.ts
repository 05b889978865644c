/**
 * The registry of connections: one {@linkcode ConnectionEntry} per profile (and per tunnel whose
 * profile left), the profiles refused and why, and the scan that brings both in line with the
 * profile directory. Lookups throw the neutral errors errors.ts maps (CONN_NOT_FOUND,
 * WRONG_PERMISSION).
 */
import { join } from "node:path";
import {
  ForbiddenError,
  type JsonDocument,
  type Logger,
  NotFoundError,
  UnavailableError,
} from "../../../core/mod.ts";
import type {
  OpenVpnTunnelStatus,
  Profile,
  RefusedProfile,
} from "../../../backends/openvpn/mod.ts";
import type { CryptodedProfileStore } from "../backends.ts";
import type { CryptodedSavedState } from "./saved_state.ts";
import { type ConnectionEntry, entryStatus } from "./status.ts";

/** A profile refused for its file's owner or mode (WRONG_PERMISSION). */
export function refusedError(name: string, file: string, reason: string): ForbiddenError {
  return new ForbiddenError(`profile ${JSON.stringify(name)} refused: ${file} is ${reason}`, {
    reason: "wrong-permission",
  });
}

/** The connections of one service instance, by name. */
export class ConnectionRegistry {
  readonly #profiles: CryptodedProfileStore;
  readonly #saved: JsonDocument<CryptodedSavedState>;
  readonly #log: Logger;
  readonly #entries = new Map<string, ConnectionEntry>();
  #refused = new Map<string, RefusedProfile>();

  constructor(
    profiles: CryptodedProfileStore,
    saved: JsonDocument<CryptodedSavedState>,
    log: Logger,
  ) {
    this.#profiles = profiles;
    this.#saved = saved;
    this.#log = log;
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /** Connection names in order. */
  names(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /** Every entry, in insertion order. */
  entries(): IterableIterator<ConnectionEntry> {
    return this.#entries.values();
  }

  /** Names of the refused profiles. */
  refusedNames(): string[] {
    return [...this.#refused.keys()];
  }

  /** The entry of `name`, or undefined. */
  get(name: string): ConnectionEntry | undefined {
    return this.#entries.get(name);
  }

  /** Forgets `name`. */
  delete(name: string): void {
    this.#entries.delete(name);
  }

  /** Forgets `e` unless its profile is still there (or another entry took its name). */
  dropOrphan(e: ConnectionEntry): void {
    if (!e.profile && this.#entries.get(e.name) === e) this.#entries.delete(e.name);
  }

  /** Connections by daemon status. */
  counts(): Record<OpenVpnTunnelStatus, number> {
    const out: Record<OpenVpnTunnelStatus, number> = {
      DISCONNECTED: 0,
      CONNECTING: 0,
      CONNECTED: 0,
      RECONNECTING: 0,
      DISCONNECTING: 0,
    };
    for (const e of this.#entries.values()) out[entryStatus(e)]++;
    return out;
  }

  /** The entry of `name`, made (with `profile`) when there is none yet. */
  entry(name: string, profile: Profile | null): ConnectionEntry {
    let e = this.#entries.get(name);
    if (!e) {
      e = {
        name,
        profile,
        profilePath: profile?.path ?? join(this.#profiles.dir, `${name}.ovpn`),
        tunnel: null,
        preExec: null,
        preExecStatus: this.#saved.value.preExec[name] ?? 0,
        preExecRan: this.#saved.value.preExec[name] !== undefined,
        totalIn: 0,
        totalOut: 0,
        lastError: null,
        last: null,
      };
      this.#entries.set(name, e);
    }
    return e;
  }

  /** The entry for `name`, or the error the document wants. */
  require(name: string): ConnectionEntry {
    const e = this.#entries.get(name);
    if (e) return e;
    const refused = this.#refused.get(name);
    if (refused) {
      this.#log.warn("refusing profile", { name, file: refused.file, reason: refused.reason });
      throw refusedError(name, refused.file, refused.reason);
    }
    throw new NotFoundError(`no connection named ${JSON.stringify(name)}`);
  }

  /** Re-reads the profile directory; live tunnels keep their entries. */
  async scan(): Promise<{ added: string[]; removed: string[] }> {
    const problem = await this.#profiles.dirProblem();
    if (problem) {
      this.#log.warn("profile directory unusable", { dir: this.#profiles.dir, problem });
      throw new UnavailableError(problem, { reason: "conf-dir" });
    }
    const scan = await this.#profiles.scan();
    for (const r of scan.refused.values()) {
      if (this.#refused.get(r.name)?.reason !== r.reason) {
        this.#log.warn("profile refused", { name: r.name, file: r.file, reason: r.reason });
      }
    }
    this.#refused = scan.refused;
    const added: string[] = [];
    const removed: string[] = [];
    for (const [name, profile] of scan.profiles) {
      if (!this.#entries.has(name)) added.push(name);
      const entry = this.entry(name, profile);
      entry.profile = profile;
      entry.profilePath = profile.path;
    }
    for (const [name, e] of this.#entries) {
      if (scan.profiles.has(name)) continue;
      removed.push(name);
      if (entryStatus(e) === "DISCONNECTED") this.#entries.delete(name);
      else e.profile = null; // keep the live tunnel; the entry goes when it ends
    }
    return { added, removed };
  }
}
