/**
 * One connection as the domain holds it ({@linkcode ConnectionEntry}: its profile, its tunnel or
 * pre-connect phase, its counters) and as STATUS sees it ({@linkcode ConnectionView}, which each
 * dialect renders in its own shape).
 */
import type {
  OpenVpnTunnelStatus,
  Profile,
  ProfileEndpoint,
  TunnelSnapshot,
} from "../../../backends/openvpn/mod.ts";
import type { CryptodedTunnel } from "../backends.ts";

/** One connection: a profile, and its tunnel while openvpn runs. */
export interface ConnectionEntry {
  name: string;
  /** null when the profile left the directory while its tunnel still runs. */
  profile: Profile | null;
  profilePath: string;
  tunnel: CryptodedTunnel | null;
  /** Set while the pre-connect command runs (status CONNECTING). */
  preExec: AbortController | null;
  preExecStatus: number;
  /** Whether the pre-connect command has run (now or in an earlier run of the agent). */
  preExecRan: boolean;
  totalIn: number;
  totalOut: number;
  lastError: string | null;
  /** Last snapshot of the tunnel that ended. */
  last: TunnelSnapshot | null;
}

/** Everything STATUS can tell about one connection, before a dialect shapes it. */
export interface ConnectionView {
  name: string;
  /** Path of the .ovpn file. */
  profile: string;
  status: OpenVpnTunnelStatus;
  /** openvpn's own state name, "DISCONNECTED" until it reports one. */
  ovpnStatus: string;
  /** Now, unix seconds. */
  timestamp: number;
  /** Bytes since the agent knew the connection (ended tunnels plus the current one). */
  totalIn: number;
  totalOut: number;
  /** Bytes of the current tunnel (of the last one once it ended, until the next connect). */
  currentIn: number;
  currentOut: number;
  /** Unix seconds of CONNECTED, while connected. */
  connectedTime: number | null;
  /** The tunnel's local address, "" without one. */
  tunIp: string;
  autoConnect: boolean;
  preExecCmd: string;
  preExecStatus: number;
  preExecRan: boolean;
  preExecInterval: number;
  /** uid the pre-connect command runs as. */
  preExecUid: number;
  /** `<name>.noc` exists. */
  hasNoc: boolean;
  endpoint: ProfileEndpoint;
  /** Why the last attempt failed or ended, or null. */
  lastError: string | null;
}

/** The daemon-level status of an entry. */
export function entryStatus(e: ConnectionEntry): OpenVpnTunnelStatus {
  if (e.tunnel) return e.tunnel.status;
  if (e.preExec) return "CONNECTING";
  return "DISCONNECTED";
}

const NO_ENDPOINT: ProfileEndpoint = { address: "", port: 1194, protocol: "udp", ipVersion: 4 };

/** The view of an entry; `preExecUid` is who pre-connect commands run as. */
export function describeEntry(e: ConnectionEntry, preExecUid: number): ConnectionView {
  const snap = e.tunnel?.snapshot() ?? null;
  const status = entryStatus(e);
  const curIn = snap?.bytesIn ?? 0;
  const curOut = snap?.bytesOut ?? 0;
  const shown = snap ?? (e.preExec ? null : e.last);
  const err = snap?.lastError ?? e.lastError;
  return {
    name: e.name,
    profile: e.profilePath,
    status,
    ovpnStatus: snap?.ovpnStatus || "DISCONNECTED",
    timestamp: Math.floor(Date.now() / 1000),
    totalIn: e.totalIn + curIn,
    totalOut: e.totalOut + curOut,
    currentIn: shown?.bytesIn ?? 0,
    currentOut: shown?.bytesOut ?? 0,
    connectedTime: status === "CONNECTED" ? snap?.connectedTime ?? null : null,
    tunIp: snap?.localIp ?? "",
    autoConnect: e.profile?.autoConnect ?? false,
    preExecCmd: e.profile?.preConnectExec ?? "",
    preExecStatus: e.preExecStatus,
    preExecRan: e.preExecRan,
    preExecInterval: e.profile?.preExecInterval ?? 0,
    preExecUid,
    hasNoc: e.profile?.hasNoc ?? false,
    endpoint: e.profile?.endpoint ?? NO_ENDPOINT,
    lastError: err && status !== "CONNECTED" ? err : null,
  };
}
