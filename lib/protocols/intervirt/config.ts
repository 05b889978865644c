/** The `[intervirt]` config section. */
import { z } from "zod";
import {
  flag,
  limitsSchema,
  listenAddress,
  oneOf,
  pathString,
  section,
  stringList,
  text,
  wholeNumber,
} from "../../core/mod.ts";

const e = (what: string) => ({ error: () => `expected ${what}` });

/** The `[intervirt]` section; every key has a default. */
export function intervirtConfigSchema() {
  return section({
    enabled: flag().default(false),
    /** WebSocket listener; the document asks for every interface on 55436. */
    listen: listenAddress().default("0.0.0.0:55436"),
    /** WebSocket path. */
    path: text().regex(/^\/[A-Za-z0-9._~\/-]*$/, e("a URL path")).default("/containerManagement"),
    /** Shared secret clients must send (`?token=` or `Authorization: Bearer`); empty: off. */
    token: text().default(""),
    /** Client addresses or CIDRs allowed to connect; empty: everyone. */
    allow: stringList().default([]),
    /**
     * Browser origins allowed to connect. Requests with any other `Origin` header are refused, so a
     * web page cannot drive the agent through the user's browser; native clients send none.
     */
    allowed_origins: stringList().default([]),
    /** Most WebSocket clients at once (also caps `limits.max_connections`). */
    max_clients: wholeNumber(1, 10_000).default(64),
    limits: limitsSchema(), // `[intervirt.limits]` (README "Limits against abuse")
    /** Container runtime. */
    runtime: oneOf(["lxc", "incus"]).default("lxc"),
    /** LXC path (`-P`) holding the agent's containers. */
    lxc_path: pathString().default("/var/lib/polyagent/intervirt/lxc"),
    /** Local images (`<images_dir>/debian/13.tar.gz`); empty: `<state_dir>/images`. */
    images_dir: text().default(""),
    /** Prefix of every runtime container name the agent makes. */
    name_prefix: text().regex(/^[a-z][a-z0-9-]{0,11}$/, e("a short lowercase prefix")).default(
      "iv-",
    ),
    /** Prefix of host-side veth names (plus 8 hex characters). */
    veth_prefix: text().regex(/^[a-z][a-z0-9]{0,6}$/, e("at most 7 lowercase characters")).default(
      "iv",
    ),
    /** The container bridge. */
    bridge: text().regex(/^[A-Za-z0-9_.-]{1,15}$/, e("an interface name")).default("polyagent0"),
    /** Bridge (gateway) address and prefix for IPv4. */
    bridge_ipv4: text().default("10.93.0.1/24"),
    /** Bridge (gateway) address and prefix for IPv6. */
    bridge_ipv6: text().default("fd93::1/64"),
    /** nftables table (family inet) the agent owns. */
    nft_table: text().regex(/^[A-Za-z0-9_]{1,64}$/, e("a table name")).default("polyagent"),
    /** Ports a forward never takes (nor the agent's listeners, nor ports host sockets use). */
    reserved_ports: z.array(wholeNumber(1, 65535), e("a list of port numbers")).default([22]),
    /** Longest an ordinary lxc/incus/nft/ip/sysctl call may take (then killed with its children). */
    tool_timeout_ms: wholeNumber(100, 600_000).default(30_000),
    /** Seconds of clean halt before a stop kills the container (0: kill at once). */
    stop_grace_seconds: wholeNumber(0, 600).default(10),
    /** Let `update`, `shutdown` and `reboot` act on the host. */
    allow_host_commands: flag().default(false),
    /** Host update steps (each a command line, split on spaces, no shell). */
    update_steps: stringList().default(["apt-get update", "apt-get -y upgrade"]),
    /** Steps run inside each container by `update` (skipped when the command is missing). */
    container_update_steps: stringList().default(["apt-get update", "apt-get -y upgrade"]),
    /** Host command for `shutdown`. */
    shutdown_command: text().default("poweroff"),
    /** Host command for `reboot`. */
    reboot_command: text().default("reboot"),
    /** Largest accepted WebSocket message. */
    max_message_bytes: wholeNumber(1024, 16 * 1024 * 1024).default(65536),
    /** Requests one client may have in flight. */
    max_in_flight: wholeNumber(1, 10_000).default(64),
  });
}

/** The parsed `[intervirt]` section. */
export type IntervirtConfig = z.infer<ReturnType<typeof intervirtConfigSchema>>;
