/** Address arithmetic for the container network (pure). */

function v4ToInt(ip: string): number {
  const parts = ip.split(".").map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function intToV4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

function v6ToBigInt(ip: string): bigint {
  let text = ip.toLowerCase();
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail) {
    const n = v4ToInt(v4tail[1]!);
    text = text.slice(0, -v4tail[1]!.length) +
      `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") as [string, string] : [text, null];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === null ? [] : new Array(8 - h.length - t.length).fill("0");
  const groups = [...h, ...fill, ...t];
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(parseInt(g || "0", 16));
  return n;
}

/** A parsed `address/prefix`. */
export interface Cidr {
  address: string;
  prefix: number;
  v6: boolean;
}

/** Parses `10.93.0.1/24` or `fd93::1/64`. */
export function parseCidr(text: string): Cidr {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) throw new TypeError(`Invalid address "${text}": expected "address/prefix"`);
  const v6 = m[1]!.includes(":");
  const prefix = Number(m[2]);
  if (prefix > (v6 ? 128 : 32)) throw new RangeError(`Invalid prefix in "${text}"`);
  return { address: m[1]!, prefix, v6 };
}

/** Whether `ip` lies in the subnet of `cidr`. */
export function inSubnet(ip: string, cidr: Cidr): boolean {
  if (ip.includes(":") !== cidr.v6) return false;
  if (cidr.v6) {
    const shift = BigInt(128 - cidr.prefix);
    return (v6ToBigInt(ip) >> shift) === (v6ToBigInt(cidr.address) >> shift);
  }
  if (cidr.prefix === 0) return true;
  const shift = 32 - cidr.prefix;
  return (v4ToInt(ip) >>> shift) === (v4ToInt(cidr.address) >>> shift);
}

/** IPv4 broadcast of `ip/prefix`. */
export function broadcastOf(ip: string, prefix: number): string {
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return intToV4((v4ToInt(ip) | ~mask) >>> 0);
}

/** Canonical text of an IPv6 address (for equality). */
export function sameAddress(a: string, b: string): boolean {
  if (a.includes(":") !== b.includes(":")) return false;
  return a.includes(":") ? v6ToBigInt(a) === v6ToBigInt(b) : a === b;
}

/** The whole address as one number (IPv4 in the low 32 bits). */
function addressValue(ip: string): bigint {
  return ip.includes(":") ? v6ToBigInt(ip) : BigInt(v4ToInt(ip));
}

/** Ranges no host may take as its own address: [base, prefix, what it is]. First match wins. */
const SPECIAL_RANGES: readonly [string, number, string][] = [
  ["0.0.0.0", 8, 'an unspecified ("this network") address'],
  ["127.0.0.0", 8, "a loopback address"],
  ["224.0.0.0", 4, "a multicast address"],
  ["255.255.255.255", 32, "the limited broadcast address"],
  ["240.0.0.0", 4, "a reserved address (240.0.0.0/4)"],
  ["::", 128, "the unspecified address"],
  ["::1", 128, "the loopback address"],
  ["ff00::", 8, "a multicast address"],
];

/** The prefix a container gets for an IPv4 address outside the bridge subnet. */
export const OUTSIDE_PREFIX_V4 = 24;
/** The prefix a container gets for an IPv6 address outside the bridge subnet. */
export const OUTSIDE_PREFIX_V6 = 64;

/** Whether `ip` is the network address (or, IPv4, the broadcast) of its `/prefix`: the reason. */
function subnetEdge(ip: string, prefix: number, of: string): string | null {
  const v6 = ip.includes(":");
  const hostBits = BigInt((v6 ? 128 : 32) - prefix);
  if (hostBits < 2n) return null;
  const host = addressValue(ip) & ((1n << hostBits) - 1n);
  if (host === 0n) return `is the network address ${of}`;
  if (!v6 && host === (1n << hostBits) - 1n) return `is the broadcast address ${of}`;
  return null;
}

/**
 * Why `ip` cannot be a container's address next to the bridge subnet `bridge` (same family), or
 * null when it can: an unspecified, loopback, multicast or reserved address anywhere; in the
 * bridge subnet, the bridge's own (gateway) address, the network address and the IPv4 broadcast;
 * outside it, the network or broadcast address of the /24 (/64) the container gets there. The
 * reason reads after the address: `10.93.0.1 is the gateway address of bridge …`.
 */
export function unusableAddress(ip: string, bridge: Cidr, bridgeName: string): string | null {
  for (const [base, prefix, what] of SPECIAL_RANGES) {
    if (inSubnet(ip, { address: base, prefix, v6: base.includes(":") })) return `is ${what}`;
  }
  if (inSubnet(ip, bridge)) {
    const of = `of bridge ${bridgeName} (${bridge.address}/${bridge.prefix})`;
    if (sameAddress(ip, bridge.address)) return `is the gateway address ${of}`;
    return subnetEdge(ip, bridge.prefix, of);
  }
  const prefix = bridge.v6 ? OUTSIDE_PREFIX_V6 : OUTSIDE_PREFIX_V4;
  return subnetEdge(
    ip,
    prefix,
    `of its /${prefix} (outside the bridge subnet a container gets a /${prefix})`,
  );
}
