/**
 * The set of connections: one per profile, each with its tunnel (when openvpn runs), its
 * pre-connect phase and counters. Answers the daemon's questions (connect, disconnect, status,
 * reload, remove) with typed {@linkcode CryptodedError}s; the handlers only translate.
 */
import { join } from "node:path";
import type { CommandRunner, JsonDocument, Logger } from "../../core/mod.ts";
import {
  checkBinary,
  confDirProblem,
  isOurOpenvpn,
  listPidFiles,
  lookupUser,
  type OpenVpnTunnelStatus,
  type Profile,
  profileFileProblem,
  readPidFile,
  type RefusedProfile,
  removeIfPresent,
  removeProfileFiles,
  runPreExec,
  scanProfiles,
  Tunnel,
  type TunnelSnapshot,
} from "../../backends/openvpn/mod.ts";
import type { DnsBackup } from "../../backends/resolver/mod.ts";
import { Resp } from "./codes.ts";
import type { CryptodedConfig } from "./config.ts";
import { CryptodedError } from "./errors.ts";

/** What the service keeps durably. */
export interface SavedState {
  scriptSecurity: boolean | null;
  dns: { servers: string[]; backup: DnsBackup } | null;
  /** pre-exec-status of each connection's last attempt. */
  preExec: Record<string, number>;
  /** Connects acknowledged but not yet settled (resumed after a restart). */
  pending: string[];
}

/** An empty saved state. */
export function emptySaved(): SavedState {
  return { scriptSecurity: null, dns: null, preExec: {}, pending: [] };
}

interface Entry {
  name: string;
  /** null when the profile left the directory while its tunnel still runs. */
  profile: Profile | null;
  profilePath: string;
  tunnel: Tunnel | null;
  /** Set while the pre-connect command runs (status CONNECTING). */
  preExec: AbortController | null;
  preExecStatus: number;
  totalIn: number;
  totalOut: number;
  lastError: string | null;
  /** Last snapshot of the tunnel that ended. */
  last: TunnelSnapshot | null;
}

/** One connection's status as the document shows it. */
export interface ConnectionStatus {
  name: string;
  profile: string;
  status: OpenVpnTunnelStatus;
  "ovpn-status": string;
  timestamp: number;
  "in-total": number;
  "out-total": number;
  "auto-connect": boolean;
  "pre-exec-cmd": string;
  "pre-exec-status": number;
  network?: {
    "connected-time": number;
    "in-current": number;
    "out-current": number;
    "in-total": number;
    "out-total": number;
  };
  "last-error"?: string;
}

/** Everything {@linkcode Connections} needs. */
export interface ConnectionsOptions {
  config: CryptodedConfig;
  /** `agent.user`. */
  agentUser: string;
  /** Directory for pid files and management sockets. */
  runDir: string;
  /** Directory for openvpn logs. */
  logDir: string;
  runner: CommandRunner;
  log: Logger;
  saved: JsonDocument<SavedState>;
  /** Whether the agent runs as root (openvpn needs it). */
  isRoot: boolean;
  ownUid: number;
  /** Called after any tunnel changes state (for /healthz detail). */
  onChange?: () => void;
}

function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** The connections of one service instance. */
export class Connections {
  #o: ConnectionsOptions;
  #entries = new Map<string, Entry>();
  #refused = new Map<string, RefusedProfile>();
  #scriptSecurity: boolean;
  #stopped = false;

  constructor(options: ConnectionsOptions) {
    this.#o = options;
    this.#scriptSecurity = options.saved.value.scriptSecurity ?? options.config.script_security;
  }

  get scriptSecurity(): boolean {
    return this.#scriptSecurity;
  }

  /** Connection names in order. */
  names(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /** Names of connected (or connecting) tunnels. */
  counts(): Record<OpenVpnTunnelStatus, number> {
    const out: Record<OpenVpnTunnelStatus, number> = {
      DISCONNECTED: 0,
      CONNECTING: 0,
      CONNECTED: 0,
      RECONNECTING: 0,
      DISCONNECTING: 0,
    };
    for (const e of this.#entries.values()) out[this.#status(e)]++;
    return out;
  }

  managementPath(name: string): string {
    const plain = join(this.#o.runDir, `${name}.sock`);
    return plain.length <= 100 ? plain : join(this.#o.runDir, `h-${shortHash(name)}.sock`);
  }

  pidPath(name: string): string {
    return join(this.#o.runDir, `${name}.pid`);
  }

  logPath(name: string): string {
    return join(this.#o.logDir, `${name}.ovpn.log`);
  }

  #entry(name: string, profile: Profile | null): Entry {
    let e = this.#entries.get(name);
    if (!e) {
      e = {
        name,
        profile,
        profilePath: profile?.path ?? join(this.#o.config.profile_dir, `${name}.ovpn`),
        tunnel: null,
        preExec: null,
        preExecStatus: this.#o.saved.value.preExec[name] ?? 0,
        totalIn: 0,
        totalOut: 0,
        lastError: null,
        last: null,
      };
      this.#entries.set(name, e);
    }
    return e;
  }

  /** Reads the profiles and re-adopts every openvpn a previous run left running. */
  async load(): Promise<void> {
    try {
      await this.#scan();
    } catch (error) {
      if (!(error instanceof CryptodedError)) throw error;
      // logged by #scan; the socket still answers (GET_CONFDIR reports INVALID_CONF_DIR)
    }
    const pidNames = await listPidFiles(this.#o.runDir);
    await Promise.all(pidNames.map((name) => this.#adopt(name)));
    // connects acknowledged before a crash but never settled
    for (const name of this.#o.saved.value.pending) {
      const e = this.#entries.get(name);
      if (!e || this.#status(e) !== "DISCONNECTED") {
        await this.#setPending(name, false);
        continue;
      }
      this.#o.log.info("resuming a connect interrupted by a restart", { name });
      await this.#setPending(name, false);
      this.connect(name).catch((error) =>
        this.#o.log.warn("resumed connect failed", { name, error })
      );
    }
  }

  async #setPending(name: string, on: boolean): Promise<void> {
    const v = this.#o.saved.value;
    const has = v.pending.includes(name);
    if (has === on) return;
    const pending = on ? [...v.pending, name] : v.pending.filter((n) => n !== name);
    await this.#o.saved.write({ ...v, pending });
  }

  #settle(name: string): void {
    this.#setPending(name, false).catch((error) =>
      this.#o.log.error("saving state failed", { error })
    );
  }

  async #adopt(name: string): Promise<void> {
    const pid = await readPidFile(this.pidPath(name));
    if (pid === null) return;
    const e = this.#entry(name, this.#entries.get(name)?.profile ?? null);
    const tunnel = await Tunnel.adopt(this.#tunnelOptions(e), pid).catch(() => null);
    if (!tunnel) {
      if (await isOurOpenvpn(pid, this.managementPath(name))) {
        // alive but its management socket is taken or broken: leave it for the next start
        this.#o.log.warn("openvpn is running but its management socket did not answer", {
          name,
          pid,
        });
        if (!e.profile) this.#entries.delete(name);
        return;
      }
      this.#o.log.info("stale pid file; openvpn is gone", { name, pid });
      await removeIfPresent(this.pidPath(name));
      if (!e.profile) this.#entries.delete(name);
      return;
    }
    this.#o.log.info("re-adopted running openvpn", { name, pid, status: tunnel.status });
    this.#watch(e, tunnel);
  }

  async #scan(): Promise<{ added: string[]; removed: string[] }> {
    const dir = this.#o.config.profile_dir;
    const problem = await confDirProblem(dir);
    if (problem) {
      this.#o.log.warn("profile directory unusable", { dir, problem });
      throw new CryptodedError(Resp.INVALID_CONF_DIR, problem);
    }
    const scan = await scanProfiles(dir, this.#o.ownUid);
    for (const r of scan.refused.values()) {
      if (this.#refused.get(r.name)?.reason !== r.reason) {
        this.#o.log.warn("profile refused", { name: r.name, file: r.file, reason: r.reason });
      }
    }
    this.#refused = scan.refused;
    const added: string[] = [];
    const removed: string[] = [];
    for (const [name, profile] of scan.profiles) {
      const e = this.#entries.get(name);
      if (!e) added.push(name);
      const entry = this.#entry(name, profile);
      entry.profile = profile;
      entry.profilePath = profile.path;
    }
    for (const [name, e] of this.#entries) {
      if (scan.profiles.has(name)) continue;
      removed.push(name);
      if (this.#status(e) === "DISCONNECTED") this.#entries.delete(name);
      else e.profile = null; // keep the live tunnel; the entry goes when it ends
    }
    return { added, removed };
  }

  /** Re-reads the profile directory (live tunnels untouched), then auto-connects. */
  async reload(): Promise<{ added: string[]; removed: string[]; refused: string[] }> {
    const result = await this.#scan();
    this.autoConnect();
    return { ...result, refused: [...this.#refused.keys()] };
  }

  /** Connects every auto-connect profile that is disconnected. */
  autoConnect(): void {
    for (const e of this.#entries.values()) {
      if (!e.profile?.autoConnect || this.#status(e) !== "DISCONNECTED") continue;
      this.connect(e.name).catch((error) =>
        this.#o.log.warn("auto-connect failed", { name: e.name, error })
      );
    }
  }

  #status(e: Entry): OpenVpnTunnelStatus {
    if (e.tunnel) return e.tunnel.status;
    if (e.preExec) return "CONNECTING";
    return "DISCONNECTED";
  }

  /** The entry for `name`, or the error the document wants. */
  #require(name: string): Entry {
    const e = this.#entries.get(name);
    if (e) return e;
    const refused = this.#refused.get(name);
    if (refused) {
      this.#o.log.warn("refusing profile", {
        name,
        file: refused.file,
        reason: refused.reason,
      });
      throw new CryptodedError(
        Resp.WRONG_PERMISSION,
        `profile ${JSON.stringify(name)} refused: ${refused.file} is ${refused.reason}`,
      );
    }
    throw new CryptodedError(Resp.CONN_NOT_FOUND, `no connection named ${JSON.stringify(name)}`);
  }

  /** Status objects for `all` (EMPTY_LIST when there are none) or one name. */
  status(target: { all: true } | { all: false; name: string }): ConnectionStatus[] {
    if (!target.all) return [this.#statusOf(this.#require(target.name))];
    if (this.#entries.size === 0) {
      throw new CryptodedError(Resp.EMPTY_LIST, "no connections are configured");
    }
    return this.names().map((n) => this.#statusOf(this.#entries.get(n)!));
  }

  #statusOf(e: Entry): ConnectionStatus {
    const snap = e.tunnel?.snapshot() ?? null;
    const status = this.#status(e);
    const curIn = snap?.bytesIn ?? 0;
    const curOut = snap?.bytesOut ?? 0;
    const totalIn = e.totalIn + curIn;
    const totalOut = e.totalOut + curOut;
    const out: ConnectionStatus = {
      name: e.name,
      profile: e.profilePath,
      status,
      // openvpn's own state; DISCONNECTED until it has reported one
      "ovpn-status": snap?.ovpnStatus || "DISCONNECTED",
      timestamp: Math.floor(Date.now() / 1000),
      "in-total": totalIn,
      "out-total": totalOut,
      "auto-connect": e.profile?.autoConnect ?? false,
      "pre-exec-cmd": e.profile?.preConnectExec ?? "",
      "pre-exec-status": e.preExecStatus,
    };
    if (status === "CONNECTED" && snap) {
      out.network = {
        "connected-time": snap.connectedTime ?? 0,
        "in-current": curIn,
        "out-current": curOut,
        "in-total": totalIn,
        "out-total": totalOut,
      };
    }
    const err = snap?.lastError ?? e.lastError;
    if (err && status !== "CONNECTED") out["last-error"] = err;
    return out;
  }

  /** Why openvpn cannot be started here, or null. */
  async launchProblem(): Promise<string | null> {
    if (!this.#o.isRoot) {
      return `cannot start openvpn: the agent runs as uid ${this.#o.ownUid}, and openvpn needs root to create its tun device`;
    }
    const bin = await checkBinary(this.#o.config.openvpn, this.#o.config.openvpn_root_check);
    return bin ? `cannot start openvpn: ${bin}` : null;
  }

  /** CONNECT one name: checks, then starts in the background; returns at CONNECTING. */
  async connect(name: string): Promise<ConnectionStatus> {
    const e = this.#require(name);
    const status = this.#status(e);
    if (status === "CONNECTED") {
      throw new CryptodedError(Resp.CONN_ALREADY_CONNECTED, `${name} is already connected`);
    }
    if (status !== "DISCONNECTED") {
      throw new CryptodedError(Resp.CONN_IN_PROGRESS, `${name} is ${status}`);
    }
    if (!e.profile) {
      throw new CryptodedError(Resp.CONN_NOT_FOUND, `the profile of ${name} was removed`);
    }
    const problem = await this.launchProblem();
    if (problem) {
      e.lastError = problem;
      throw new CryptodedError(Resp.UNKNOWN_ERR, problem);
    }
    // the file may have changed since the scan
    const p = await profileFileProblem(e.profile.path, this.#o.ownUid);
    if (p === "gone") {
      throw new CryptodedError(Resp.CONN_NOT_FOUND, `profile file of ${name} is gone`);
    }
    if (p) {
      this.#o.log.warn("refusing profile", { name, file: e.profile.path, reason: p });
      throw new CryptodedError(
        Resp.WRONG_PERMISSION,
        `profile ${JSON.stringify(name)} refused: ${e.profile.path} is ${p}`,
      );
    }
    if (this.#status(e) !== "DISCONNECTED") {
      throw new CryptodedError(Resp.CONN_IN_PROGRESS, `${name} is ${this.#status(e)}`);
    }
    e.lastError = null;
    e.preExec = new AbortController();
    const abort = e.preExec;
    try {
      // durable before it is acknowledged: a restart resumes it
      await this.#setPending(name, true);
    } catch (error) {
      e.preExec = null;
      throw error;
    }
    if (e.preExec !== abort) {
      this.#settle(name);
      throw new CryptodedError(Resp.CONN_IN_PROGRESS, `${name} was disconnected meanwhile`);
    }
    this.#run(e, e.profile, abort).catch((error) => {
      // never let one connect attempt take the agent down
      if (e.preExec === abort) e.preExec = null;
      e.lastError = `connect failed: ${(error as Error).message}`;
      this.#o.log.error("connect failed", { name, error });
    });
    return this.#statusOf(e);
  }

  async #run(e: Entry, profile: Profile, abort: AbortController): Promise<void> {
    // only this attempt's marker: a DISCONNECT + CONNECT may have started a newer one
    const clear = () => {
      if (e.preExec === abort) e.preExec = null;
      this.#settle(e.name);
    };
    if (profile.preConnectExec) {
      const userName = this.#o.config.pre_exec_user || this.#o.agentUser;
      const user = this.#o.isRoot && userName ? lookupUser(userName) : null;
      if (this.#o.isRoot && userName && !user) {
        this.#o.log.warn("pre-exec user not found; running as the agent", { user: userName });
      }
      const result = await runPreExec(this.#o.runner, profile.preConnectExec, {
        timeoutMs: this.#o.config.pre_exec_timeout,
        user,
        logFile: this.logPath(e.name),
        signal: abort.signal,
      });
      e.preExecStatus = result.status;
      await this.#savePreExec(e.name, result.status);
      if (abort.signal.aborted || this.#stopped) {
        clear();
        e.lastError = "connect cancelled during pre-connect-exec";
        return;
      }
      if (result.status !== 0) {
        clear();
        e.lastError = `pre-connect-exec "${profile.preConnectExec}" ${result.message}`;
        this.#o.log.warn("pre-connect-exec failed; connect cancelled", {
          name: e.name,
          status: result.status,
          message: result.message,
        });
        return;
      }
    }
    const tunnel = new Tunnel(this.#tunnelOptions(e));
    try {
      await removeIfPresent(this.managementPath(e.name));
      if (abort.signal.aborted || this.#stopped || e.preExec !== abort) {
        clear();
        return;
      }
      tunnel.launch();
    } catch (error) {
      clear();
      e.lastError = `cannot start openvpn: ${(error as Error).message}`;
      this.#o.log.error("openvpn launch failed", { name: e.name, error });
      return;
    }
    if (e.preExec === abort) e.preExec = null;
    this.#watch(e, tunnel);
    // settled once openvpn connects or the attempt ends (its pid file covers a restart then)
    tunnel.connected.then(() => this.#settle(e.name), () => this.#settle(e.name));
  }

  async #savePreExec(name: string, status: number): Promise<void> {
    const v = this.#o.saved.value;
    if (v.preExec[name] === status) return;
    await this.#o.saved.write({ ...v, preExec: { ...v.preExec, [name]: status } }).catch((error) =>
      this.#o.log.error("saving state failed", { error })
    );
  }

  #tunnelOptions(e: Entry) {
    const c = this.#o.config;
    return {
      name: e.name,
      spec: {
        openvpn: c.openvpn,
        netns: c.netns,
        profile: e.profilePath,
        management: this.managementPath(e.name),
        pidFile: this.pidPath(e.name),
        logFile: this.logPath(e.name),
        scriptSecurity: this.#scriptSecurity ? 2 : 1,
        extraArgs: c.openvpn_args,
      },
      onChange: () => this.#o.onChange?.(),
      connectTimeoutMs: c.connect_timeout,
      stopTimeoutMs: c.stop_timeout,
      bytecountInterval: c.bytecount_interval,
      log: this.#o.log,
    };
  }

  #watch(e: Entry, tunnel: Tunnel): void {
    e.tunnel = tunnel;
    tunnel.ended.then((end) => {
      if (e.tunnel !== tunnel) return;
      if (end.detached) return;
      e.last = tunnel.snapshot();
      e.totalIn += end.bytesIn;
      e.totalOut += end.bytesOut;
      e.lastError = end.error;
      e.tunnel = null;
      if (!e.profile && this.#entries.get(e.name) === e) this.#entries.delete(e.name);
    });
  }

  /** CONNECT all: every disconnected connection; EMPTY_LIST when there are none. */
  async connectAll(): Promise<ConnectionStatus[]> {
    if (this.#entries.size === 0) {
      throw new CryptodedError(Resp.EMPTY_LIST, "no connections are configured");
    }
    const problem = await this.launchProblem();
    if (problem) throw new CryptodedError(Resp.UNKNOWN_ERR, problem);
    for (const e of this.#entries.values()) {
      if (this.#status(e) !== "DISCONNECTED" || !e.profile) continue;
      await this.connect(e.name).catch((error) =>
        this.#o.log.warn("connect failed", { name: e.name, error })
      );
    }
    return this.status({ all: true });
  }

  /** DISCONNECT one name: delivers the stop and returns at DISCONNECTING. */
  async disconnect(name: string): Promise<ConnectionStatus> {
    const e = this.#require(name);
    const status = this.#status(e);
    if (status === "DISCONNECTED") {
      throw new CryptodedError(Resp.CONN_ALREADY_DISCONNECTED, `${name} is already disconnected`);
    }
    if (status === "DISCONNECTING") {
      throw new CryptodedError(Resp.CONN_IN_PROGRESS, `${name} is already disconnecting`);
    }
    await this.#stopEntry(e);
    return this.#statusOf(e);
  }

  async #stopEntry(e: Entry): Promise<void> {
    this.#settle(e.name);
    if (e.preExec) {
      e.preExec.abort(new Error("disconnect requested"));
      e.preExec = null;
      e.lastError = "connect cancelled by DISCONNECT";
      return;
    }
    await e.tunnel?.beginStop();
  }

  /** DISCONNECT all. */
  async disconnectAll(): Promise<ConnectionStatus[]> {
    if (this.#entries.size === 0) {
      throw new CryptodedError(Resp.EMPTY_LIST, "no connections are configured");
    }
    const errors: unknown[] = [];
    for (const e of this.#entries.values()) {
      const s = this.#status(e);
      if (s === "DISCONNECTED" || s === "DISCONNECTING") continue;
      await this.#stopEntry(e).catch((error) => errors.push(error));
    }
    if (errors.length > 0) throw errors[0];
    return this.status({ all: true });
  }

  /** Waits until a connection is fully stopped. */
  async waitStopped(name: string): Promise<void> {
    const e = this.#entries.get(name);
    if (e?.tunnel) await e.tunnel.ended;
  }

  /** REMOVE: CONN_IN_PROGRESS unless disconnected or forced (forced disconnects first). */
  async remove(name: string, force: boolean): Promise<string[]> {
    const e = this.#require(name);
    const status = this.#status(e);
    if (status !== "DISCONNECTED") {
      if (!force) {
        throw new CryptodedError(
          Resp.CONN_IN_PROGRESS,
          `${name} is ${status}; disconnect it first or remove with force`,
        );
      }
      const tunnel = e.tunnel;
      await this.#stopEntry(e);
      if (tunnel) await tunnel.ended;
    }
    const removed = await removeProfileFiles(this.#o.config.profile_dir, name);
    this.#entries.delete(name);
    return removed;
  }

  /** SCRIPT_SECURITY: applies to every openvpn started from now on. */
  async setScriptSecurity(enabled: boolean): Promise<void> {
    await this.#o.saved.write({ ...this.#o.saved.value, scriptSecurity: enabled });
    this.#scriptSecurity = enabled;
  }

  /** Lets go of every tunnel (they keep running) and cancels pre-connect commands. */
  detachAll(): void {
    this.#stopped = true;
    for (const e of this.#entries.values()) {
      e.preExec?.abort(new Error("service stopping"));
      e.tunnel?.detach();
    }
  }
}
