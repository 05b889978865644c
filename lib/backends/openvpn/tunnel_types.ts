/** The types a `Tunnel` is described by: its status, snapshot, end, options and errors. */
import { type CommandRunner, FailedError, type Logger } from "../../core/mod.ts";
import type { LaunchSpec } from "./process.ts";

/** The daemon-level state of a connection (the document's `status`). */
export type OpenVpnTunnelStatus =
  | "DISCONNECTED"
  | "CONNECTING"
  | "CONNECTED"
  | "RECONNECTING"
  | "DISCONNECTING";

/** What STATUS reports about a tunnel. */
export interface TunnelSnapshot {
  status: OpenVpnTunnelStatus;
  /** openvpn's own state name (`>STATE:`), or "DISCONNECTED". */
  ovpnStatus: string;
  /** Unix seconds when openvpn reported CONNECTED, or null. */
  connectedTime: number | null;
  bytesIn: number;
  bytesOut: number;
  pid: number | null;
  localIp: string;
  remoteIp: string;
  /** Why the last attempt failed or ended, or null. */
  lastError: string | null;
}

/** How a tunnel ended. */
export interface TunnelEnd {
  /** True when the agent only let go of it (openvpn still runs). */
  detached: boolean;
  bytesIn: number;
  bytesOut: number;
  error: string | null;
}

/** A stop could not be delivered to openvpn: failed, reason "send-signal". */
export class SendSignalError extends FailedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { reason: "send-signal", ...(options ?? {}) });
    this.name = "SendSignalError";
  }
}

/** Options for a `Tunnel`. */
export interface TunnelOptions {
  name: string;
  spec: LaunchSpec;
  /** @default {30000} */
  connectTimeoutMs: number;
  /** Time between `signal SIGTERM` and SIGKILL. @default {5000} */
  stopTimeoutMs: number;
  /** `bytecount` interval in seconds. */
  bytecountInterval: number;
  log: Logger;
  /** Runs the helper commands (reading /proc) the tunnel needs. */
  runner: CommandRunner;
  /** Called after every status change. */
  onChange?: (snapshot: TunnelSnapshot) => void;
  /** Test hook: how signals are sent. */
  signal?: (pid: number, signal: Deno.Signal) => boolean;
}
