/**
 * STATUS in the document dialect, as rvd 8094ffc answers it: the JSON object
 * ({@linkcode ConnectionStatus}) and the plain-text block of `json: false`.
 */
import type { ConnectionView } from "./tunnels/mod.ts";

/** One connection's status in the document dialect's JSON. */
export interface ConnectionStatus {
  name: string;
  profile: string;
  status: ConnectionView["status"];
  "ovpn-status": string;
  "in-total": number;
  "out-total": number;
  timestamp: number;
  "auto-connect": boolean;
  "pre-exec-cmd": string;
  "pre-exec-status": number;
  /** While CONNECTED (the document also lists the totals here). */
  network?: {
    "connected-time": number;
    "in-current": number;
    "out-current": number;
    "in-total": number;
    "out-total": number;
  };
  /** polyagent's addition, for a request with `"detail": true`: why the last attempt failed. */
  "last-error"?: string;
}

/** The JSON object of one connection (`last-error` added with `detail`). */
export function documentStatus(v: ConnectionView, detail = false): ConnectionStatus {
  const out: ConnectionStatus = {
    name: v.name,
    profile: v.profile,
    status: v.status,
    "ovpn-status": v.ovpnStatus,
    "in-total": v.totalIn,
    "out-total": v.totalOut,
    timestamp: v.timestamp,
    "auto-connect": v.autoConnect,
    "pre-exec-cmd": v.preExecCmd,
    "pre-exec-status": v.preExecStatus,
  };
  if (v.status === "CONNECTED") {
    out.network = {
      "connected-time": v.connectedTime ?? 0,
      "in-current": v.currentIn,
      "out-current": v.currentOut,
      "in-total": v.totalIn,
      "out-total": v.totalOut,
    };
  }
  if (detail && v.lastError) out["last-error"] = v.lastError;
  return out;
}

/**
 * The text lines both daemons print alike: status, openvpn-status, the totals and, while
 * connected, `connected-time` (as `connectedTime` gives it) and the current counters.
 */
export function stateLines(v: ConnectionView, connectedTime: string): string[] {
  const lines = [
    `\tstatus: ${v.status}`,
    `\topenvpn-status: ${v.ovpnStatus}`,
    `\tin-total: ${v.totalIn}`,
    `\tout-total: ${v.totalOut}`,
  ];
  if (v.status !== "CONNECTED") return lines;
  return [
    ...lines,
    `\tconnected-time: ${connectedTime}`,
    `\tin-current: ${v.currentIn}`,
    `\tout-current: ${v.currentOut}`,
  ];
}

/** The text block of one connection (rvd's format, with the real `out-total`). */
export function documentStatusText(v: ConnectionView): string {
  const lines = [
    `name: ${v.name}`,
    `\tprofile: ${v.profile}`,
    ...stateLines(v, String(v.connectedTime ?? 0)),
  ];
  lines.push(
    `\ttimestamp: ${v.timestamp}`,
    `\tauto-connect: ${v.autoConnect ? "Enabled" : "Disabled"}`,
    `\tpre-exec-cmd: ${v.preExecCmd}`,
    `\tpre-exec-status: ${v.preExecStatus === 0 ? "SUCCESSFUL" : "FAILED"} [${v.preExecStatus}]`,
  );
  return lines.join("\n") + "\n";
}
