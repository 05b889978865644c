/**
 * Starting and stopping connections: why openvpn cannot start here, the pre-connect-exec phase,
 * the launch itself, watching a tunnel until it ends, re-adopting one a previous run left running,
 * and delivering a stop. The registry holds the entries; this drives their tunnels.
 */
import type { JsonDocument, Logger } from "../../../core/mod.ts";
import type { Profile } from "../../../backends/openvpn/mod.ts";
import type { CryptodedBackends, CryptodedTunnel } from "../backends.ts";
import type { CryptodedConfig } from "../config.ts";
import type { ConnectionRegistry } from "./registry.ts";
import { type CryptodedSavedState, savePreExecStatus, settlePending } from "./saved_state.ts";
import type { ConnectionEntry } from "./status.ts";

/** Everything the launcher (and the connections around it) works with. */
export interface ConnectionsOptions {
  /** The section, `profile_dir` already absolute. */
  config: CryptodedConfig;
  backends: CryptodedBackends;
  saved: JsonDocument<CryptodedSavedState>;
  log: Logger;
  /** `agent.user`. */
  agentUser: string;
  /** Called after any tunnel changes state (for /healthz detail). */
  onChange?: () => void;
}

/** Drives the tunnels of the registry's entries. */
export class ConnectionLauncher {
  readonly #o: ConnectionsOptions;
  readonly #registry: ConnectionRegistry;
  /** SCRIPT_SECURITY for every openvpn started from now on. */
  scriptSecurity: boolean;
  /** Set when the service stops: nothing new starts. */
  stopped = false;
  /** Stopped for an upgrade: interrupted connects stay pending (see {@linkcode detachAll}). */
  handingOver = false;
  #uid: number | null = null;

  constructor(options: ConnectionsOptions, registry: ConnectionRegistry) {
    this.#o = options;
    this.#registry = registry;
    this.scriptSecurity = options.saved.value.scriptSecurity ?? options.config.script_security;
  }

  /** Why openvpn cannot be started here, or null. */
  async launchProblem(): Promise<string | null> {
    const uid = this.#o.backends.ownUid;
    if (uid !== 0) {
      return `cannot start openvpn: the agent runs as uid ${uid}, and openvpn needs root to create its tun device`;
    }
    const bin = await this.#o.backends.tunnels.binaryProblem();
    return bin ? `cannot start openvpn: ${bin}` : null;
  }

  /** The user pre-connect commands run as (`pre_exec_user`, else `agent.user`), or null. */
  #preExecUser(): { uid: number; gid: number } | null {
    const { config, backends, log } = this.#o;
    const userName = config.pre_exec_user || this.#o.agentUser;
    if (backends.ownUid !== 0 || !userName) return null;
    const user = backends.preExec.lookupUser(userName);
    if (!user) log.warn("pre-exec user not found; running as the agent", { user: userName });
    return user;
  }

  /** The uid pre-connect commands run as (STATUS shows it); looked up again after `forgetUid`. */
  preExecUid(): number {
    if (this.#uid !== null) return this.#uid;
    const { config, backends } = this.#o;
    const userName = config.pre_exec_user || this.#o.agentUser;
    this.#uid = backends.ownUid !== 0 || !userName
      ? backends.ownUid
      : backends.preExec.lookupUser(userName)?.uid ?? backends.ownUid;
    return this.#uid;
  }

  /** Drops the cached uid (RELOAD: the user may have changed). */
  forgetUid(): void {
    this.#uid = null;
  }

  /** Unmarks a pending connect of `name`. */
  settle(name: string): void {
    settlePending(this.#o.saved, name, this.#o.log);
  }

  /** Runs pre-connect-exec, then launches openvpn; `abort` is this attempt's marker. */
  async run(e: ConnectionEntry, profile: Profile, abort: AbortController): Promise<void> {
    // only this attempt's marker: a DISCONNECT + CONNECT may have started a newer one
    const clear = () => {
      if (e.preExec === abort) e.preExec = null;
      // at an upgrade the connect stays pending: the successor resumes it
      if (!this.handingOver) this.settle(e.name);
    };
    if (profile.preConnectExec && !(await this.#preExec(e, profile, abort))) {
      clear();
      return;
    }
    const tunnels = this.#o.backends.tunnels;
    const tunnel = tunnels.create(this.#request(e));
    try {
      await tunnels.clearManagement(e.name);
      if (abort.signal.aborted || this.stopped || e.preExec !== abort) {
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
    this.watch(e, tunnel);
    // settled once openvpn connects or the attempt ends (its pid file covers a restart then)
    tunnel.connected.then(() => this.settle(e.name), () => this.settle(e.name));
  }

  /** The pre-connect-exec phase; false when the connect must not go on. */
  async #preExec(e: ConnectionEntry, profile: Profile, abort: AbortController): Promise<boolean> {
    const { config, backends, log } = this.#o;
    const result = await backends.preExec.run(profile.preConnectExec, {
      timeoutMs: config.pre_exec_timeout,
      user: this.#preExecUser(),
      logFile: backends.tunnels.logPath(e.name),
      signal: abort.signal,
    });
    e.preExecStatus = result.status;
    e.preExecRan = true;
    if (!this.handingOver) await savePreExecStatus(this.#o.saved, e.name, result.status, log);
    if (abort.signal.aborted || this.stopped) {
      e.lastError = "connect cancelled during pre-connect-exec";
      return false;
    }
    if (result.status !== 0) {
      e.lastError = `pre-connect-exec "${profile.preConnectExec}" ${result.message}`;
      log.warn("pre-connect-exec failed; connect cancelled", {
        name: e.name,
        status: result.status,
        message: result.message,
      });
      return false;
    }
    return true;
  }

  #request(e: ConnectionEntry) {
    return {
      name: e.name,
      profile: e.profilePath,
      scriptSecurity: this.scriptSecurity ? 2 : 1,
      onChange: () => this.#o.onChange?.(),
    };
  }

  /** Follows `tunnel` as the tunnel of `e` until it ends. */
  watch(e: ConnectionEntry, tunnel: CryptodedTunnel): void {
    e.tunnel = tunnel;
    tunnel.ended.then((end) => {
      if (e.tunnel !== tunnel) return;
      if (end.detached) return;
      e.last = tunnel.snapshot();
      e.totalIn += end.bytesIn;
      e.totalOut += end.bytesOut;
      e.lastError = end.error;
      e.tunnel = null;
      this.#registry.dropOrphan(e);
    });
  }

  /** Re-adopts the openvpn a previous run left for `name` (or cleans up after it). */
  async adopt(name: string): Promise<void> {
    const { tunnels } = this.#o.backends;
    const log = this.#o.log;
    const pid = await tunnels.readPid(name);
    if (pid === null) return;
    const e = this.#registry.entry(name, this.#registry.get(name)?.profile ?? null);
    const tunnel = await tunnels.adopt(this.#request(e), pid).catch(() => null);
    if (tunnel) {
      log.info("re-adopted running openvpn", { name, pid, status: tunnel.status });
      this.watch(e, tunnel);
      return;
    }
    if (await tunnels.isRunning(name, pid)) {
      // alive but its management socket is taken or broken: leave it for the next start
      log.warn("openvpn is running but its management socket did not answer", { name, pid });
    } else {
      log.info("stale pid file; openvpn is gone", { name, pid });
      await tunnels.forgetPid(name);
    }
    if (!e.profile) this.#registry.delete(name);
  }

  /** Cancels the pre-connect phase, or delivers the stop to openvpn. */
  async stop(e: ConnectionEntry): Promise<void> {
    this.settle(e.name);
    if (e.preExec) {
      e.preExec.abort(new Error("disconnect requested"));
      e.preExec = null;
      e.lastError = "connect cancelled by DISCONNECT";
      return;
    }
    await e.tunnel?.beginStop();
  }

  /**
   * Lets go of every tunnel (they keep running) and cancels pre-connect commands; with
   * `handOver` (an upgrade) the connects they belonged to stay pending for the successor.
   */
  detachAll(handOver = false): void {
    this.stopped = true;
    this.handingOver = handOver;
    for (const e of this.#registry.entries()) {
      e.preExec?.abort(new Error("service stopping"));
      e.tunnel?.detach();
    }
  }
}
