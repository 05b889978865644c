/**
 * {@linkcode CryptodedBackends}: everything cryptoded needs from the system, in one interface.
 * definition.ts builds it from lib/backends (openvpn, resolver, peercred); the domain
 * (tunnels/), the DNS override, the handlers and the server see the system only through it, so a
 * test can pass a fake.
 */
import type { CommandRunner, Logger } from "../../core/mod.ts";
import type {
  ImportedProfile,
  OpenVpnTunnelRequest,
  OpenVpnTunnelStatus,
  PreExecResult,
  ProfileScan,
  ProfileSettings,
  TunnelEnd,
  TunnelSnapshot,
} from "../../backends/openvpn/mod.ts";
import type { DnsBackup, DnsMethod } from "../../backends/resolver/mod.ts";
import type { ConnectionIdentity, PeerCredentials } from "../../backends/peercred/mod.ts";
import type { CryptodedConfig } from "./config.ts";

/** The profile directory (`profile_dir`). */
export interface CryptodedProfileStore {
  /** The directory (absolute). */
  readonly dir: string;
  /** Creates the directory when it is missing. */
  ensureDir(): Promise<void>;
  /** Why the directory cannot hold profiles, or null. */
  dirProblem(): Promise<string | null>;
  /** Reads every profile, usable or refused. */
  scan(): Promise<ProfileScan>;
  /** Why the profile file at `path` may not be used now, or "gone". */
  fileProblem(path: string): Promise<string | null>;
  /** Whether `<name>.ovpn` exists. */
  exists(name: string): Promise<boolean>;
  /** Writes `<name>.ovpn` (0600, atomic); returns its path. */
  write(name: string, content: string): Promise<string>;
  /** Writes `<name>.noc` (0600, atomic), as EDIT does; returns its path. */
  writeSettings(name: string, settings: ProfileSettings): Promise<string>;
  /** Removes `<name>.ovpn`, `.json` and `.noc`; returns the paths removed. */
  remove(name: string): Promise<string[]>;
  /** Reads an IMPORT source (a .ovpn file or a .tblk bundle) of at most `limit` bytes each. */
  readSource(source: { kind: "ovpn" | "tblk"; path: string }, limit: number): Promise<
    ImportedProfile[]
  >;
}

/** One openvpn tunnel, as the domain drives it. */
export interface CryptodedTunnel {
  readonly status: OpenVpnTunnelStatus;
  readonly ended: Promise<TunnelEnd>;
  readonly connected: Promise<void>;
  snapshot(): TunnelSnapshot;
  /** Starts openvpn; throws when it cannot be spawned. */
  launch(): number;
  /** Delivers the stop; throws a "send-signal" failure when nothing could be delivered. */
  beginStop(): Promise<void>;
  /** Lets go without stopping openvpn (it is re-adopted on the next start). */
  detach(): void;
}

/** Starting, finding and re-adopting openvpn processes. */
export interface CryptodedTunnelLauncher {
  /** Creates the run and log directories. */
  prepare(): Promise<void>;
  /** The openvpn log of a connection (pre-connect-exec output is appended to it). */
  logPath(name: string): string;
  /** Why openvpn cannot be used, or null. */
  binaryProblem(): Promise<string | null>;
  /** Names a previous run left a pid file for. */
  pidNames(): Promise<string[]>;
  readPid(name: string): Promise<number | null>;
  /** Whether `pid` is still the openvpn of `name`. */
  isRunning(name: string, pid: number): Promise<boolean>;
  /** Removes a stale pid file. */
  forgetPid(name: string): Promise<void>;
  /** Removes a leftover management socket before a launch. */
  clearManagement(name: string): Promise<void>;
  /** A tunnel ready to launch. */
  create(request: OpenVpnTunnelRequest): CryptodedTunnel;
  /** The running openvpn `pid` re-adopted, or null when it is not ours. */
  adopt(request: OpenVpnTunnelRequest, pid: number): Promise<CryptodedTunnel | null>;
}

/** Running a profile's `pre-connect-exec` command. */
export interface CryptodedPreExecRunner {
  /** uid/gid of a user, or null when there is none. */
  lookupUser(name: string): { uid: number; gid: number } | null;
  /** Runs the command, its output appended to `logFile`; never throws. */
  run(command: string, options: {
    timeoutMs: number;
    user: { uid: number; gid: number } | null;
    logFile: string;
    signal?: AbortSignal;
  }): Promise<PreExecResult>;
}

/** The resolver DNS_OVERRIDE drives. */
export interface CryptodedDnsResolver {
  detect(): Exclude<DnsMethod, "auto">;
  backup(method: Exclude<DnsMethod, "auto">): Promise<DnsBackup>;
  apply(servers: readonly string[], backup: DnsBackup): Promise<void>;
  restore(backup: DnsBackup): Promise<void>;
  current(): Promise<string[]>;
}

/** Who is on the other end of the accepted connections of one listener. */
export interface CryptodedPeerIdentifier {
  /** Identifies the connection just accepted (call before the next accept). */
  identify(): Promise<ConnectionIdentity | null>;
  /** The peer processes and their effective uids. */
  credentials(identity: ConnectionIdentity): Promise<PeerCredentials | null>;
}

/** The daemon's pid files (what the real clients send SIGUSR1 to). */
export interface CryptodedPidFiles {
  /** Writes the agent's pid to `path`, creating its directory. */
  write(path: string): Promise<void>;
  /** Removes `path` when it still holds the agent's pid. */
  remove(path: string): Promise<void>;
}

/** Everything cryptoded needs from the system. */
export interface CryptodedBackends {
  /** The agent's own uid (0: root). */
  readonly ownUid: number;
  readonly profiles: CryptodedProfileStore;
  readonly tunnels: CryptodedTunnelLauncher;
  readonly preExec: CryptodedPreExecRunner;
  readonly dns: CryptodedDnsResolver;
  readonly pidFiles: CryptodedPidFiles;
  /** A peer identifier for a listener reachable under any of `socketPaths`. */
  peers(socketPaths: readonly string[]): CryptodedPeerIdentifier;
  /** gid of a group name (or numeric id), or null. */
  lookupGroup(name: string): number | null;
}

/** What the backends are built from when the service starts. */
export interface CryptodedBackendSetup {
  /** The section, `profile_dir` already absolute. */
  config: CryptodedConfig;
  /** Directory for pid files and management sockets. */
  runDir: string;
  /** Directory for openvpn logs. */
  logDir: string;
  runner: CommandRunner;
  log: Logger;
}

/** Builds the backends at start (definition.ts supplies it). */
export type CryptodedBackendFactory = (setup: CryptodedBackendSetup) => CryptodedBackends;
