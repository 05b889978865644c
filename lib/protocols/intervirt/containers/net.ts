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
