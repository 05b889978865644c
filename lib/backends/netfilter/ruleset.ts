/**
 * Renders the agent's whole nftables table from a desired state. Pure: the same state always
 * gives the same text. Pairs and internet access are set elements (one lookup per packet, and a
 * Connect is a two-element change); the table's structure, port forwards included, carries a
 * fingerprint as its comment, so an unchanged structure is never rebuilt.
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

/** The set elements of a state, each list sorted and in nft's canonical text. */
export interface ElementSets {
  pairs4: string[];
  pairs6: string[];
  inet4: string[];
  inet6: string[];
}

/** The names of the element sets. */
export const SET_NAMES = ["pairs4", "pairs6", "inet4", "inet6"] as const;

const COMMENT_PREFIX = "polyagent:";

function quote(name: string): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw new TypeError(`Invalid interface "${name}"`);
  return `"${name}"`;
}

/** IPv6 in the compressed lowercase form nft prints (RFC 5952). */
export function canonicalIpv6(ip: string): string {
  let text = ip.toLowerCase();
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, -tail[0].length) +
      `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.includes("::") ? text.split("::") as [string, string] : [text, null];
  const h = head ? head.split(":") : [];
  const t = rest ? rest.split(":") : [];
  const groups = rest === null ? h : [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t];
  const parts = groups.map((g) => parseInt(g || "0", 16).toString(16));
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (parts[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && parts[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return parts.join(":");
  return `${parts.slice(0, best).join(":")}::${parts.slice(best + bestLen).join(":")}`;
}

function checkV4(ip: string): string {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw new TypeError(`Invalid IPv4 address "${ip}"`);
  return ip;
}

function checkV6(ip: string): string {
  if (!/^[0-9a-fA-F:.]{2,45}$/.test(ip)) throw new TypeError(`Invalid IPv6 address "${ip}"`);
  return canonicalIpv6(ip);
}

/** The set elements of a state. */
export function elementsOf(state: NetfilterState): ElementSets {
  const p4 = new Set<string>();
  const p6 = new Set<string>();
  for (const [a, b] of state.pairs) {
    const a4 = checkV4(a.ipv4), b4 = checkV4(b.ipv4);
    const a6 = checkV6(a.ipv6), b6 = checkV6(b.ipv6);
    p4.add(`${a4} . ${b4}`).add(`${b4} . ${a4}`);
    p6.add(`${a6} . ${b6}`).add(`${b6} . ${a6}`);
  }
  return {
    pairs4: [...p4].sort(),
    pairs6: [...p6].sort(),
    inet4: [...new Set(state.internet.map((e) => checkV4(e.ipv4)))].sort(),
    inet6: [...new Set(state.internet.map((e) => checkV6(e.ipv6)))].sort(),
  };
}

/** FNV-1a over the text, as hex: a short, stable fingerprint. */
export function fingerprint(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0") + text.length.toString(16);
}

function structure(state: NetfilterState): string {
  const br = quote(state.bridge);
  const lines: string[] = [];
  const chain = (name: string, head: string | null, rules: string[]) => {
    lines.push(`  chain ${name} {`);
    if (head) lines.push(`    ${head}`);
    for (const r of rules) lines.push(`    ${r}`);
    lines.push("  }");
  };
  chain("lan", null, [
    "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept",
    "ip saddr . ip daddr @pairs4 accept",
    "ip6 saddr . ip6 daddr @pairs6 accept",
    "drop",
  ]);
  chain("forward", "type filter hook forward priority filter; policy accept;", [
    `iifname ${br} oifname ${br} jump lan`,
    `oifname ${br} ct status dnat accept`,
    `oifname ${br} ct state established,related accept`,
    `oifname ${br} drop`,
    `iifname ${br} ct state established,related accept`,
    `iifname ${br} ip saddr @inet4 accept`,
    `iifname ${br} ip6 saddr @inet6 accept`,
    `iifname ${br} drop`,
  ]);
  const pre: string[] = [];
  const out: string[] = [];
  const forwards = [...state.forwards].sort((x, y) =>
    x.protocol === y.protocol ? x.externalPort - y.externalPort : x.protocol < y.protocol ? -1 : 1
  );
  for (const f of forwards) {
    const v4 = checkV4(f.ipv4), v6 = checkV6(f.ipv6);
    const m = `${f.protocol} dport ${f.externalPort}`;
    pre.push(`meta nfproto ipv4 fib daddr type local ${m} dnat ip to ${v4}:${f.internalPort}`);
    pre.push(`meta nfproto ipv6 fib daddr type local ${m} dnat ip6 to [${v6}]:${f.internalPort}`);
    out.push(
      `ip daddr != 127.0.0.0/8 fib daddr type local ${m} dnat ip to ${v4}:${f.internalPort}`,
    );
    out.push(`ip6 daddr != ::1 fib daddr type local ${m} dnat ip6 to [${v6}]:${f.internalPort}`);
  }
  chain("prerouting", "type nat hook prerouting priority dstnat; policy accept;", pre);
  chain("output", "type nat hook output priority -100; policy accept;", out);
  chain("postrouting", "type nat hook postrouting priority srcnat; policy accept;", [
    `oifname != ${br} ip saddr @inet4 masquerade`,
    `oifname != ${br} ip6 saddr @inet6 masquerade`,
  ]);
  return lines.join("\n");
}

const SET_TYPES: Record<typeof SET_NAMES[number], string> = {
  pairs4: "ipv4_addr . ipv4_addr",
  pairs6: "ipv6_addr . ipv6_addr",
  inet4: "ipv4_addr",
  inet6: "ipv6_addr",
};

/** The rendered table. */
export interface RenderedRuleset {
  /** `nft -f` script that replaces the whole table (elements included) in one transaction. */
  script: string;
  /** Fingerprint of the structure (chains, rules, forwards), without set elements. */
  fingerprint: string;
  elements: ElementSets;
}

/** Renders the script that replaces the whole table in one transaction. */
export function renderRuleset(state: NetfilterState): RenderedRuleset {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(state.table)) {
    throw new TypeError(`Invalid nft table name "${state.table}"`);
  }
  const text = structure(state);
  const print = fingerprint(text);
  const elements = elementsOf(state);
  const sets = SET_NAMES.map((name) => {
    const list = elements[name];
    return `  set ${name} {\n    type ${SET_TYPES[name]};\n${
      list.length > 0 ? `    elements = { ${list.join(", ")} }\n` : ""
    }  }`;
  });
  const script = [
    `add table inet ${state.table}`,
    `delete table inet ${state.table}`,
    `table inet ${state.table} {`,
    `  comment "${COMMENT_PREFIX}${print}"`,
    ...sets,
    text,
    "}",
    "",
  ].join("\n");
  return { script, fingerprint: print, elements };
}

/** The `nft -f` lines that turn the elements `from` into `to` (empty when equal). */
export function elementDiff(table: string, from: ElementSets, to: ElementSets): string {
  const lines: string[] = [];
  for (const name of SET_NAMES) {
    const before = new Set(from[name]);
    const after = new Set(to[name]);
    const gone = [...before].filter((e) => !after.has(e));
    const added = [...after].filter((e) => !before.has(e));
    if (gone.length > 0) {
      lines.push(`delete element inet ${table} ${name} { ${gone.join(", ")} }`);
    }
    if (added.length > 0) lines.push(`add element inet ${table} ${name} { ${added.join(", ")} }`);
  }
  return lines.length > 0 ? lines.join("\n") + "\n" : "";
}

/** What the live table holds, read from `nft list table` text. */
export interface LiveTable {
  fingerprint: string | null;
  elements: ElementSets;
}

/** Parses `nft list table` output: the structure fingerprint and the set elements. */
export function parseLiveTable(listing: string): LiveTable {
  const m = /comment "polyagent:([0-9a-f]+)"/.exec(listing);
  const elements: ElementSets = { pairs4: [], pairs6: [], inet4: [], inet6: [] };
  const sets = /set (\w+) \{\s*type [^\n]*\n(?:\s*flags [^\n]*\n)?(?:\s*elements = \{([^}]*)\})?/g;
  for (const s of listing.matchAll(sets)) {
    const name = s[1] as typeof SET_NAMES[number];
    if (!SET_NAMES.includes(name) || !s[2]) continue;
    elements[name] = s[2].split(",").map((e) => e.replace(/\s+/g, " ").trim())
      .filter((e) => e !== "").map((e) =>
        name.endsWith("6") ? e.split(" . ").map((a) => canonicalIpv6(a)).join(" . ") : e
      ).sort();
  }
  return { fingerprint: m ? m[1]! : null, elements };
}

/** Whether two element sets are equal. */
export function sameElements(a: ElementSets, b: ElementSets): boolean {
  return SET_NAMES.every((n) => a[n].length === b[n].length && a[n].every((e, i) => e === b[n][i]));
}
