/** The `[quix]` config section. */
import { z } from "zod";
import {
  flag,
  limitsSchema,
  millis,
  pathString,
  section,
  stringList,
  text,
  wholeNumber,
} from "../../core/mod.ts";

/** The `[quix]` section; every key has a default, and the service stays off until a URL is set. */
export function quixConfigSchema() {
  return section({
    enabled: flag().default(false),
    /** Control server, `wss://…` (or `ws://…` only with `allow_insecure`). */
    server_url: text().default(""),
    /** Allow a plain ws:// URL. */
    allow_insecure: flag().default(false),
    /** Extra CA certificate (PEM file) trusted for wss://. */
    ca_file: text().default(""),
    username: text().default(""),
    password: text().default(""),
    /** File holding the password (first line); wins over `password`. */
    password_file: text().default(""),
    /** First reconnect delay; doubles per failure, with jitter. */
    backoff_base_ms: millis(10, 600_000).default(1000),
    backoff_max_ms: millis(100, 3_600_000).default(60_000),
    /** First delay after the server dropped us because our token connected elsewhere. */
    superseded_backoff_ms: millis(10, 3_600_000).default(30_000),
    /** A link up this long resets the backoff. */
    stable_after_ms: millis(0, 3_600_000).default(30_000),
    connect_timeout_ms: millis(100, 300_000).default(10_000),
    /** Timeout of our own requests (authenticate, get_vpn_conf). */
    request_timeout_ms: millis(100, 300_000).default(15_000),
    /** After this much silence the agent probes the link (token re-authentication); 0 = never. */
    heartbeat_ms: millis(0, 3_600_000).default(30_000),
    /** After this much silence the link is considered half-open and redialled. */
    idle_timeout_ms: millis(0, 3_600_000).default(75_000),
    max_frame_bytes: wholeNumber(1024, 16 << 20).default(1 << 20),
    /** Working folder of started processes (created; owned by `run_as` when root). */
    work_dir: pathString().default("/var/lib/polyagent/quix/work"),
    /** Account (`user[:group]`, `uid:gid`) processes run as when root; "" = agent.user, else the
     * `polyagent` account, else `nobody`; root only as `"root"`, warned at start. */
    run_as: text().default(""),
    /** argv[0] values allowed for `execute` (names or absolute paths); empty = any. */
    allowed_commands: stringList().default([]),
    /** Environment variables copied from the agent to started processes (plus PATH). */
    env_allow: stringList().default(["PATH", "LANG", "LC_ALL", "TZ"]),
    /** PATH for started processes when the agent has none to copy. */
    default_path: text().default("/usr/local/bin:/usr/bin:/bin"),
    /** Titles for `view_running`, by argv[0] (name or path). */
    titles: z.record(z.string(), z.string()).default({}),
    /** Per-process log files: folder ("" = `<agent.log_dir>/quix`), size limit and generations. */
    proc_log_dir: text().default(""),
    proc_log_max_bytes: wholeNumber(4096, 1 << 30).default(10 << 20),
    proc_log_keep: wholeNumber(1, 100).default(3),
    /** How often adopted processes are checked for exit and log files for size. */
    check_ms: millis(100, 600_000).default(2000),
    /** Ask for and apply the WireGuard config after authenticating. */
    vpn: flag().default(true),
    vpn_interface: text().default("quixwg0"),
    /** Folder of `<vpn_interface>.conf` ("" = `<agent.state_dir>/quix-wireguard`). */
    vpn_dir: text().default(""),
    /** Network namespace wg-quick runs in ("" = the agent's own). */
    vpn_netns: text().default(""),
    vpn_allow_dns: flag().default(false),
    /** Longest `wg-quick up`/`down` may take; then it is killed with its children. */
    vpn_timeout_ms: millis(100, 600_000).default(30_000),
    /** ctl socket ("" = `<agent.run_dir>/quix.sock`). */
    ctl_socket: text().default(""),
    limits: limitsSchema(), // `[quix.limits]`: the ctl socket's (README "Limits against abuse")
  });
}

/** The parsed `[quix]` section. */
export type QuixConfig = z.infer<ReturnType<typeof quixConfigSchema>>;
