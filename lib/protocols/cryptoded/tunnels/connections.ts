/**
 * The connections of one cryptoded: one per profile, each with its tunnel (when openvpn runs), its
 * pre-connect phase and counters. Answers the daemon's questions (connect, disconnect, reconnect,
 * status, reload, edit, remove, script security) and throws neutral errors; the handlers only
 * translate.
 */
import { BusyError, ConflictError, NotFoundError, UnavailableError } from "../../../core/mod.ts";
import type { OpenVpnTunnelStatus } from "../../../backends/openvpn/mod.ts";
import { ConnectionLauncher, type ConnectionsOptions } from "./launcher.ts";
import { ConnectionRegistry, refusedError } from "./registry.ts";
import { restoreConnections } from "./restore.ts";
import { setPending } from "./saved_state.ts";
import type { EditOption } from "../schemas.ts";
import { type ConnectionEntry, type ConnectionView, describeEntry, entryStatus } from "./status.ts";

/** `all` or one connection name. */
export type ConnectionTarget = { all: true } | { all: false; name: string };

/** A connect or disconnect already under way (CONN_IN_PROGRESS). */
function inProgress(message: string): BusyError {
  return new BusyError(message);
}

/** The connections of one service instance. */
export class CryptodedConnections {
  readonly #o: ConnectionsOptions;
  readonly #registry: ConnectionRegistry;
  readonly #launcher: ConnectionLauncher;

  constructor(options: ConnectionsOptions) {
    this.#o = options;
    this.#registry = new ConnectionRegistry(options.backends.profiles, options.saved, options.log);
    this.#launcher = new ConnectionLauncher(options, this.#registry);
  }

  /** Whether openvpn starts with `--script-security 2`. */
  get scriptSecurity(): boolean {
    return this.#launcher.scriptSecurity;
  }

  /** Connection names in order. */
  names(): string[] {
    return this.#registry.names();
  }

  /** Connections by daemon status. */
  counts(): Record<OpenVpnTunnelStatus, number> {
    return this.#registry.counts();
  }

  /** Reads the profiles and re-adopts every openvpn a previous run left running. */
  load(): Promise<void> {
    return restoreConnections({
      registry: this.#registry,
      launcher: this.#launcher,
      tunnels: this.#o.backends.tunnels,
      saved: this.#o.saved,
      log: this.#o.log,
      connect: (name) => this.connect(name),
    });
  }

  /**
   * Re-reads the profile directory, stops the tunnels whose profile was removed (the real clients
   * remove a profile by deleting its file and sending SIGUSR1), then auto-connects. Other live
   * tunnels are not touched.
   */
  async reload(): Promise<{ added: string[]; removed: string[]; refused: string[] }> {
    this.#launcher.forgetUid();
    const result = await this.#registry.scan();
    for (const name of result.removed) {
      const e = this.#registry.get(name);
      if (!e || entryStatus(e) === "DISCONNECTED" || entryStatus(e) === "DISCONNECTING") continue;
      this.#o.log.info("profile removed; stopping its tunnel", { name });
      await this.#launcher.stop(e).catch((error) =>
        this.#o.log.warn("stopping a removed profile's tunnel failed", { name, error })
      );
    }
    this.autoConnect();
    return { ...result, refused: this.#registry.refusedNames() };
  }

  /** Connects every auto-connect profile that is disconnected. */
  autoConnect(): void {
    for (const e of this.#registry.entries()) {
      if (!e.profile?.autoConnect || entryStatus(e) !== "DISCONNECTED") continue;
      this.connect(e.name).catch((error) =>
        this.#o.log.warn("auto-connect failed", { name: e.name, error })
      );
    }
  }

  /** Views of `all` (none when there are no profiles) or one name. */
  status(target: ConnectionTarget): ConnectionView[] {
    if (!target.all) return [this.#view(this.#registry.require(target.name))];
    return this.names().map((n) => this.#view(this.#registry.get(n)!));
  }

  #view(e: ConnectionEntry): ConnectionView {
    return describeEntry(e, this.#launcher.preExecUid());
  }

  /** Why openvpn cannot be started here, or null. */
  launchProblem(): Promise<string | null> {
    return this.#launcher.launchProblem();
  }

  /** CONNECT one name: checks, then starts in the background; returns at CONNECTING. */
  async connect(name: string): Promise<ConnectionView> {
    const e = this.#registry.require(name);
    const profile = await this.#checkConnect(e);
    e.lastError = null;
    e.preExec = new AbortController();
    const abort = e.preExec;
    try {
      // durable before it is acknowledged: a restart resumes it
      await setPending(this.#o.saved, name, true);
    } catch (error) {
      e.preExec = null;
      throw error;
    }
    if (e.preExec !== abort) {
      this.#launcher.settle(name);
      throw inProgress(`${name} was disconnected meanwhile`);
    }
    this.#launcher.run(e, profile, abort).catch((error) => {
      // never let one connect attempt take the agent down
      if (e.preExec === abort) e.preExec = null;
      e.lastError = `connect failed: ${(error as Error).message}`;
      this.#o.log.error("connect failed", { name, error });
    });
    return this.#view(e);
  }

  /** The checks before a connect; returns the profile to start. */
  async #checkConnect(e: ConnectionEntry) {
    const name = e.name;
    const status = entryStatus(e);
    if (status === "CONNECTED") {
      throw new ConflictError(`${name} is already connected`, { reason: "already-connected" });
    }
    if (status !== "DISCONNECTED") throw inProgress(`${name} is ${status}`);
    if (!e.profile) throw new NotFoundError(`the profile of ${name} was removed`);
    const problem = await this.#launcher.launchProblem();
    if (problem) {
      e.lastError = problem;
      throw new UnavailableError(problem, { reason: "openvpn" });
    }
    // the file may have changed since the scan
    const p = await this.#o.backends.profiles.fileProblem(e.profile.path);
    if (p === "gone") throw new NotFoundError(`profile file of ${name} is gone`);
    if (p) {
      this.#o.log.warn("refusing profile", { name, file: e.profile.path, reason: p });
      throw refusedError(name, e.profile.path, p);
    }
    if (entryStatus(e) !== "DISCONNECTED") throw inProgress(`${name} is ${entryStatus(e)}`);
    return e.profile;
  }

  /** CONNECT all: every disconnected connection. */
  async connectAll(): Promise<ConnectionView[]> {
    if (this.#registry.size === 0) return [];
    const problem = await this.#launcher.launchProblem();
    if (problem) throw new UnavailableError(problem, { reason: "openvpn" });
    for (const e of this.#registry.entries()) {
      if (entryStatus(e) !== "DISCONNECTED" || !e.profile) continue;
      await this.connect(e.name).catch((error) =>
        this.#o.log.warn("connect failed", { name: e.name, error })
      );
    }
    return this.status({ all: true });
  }

  /** DISCONNECT one name: stops it and returns once openvpn has exited (DISCONNECTED). */
  async disconnect(name: string): Promise<ConnectionView> {
    const e = this.#registry.require(name);
    const status = entryStatus(e);
    if (status === "DISCONNECTED") {
      throw new ConflictError(`${name} is already disconnected`, {
        reason: "already-disconnected",
      });
    }
    if (status === "DISCONNECTING") throw inProgress(`${name} is already disconnecting`);
    await this.#stopAndWait(e);
    return this.#view(e);
  }

  /** DISCONNECT all: stops every live connection and waits for them. */
  async disconnectAll(): Promise<ConnectionView[]> {
    const errors: unknown[] = [];
    await Promise.all([...this.#registry.entries()].map(async (e) => {
      const s = entryStatus(e);
      if (s === "DISCONNECTED" || s === "DISCONNECTING") return;
      await this.#stopAndWait(e).catch((error) => errors.push(error));
    }));
    if (errors.length > 0) throw errors[0];
    return this.status({ all: true });
  }

  /** Stops `e` (pre-connect phase or tunnel) and waits until openvpn has exited. */
  async #stopAndWait(e: ConnectionEntry): Promise<void> {
    const tunnel = e.tunnel;
    await this.#launcher.stop(e);
    if (tunnel) await tunnel.ended;
  }

  /** RECONNECT one name (v1.x): stops it when live, then connects; returns at CONNECTING. */
  async reconnect(name: string): Promise<ConnectionView> {
    const e = this.#registry.require(name);
    if (e.tunnel && entryStatus(e) === "DISCONNECTING") await e.tunnel.ended;
    else if (entryStatus(e) !== "DISCONNECTED") await this.#stopAndWait(e);
    return await this.connect(name);
  }

  /** RECONNECT all: every connection whose profile is there. */
  async reconnectAll(): Promise<ConnectionView[]> {
    await Promise.all(
      [...this.#registry.entries()].filter((e) => e.profile).map((e) =>
        this.reconnect(e.name).catch((error) =>
          this.#o.log.warn("reconnect failed", { name: e.name, error })
        )
      ),
    );
    return this.status({ all: true });
  }

  /** EDIT (v1.x): writes `<name>.noc` with one setting changed, then re-reads the profiles. */
  async edit(name: string, option: EditOption, value: string): Promise<ConnectionView> {
    const e = this.#registry.require(name);
    const status = entryStatus(e);
    if (status !== "DISCONNECTED") throw inProgress(`${name} is ${status}; disconnect it first`);
    if (!e.profile) throw new NotFoundError(`the profile of ${name} was removed`);
    const { autoConnect, preConnectExec, preExecInterval } = e.profile;
    const settings = { autoConnect, preConnectExec, preExecInterval };
    if (option === "auto-connect") settings.autoConnect = value === "enable";
    else settings.preConnectExec = value;
    const file = await this.#o.backends.profiles.writeSettings(name, settings);
    this.#o.log.info("profile settings edited", { name, option, value, file });
    await this.#registry.scan();
    return this.#view(this.#registry.require(name));
  }

  /** Waits until a connection is fully stopped. */
  async waitStopped(name: string): Promise<void> {
    const e = this.#registry.get(name);
    if (e?.tunnel) await e.tunnel.ended;
  }

  /** REMOVE: CONN_IN_PROGRESS unless disconnected or forced (forced disconnects first). */
  async remove(name: string, force: boolean): Promise<string[]> {
    const e = this.#registry.require(name);
    const status = entryStatus(e);
    if (status !== "DISCONNECTED") {
      if (!force) {
        throw inProgress(`${name} is ${status}; disconnect it first or remove with force`);
      }
      await this.#stopAndWait(e);
    }
    const removed = await this.#o.backends.profiles.remove(name);
    this.#registry.delete(name);
    return removed;
  }

  /** SCRIPT_SECURITY: applies to every openvpn started from now on. */
  async setScriptSecurity(enabled: boolean): Promise<void> {
    await this.#o.saved.write({ ...this.#o.saved.value, scriptSecurity: enabled });
    this.#launcher.scriptSecurity = enabled;
  }

  /**
   * Lets go of every tunnel (they keep running) and cancels pre-connect commands; with
   * `handOver` (an upgrade) the connects they belonged to are resumed by the successor.
   */
  detachAll(handOver = false): void {
    this.#launcher.detachAll(handOver);
  }
}
