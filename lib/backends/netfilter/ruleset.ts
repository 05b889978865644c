/**
 * Renders the agent's whole nftables table from a desired state. Pure: the same state always
 * gives the same text, and the table carries a hash of it as its comment, so re-applying an
 * unchanged state is detected and skipped.
 */

/** One container's addresses as rules name them. */
export interface RuleEndpoint {
  ipv4: string;
  ipv6: string;
}

/** A DNAT port forward from the host to a container. */
export interface RuleForward {
  protocol: "tcp" | "udp";
  externalPort: number;
  internalPort: number;
  ipv4: string;
  ipv6: string;
}

/** Everything the agent's table expresses. */
export interface NetfilterState {
  /** Table name (family `inet`). */
  table: string;
  /** The container bridge. */
  bridge: string;
  /** Container pairs allowed to talk to each other (both directions). */
  pairs: readonly (readonly [RuleEndpoint, RuleEndpoint])[];
  /** Containers with internet access (forwarding + masquerade to any other interface). */
  internet: readonly RuleEndpoint[];
  forwards: readonly RuleForward[];
}

const COMMENT_PREFIX = "polyagent:";

function quote(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new TypeError(`Invalid interface "${name}"`);
  return `"${name}"`;
}

function set(values: readonly string[]): string {
  return values.length === 1 ? values[0]! : `{ ${values.join(", ")} }`;
}

/** FNV-1a over the text, as hex: a short, stable fingerprint of a ruleset body. */
export function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0") + text.length.toString(16);
}

function body(state: NetfilterState): string {
  const br = quote(state.bridge);
  const lines: string[] = [];
  const chain = (name: string, head: string | null, rules: string[]) => {
    lines.push(`  chain ${name} {`);
    if (head) lines.push(`    ${head}`);
    for (const r of rules) lines.push(`    ${r}`);
    lines.push("  }");
  };
  const lan: string[] = [
    "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
  ];
  const pairs = [...state.pairs].map(([a, b]) => [a, b] as const);
  for (const [a, b] of pairs) {
    lan.push(`ip saddr ${a.ipv4} ip daddr ${b.ipv4} accept`);
    lan.push(`ip saddr ${b.ipv4} ip daddr ${a.ipv4} accept`);
    lan.push(`ip6 saddr ${a.ipv6} ip6 daddr ${b.ipv6} accept`);
    lan.push(`ip6 saddr ${b.ipv6} ip6 daddr ${a.ipv6} accept`);
  }
  lan.push("drop");
  const forward = [
    `iifname ${br} oifname ${br} jump lan`,
    `oifname ${br} ct status dnat accept`,
    `oifname ${br} ct state established,related accept`,
    `oifname ${br} drop`,
    `iifname ${br} ct state established,related accept`,
  ];
  const v4 = [...new Set(state.internet.map((e) => e.ipv4))].sort();
  const v6 = [...new Set(state.internet.map((e) => e.ipv6))].sort();
  if (v4.length > 0) forward.push(`iifname ${br} ip saddr ${set(v4)} accept`);
  if (v6.length > 0) forward.push(`iifname ${br} ip6 saddr ${set(v6)} accept`);
  forward.push(`iifname ${br} drop`);
  chain("forward", "type filter hook forward priority filter; policy accept;", forward);
  chain("lan", null, lan);
  const pre: string[] = [];
  const out: string[] = [];
  for (const f of state.forwards) {
    const match = `${f.protocol} dport ${f.externalPort}`;
    pre.push(
      `meta nfproto ipv4 fib daddr type local ${match} dnat ip to ${f.ipv4}:${f.internalPort}`,
    );
    pre.push(
      `meta nfproto ipv6 fib daddr type local ${match} dnat ip6 to [${f.ipv6}]:${f.internalPort}`,
    );
    out.push(
      `ip daddr != 127.0.0.0/8 fib daddr type local ${match} dnat ip to ${f.ipv4}:${f.internalPort}`,
    );
    out.push(
      `ip6 daddr != ::1 fib daddr type local ${match} dnat ip6 to [${f.ipv6}]:${f.internalPort}`,
    );
  }
  chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;", pre);
  chain("output", "type nat hook output priority -100; policy accept;", out);
  const post: string[] = [];
  if (v4.length > 0) post.push(`oifname != ${br} ip saddr ${set(v4)} masquerade`);
  if (v6.length > 0) post.push(`oifname != ${br} ip6 saddr ${set(v6)} masquerade`);
  chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;", post);
  return lines.join("\n");
}

/** The rendered table: the `nft -f` script that replaces it atomically, and its fingerprint. */
export interface RenderedRuleset {
  script: string;
  fingerprint: string;
}

/** Renders the script that replaces the whole table in one transaction. */
export function renderRuleset(state: NetfilterState): RenderedRuleset {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(state.table)) {
    throw new TypeError(`Invalid nft table name "${state.table}"`);
  }
  const text = body(state);
  const print = fingerprint(text);
  const script = [
    `add table inet ${state.table}`,
    `delete table inet ${state.table}`,
    `table inet ${state.table} {`,
    `  comment "${COMMENT_PREFIX}${print}"`,
    text,
    "}",
    "",
  ].join("\n");
  return { script, fingerprint: print };
}

/** Reads the fingerprint from `nft list table` output, or null. */
export function parseFingerprint(listing: string): string | null {
  const m = /comment "polyagent:([0-9a-f]+)"/.exec(listing);
  return m ? m[1]! : null;
}
