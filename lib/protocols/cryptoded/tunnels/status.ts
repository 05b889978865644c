/**
 * One connection as the domain holds it ({@linkcode ConnectionEntry}: its profile, its tunnel or
 * pre-connect phase, its counters) and as STATUS shows it ({@linkcode ConnectionStatus}).
 */
import type {
  OpenVpnTunnelStatus,
  Profile,
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

/** The daemon-level status of an entry. */
export function entryStatus(e: ConnectionEntry): OpenVpnTunnelStatus {
  if (e.tunnel) return e.tunnel.status;
  if (e.preExec) return "CONNECTING";
  return "DISCONNECTED";
}

/** The STATUS object of an entry. */
export function describeEntry(e: ConnectionEntry): ConnectionStatus {
  const snap = e.tunnel?.snapshot() ?? null;
  const status = entryStatus(e);
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
