/**
 * zod schemas for every Quix WSI message, both directions, the static sets of request names, and
 * the requests of the local status socket (`polyagent ctl quix …`).
 */
import { z } from "zod";

/** A request id: the prototype uses 5-digit numbers; strings are accepted too. */
export const ridSchema = z.union([z.number().int().safe(), z.string().min(1).max(128)]);
/** A request id. */
export type Rid = z.infer<typeof ridSchema>;

/** The requests the server sends (the keys of the handler table). */
export const SERVER_REQUESTS = ["execute", "view_running", "proc_signal", "telemetry"] as const;
/** A request the server sends. */
export type QuixServerRequest = (typeof SERVER_REQUESTS)[number];

/** The requests the agent sends (answered by the server's replies). */
export const AGENT_REQUESTS = ["authenticate", "get_vpn_conf"] as const;
/** A request the agent sends. */
export type QuixAgentRequest = (typeof AGENT_REQUESTS)[number];

/** Any frame: requests carry `req`, replies only `rid` and `msg`. */
export const frameSchema = z.object({
  rid: ridSchema.optional(),
  req: z.string().min(1).max(64).optional(),
  auth: z.string().max(4096).nullable().optional(),
  msg: z.unknown().optional(),
});
/** A parsed frame. */
export type Frame = z.infer<typeof frameSchema>;

/** A reply frame (the agent's answer to a server request). */
export interface QuixReply {
  rid: Rid | null;
  msg: unknown;
}

const argString = z.string().max(8192).refine((s) => !s.includes("\0"), "contains NUL");

/** `execute`. */
export const executeSchema = z.object({
  cmd: z.array(argString).min(1).max(512).refine((a) => a[0] !== "", "empty program"),
});

/** `view_running`. */
export const viewRunningSchema = z.object({ verb: z.number().int().optional() }).loose();

/** `proc_signal`. */
export const procSignalSchema = z.object({
  pid: z.number().int().positive().max(2 ** 22),
  mode: z.enum(["SIGTERM", "SIGKILL", "SIGHUP"]),
});

/** The telemetry stat types. */
export const STAT_TYPES = ["ttl_cpu_usage", "ttl_mem_usage", "disk_util", "vpn_status"] as const;

/** `telemetry`. */
export const telemetrySchema = z.object({
  stat_types: z.array(z.enum(STAT_TYPES)).max(16),
});

/** The server's answer to `authenticate`. */
export const authReplySchema = z.object({
  success: z.boolean(),
  token: z.string().min(1).max(4096).optional(),
  validity: z.number().nonnegative().optional(),
  reason: z.string().max(256).optional(),
});
/** A parsed auth answer. */
export type AuthReply = z.infer<typeof authReplySchema>;

/** The server's answer to `get_vpn_conf`. */
export const vpnConfReplySchema = z.object({
  result: z.string(),
  conf_type: z.string().optional(),
  conf_data: z.string().max(1 << 20).optional(),
  reason: z.string().optional(),
});

/** One `view_running` entry. */
export interface RunningEntry {
  title: string;
  pid: number;
  cpu_util: number;
  mem_util: number;
  reqc: string;
  port_util: number[];
}

/**
 * The `vpn_status` telemetry object: the document's five fields, plus `state` ("down": no tunnel
 * is up; the interface is then quix.vpn_interface and the addresses are empty).
 */
export interface QuixVpnStatus {
  ifname: string;
  conn_type: "wireguard" | "openvpn";
  conn_host: string;
  conn_ip4: string;
  conn_ip6: string;
  state: "up" | "down";
}

/** The status socket commands. */
export const STATUS_SOCKET_COMMANDS = ["status", "vpn_refresh"] as const;

/** One request on the status socket (one JSON line). */
export const statusSocketRequestSchema = z.object({ cmd: z.enum(STATUS_SOCKET_COMMANDS) });
