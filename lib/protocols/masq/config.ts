/** The `[masq]` config section and the Daemon's state document. */
import { z } from "zod";
import {
  flag,
  type LimitsConfig,
  limitsSchema,
  millis,
  pathString,
  section,
  stringList,
  wholeNumber,
} from "../../core/mod.ts";
import { DEFAULT_UI_PORT } from "./codes.ts";

/** The UI port's limits unless configured: loopback clients only, so no per-address cap. */
export const MASQ_LIMITS: Partial<LimitsConfig> = { max_connections: 256, max_per_peer: 0 };

/** The `[masq]` section. */
export function masqConfigSchema() {
  return section({
    enabled: flag().default(false),
    /** The Daemon's UI port on 127.0.0.1 (0 picks a free one). */
    ui_port: wholeNumber(0, 65535).default(DEFAULT_UI_PORT),
    /** Browser `Origin`s allowed to connect; a request without `Origin` is always allowed. */
    allowed_origins: stringList().default([]),
    /** argv of a real MASQNode to launch instead of the built-in node ([] = this executable). */
    node_command: stringList().default([]),
    /** Root of the Node's per-chain data directories (the data-directory default). */
    data_root: pathString().default("/var/lib/polyagent/masq"),
    /** How long a launched Node has to come up before it is killed. */
    launch_timeout_ms: millis(100, 120_000).default(10_000),
    /** Largest accepted text frame; a larger one disconnects that client. */
    max_message_bytes: wholeNumber(1024, 64 << 20).default(1 << 20),
    /**
     * `[masq.limits]`: the UI port's connection cap (UI clients are few; past it the longest idle
     * is closed with 1013), request head deadline (408), idle timeout. The Node's UI port uses
     * the same defaults.
     */
    limits: limitsSchema(MASQ_LIMITS),
  });
}

/** The parsed `[masq]` section. */
export type MasqConfig = z.infer<ReturnType<typeof masqConfigSchema>>;

const nodeRecord = z.object({
  pid: z.number().int().positive(),
  port: z.number().int().min(1).max(65535),
  startTime: z.string().nullable(),
});

/** Where a launched Node lives, kept so a restarted agent can re-adopt it. */
export type NodeRecord = z.infer<typeof nodeRecord>;

const daemonDocument = z.object({
  set: z.record(z.string(), z.string()),
  configured: z.record(z.string(), z.string()),
  node: nodeRecord.nullable(),
});

/** The Daemon's durable state: the setup cluster and the running Node. */
export type DaemonDocument = z.infer<typeof daemonDocument>;

/** Options for opening the Daemon's document. */
export const DAEMON_DOCUMENT = {
  version: 1,
  empty: (): DaemonDocument => ({ set: {}, configured: {}, node: null }),
  parse: (data: unknown): DaemonDocument => daemonDocument.parse(data),
};

/** Environment variables the Daemon passes to the built-in node. */
export const NODE_ENV = {
  dataRoot: "POLYAGENT_MASQ_DATA_ROOT",
  allowedOrigins: "POLYAGENT_MASQ_ALLOWED_ORIGINS",
  maxMessageBytes: "POLYAGENT_MASQ_MAX_MESSAGE_BYTES",
  /** The default `real-user` (`uid:gid:home`) when the setup sets none. */
  realUser: "POLYAGENT_MASQ_REAL_USER",
} as const;
