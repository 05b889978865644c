/** The `[cryptoded]` config section. */
import type { z } from "zod";
import {
  flag,
  limitsSchema,
  millis,
  oneOf,
  pathString,
  section,
  stringList,
  text,
  wholeNumber,
} from "../../core/mod.ts";

/** A path, or "" to turn the thing off. */
function optionalPath() {
  return text().refine((s) => !s.includes("\0"), { message: 'expected a path or "" (off)' });
}

/** Names that become command arguments: no spaces, no slashes, no leading dash. */
const SAFE_NAME = /^(?:[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})?$/;

/** The `[cryptoded]` section; every key has a (production) default. */
export function cryptodedConfigSchema() {
  return section({
    enabled: flag().default(false),
    /**
     * The document dialect's socket (rvd-era numbering; what `rvc` and `polyagent ctl` use), ""
     * = off. The document's own path `/var/run/cryptoded` is the v1.x pid directory's name, so
     * the default is rvd's.
     */
    socket: optionalPath().default("/var/run/rvd"),
    /** Pid file for the document dialect's clients (`rvc reload` signals it), "" = none. */
    pid_file: optionalPath().default("/var/run/rvd.pid"),
    /** The cryptode v1.x dialect's socket (what `cryptode` v1.0–v1.3.1 uses), "" = off. */
    v1_socket: optionalPath().default("/var/run/cryptoded.sock"),
    /** Pid file for the v1.x clients (`cryptode reload`, import, remove signal it), "" = none. */
    v1_pid_file: optionalPath().default("/var/run/cryptoded/cryptoded.pid"),
    /** Group (name or gid) that may use the socket: mode 0660 instead of 0600. */
    socket_group: text().regex(SAFE_NAME, "expected a group name or id").default(""),
    /**
     * Profile directory: `<name>.ovpn` and optional `<name>.json` / `<name>.noc`. The original used
     * /opt/cryptode/etc/vpn.d; this default is inside the agent's write permission set.
     */
    profile_dir: pathString().default("/etc/polyagent/cryptoded/vpn.d"),
    /** The openvpn binary; must not be group/world writable. */
    openvpn: pathString().default("/usr/sbin/openvpn"),
    /** Require the openvpn binary to be owned by root. */
    openvpn_root_check: flag().default(true),
    /** Extra openvpn arguments appended to every launch. */
    openvpn_args: stringList().default([]),
    /** Network namespace openvpn runs in (`ip netns exec`), "" for the host's. */
    netns: text().regex(SAFE_NAME, "expected a namespace name").default(""),
    /** A connect that has not reached CONNECTED after this long is stopped. */
    connect_timeout: millis(100, 3_600_000).default(30_000),
    /** Time between `signal SIGTERM` and SIGKILL when stopping openvpn. */
    stop_timeout: millis(100, 600_000).default(5_000),
    /** pre-connect-exec commands are killed after this long. */
    pre_exec_timeout: millis(100, 3_600_000).default(60_000),
    /** User pre-connect-exec commands run as ("" = `agent.user`, or unchanged when that is ""). */
    pre_exec_user: text().regex(SAFE_NAME, "expected a user name or id").default("nobody"),
    /** `bytecount` interval (seconds) asked of openvpn. */
    bytecount_interval: wholeNumber(1, 3600).default(1),
    /** Start with SCRIPT_SECURITY enabled (`--script-security 2` instead of 1). */
    script_security: flag().default(false),
    /** IMPORT_TOO_LARGE above this many bytes per profile. */
    import_max_bytes: wholeNumber(1, 16 * 1024 * 1024).default(10_240),
    /** Largest request accepted (JSON_INVALID above). */
    max_request_bytes: wholeNumber(512, 16 * 1024 * 1024).default(65_536),
    /** Concurrent client connections per socket (NO_MEMORY above; also caps limits). */
    max_clients: wholeNumber(1, 10_000).default(64),
    /** `[cryptoded.limits]` (README "Limits against abuse"). */
    limits: limitsSchema({ idle_timeout_ms: 30_000 }),
    /** DNS_OVERRIDE mechanism. */
    dns_method: oneOf(["auto", "resolvectl", "resolvconf", "file"]).default("auto"),
    /** resolv.conf managed by the `file` method. */
    resolv_conf: pathString().default("/etc/resolv.conf"),
    /** Interface whose DNS resolvectl overrides. */
    dns_interface: text().regex(SAFE_NAME, "expected an interface name").default(""),
  });
}

/** The parsed `[cryptoded]` section. */
export type CryptodedConfig = z.infer<ReturnType<typeof cryptodedConfigSchema>>;
