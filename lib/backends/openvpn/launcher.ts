/**
 * The openvpn side of a set of named tunnels: where each one keeps its management socket, pid file
 * and log, the pid files a previous run left, whether a pid is still our openvpn, and making
 * {@linkcode Tunnel}s (fresh or re-adopted) with the configured binary, namespace and timeouts.
 */
import { join } from "node:path";
import type { CommandRunner, Logger } from "../../core/mod.ts";
import {
  checkBinary,
  ensureDirs,
  isOurOpenvpn,
  listPidFiles,
  readPidFile,
  removeIfPresent,
} from "./process.ts";
import { Tunnel } from "./tunnel.ts";
import type { TunnelOptions, TunnelSnapshot } from "./tunnel_types.ts";

/** Settings of an {@linkcode OpenVpnLauncher}. */
export interface OpenVpnLauncherOptions {
  /** Directory for pid files and management sockets. */
  runDir: string;
  /** Directory for openvpn logs. */
  logDir: string;
  /** The openvpn binary. */
  openvpn: string;
  /** Require the binary to be owned by root. */
  rootCheck: boolean;
  /** Network namespace, or "" for the host's. */
  netns: string;
  extraArgs: readonly string[];
  connectTimeoutMs: number;
  stopTimeoutMs: number;
  bytecountInterval: number;
  runner: CommandRunner;
  log: Logger;
}

/** One tunnel to make: its name, profile and script-security level. */
export interface OpenVpnTunnelRequest {
  name: string;
  /** Path of the .ovpn file. */
  profile: string;
  /** openvpn's `--script-security` level. */
  scriptSecurity: number;
  /** Called after every status change. */
  onChange?: (snapshot: TunnelSnapshot) => void;
}

function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/** Makes and finds the openvpn processes of one service. */
export class OpenVpnLauncher {
  readonly #o: OpenVpnLauncherOptions;

  constructor(options: OpenVpnLauncherOptions) {
    this.#o = options;
  }

  /** Creates the run and log directories (mode 0700). */
  async prepare(): Promise<void> {
    await ensureDirs(this.#o.runDir, this.#o.logDir);
  }

  /** The management socket of `name` (a hashed name when the plain one is too long). */
  managementPath(name: string): string {
    const plain = join(this.#o.runDir, `${name}.sock`);
    return plain.length <= 100 ? plain : join(this.#o.runDir, `h-${shortHash(name)}.sock`);
  }

  /** The pid file of `name`. */
  pidPath(name: string): string {
    return join(this.#o.runDir, `${name}.pid`);
  }

  /** The openvpn log of `name` (pre-connect-exec output goes there too). */
  logPath(name: string): string {
    return join(this.#o.logDir, `${name}.ovpn.log`);
  }

  /** Why the configured openvpn binary may not be used, or null. */
  binaryProblem(): Promise<string | null> {
    return checkBinary(this.#o.openvpn, this.#o.rootCheck);
  }

  /** Names that have a pid file (openvpn a previous run may have left running). */
  pidNames(): Promise<string[]> {
    return listPidFiles(this.#o.runDir);
  }

  /** The pid in the pid file of `name`, or null. */
  readPid(name: string): Promise<number | null> {
    return readPidFile(this.pidPath(name));
  }

  /** True when `pid` is still the openvpn of `name` (guards pid reuse). */
  isRunning(name: string, pid: number): Promise<boolean> {
    return isOurOpenvpn(pid, this.managementPath(name), this.#o.runner);
  }

  /** Removes the (stale) pid file of `name`. */
  async forgetPid(name: string): Promise<void> {
    await removeIfPresent(this.pidPath(name));
  }

  /** Removes a leftover management socket of `name` before a launch. */
  async clearManagement(name: string): Promise<void> {
    await removeIfPresent(this.managementPath(name));
  }

  /** A tunnel ready to `launch()`. */
  create(request: OpenVpnTunnelRequest): Tunnel {
    return new Tunnel(this.#tunnelOptions(request));
  }

  /** Re-adopts the running openvpn `pid` of `request.name`; null when it is not ours. */
  adopt(request: OpenVpnTunnelRequest, pid: number): Promise<Tunnel | null> {
    return Tunnel.adopt(this.#tunnelOptions(request), pid);
  }

  #tunnelOptions(request: OpenVpnTunnelRequest): TunnelOptions {
    const o = this.#o;
    return {
      name: request.name,
      spec: {
        openvpn: o.openvpn,
        netns: o.netns,
        profile: request.profile,
        management: this.managementPath(request.name),
        pidFile: this.pidPath(request.name),
        logFile: this.logPath(request.name),
        scriptSecurity: request.scriptSecurity,
        extraArgs: o.extraArgs,
      },
      ...(request.onChange ? { onChange: request.onChange } : {}),
      connectTimeoutMs: o.connectTimeoutMs,
      stopTimeoutMs: o.stopTimeoutMs,
      bytecountInterval: o.bytecountInterval,
      runner: o.runner,
      log: o.log,
    };
  }
}
