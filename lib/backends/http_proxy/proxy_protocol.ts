/**
 * The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 and 2: a strict incremental
 * parser of the header a load balancer in front sends before the client's bytes, and the v2
 * encoder used towards backends (`send_proxy`). Pure: no I/O.
 *
 * v1: `PROXY TCP4|TCP6|UNKNOWN <src> <dst> <sport> <dport>\r\n`, at most 107 bytes.
 * v2: the 12-byte signature, ver/cmd (0x20 LOCAL, 0x21 PROXY), family/transport (0x11 TCP over
 * IPv4, 0x21 TCP over IPv6, 0x00 UNSPEC), a big-endian length, the addresses, then TLVs.
 */

/** The v2 signature. */
export const PROXY_V2_SIGNATURE: Uint8Array = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);

/** Longest v1 header, CRLF included. */
const V1_MAX = 107;
/** Longest v2 header this proxy accepts (addresses plus TLVs), bytes. */
export const PROXY_HEADER_MAX = 16 + 2048;

/** An endpoint a header names. */
export interface ProxyEndpoint {
  ip: string;
  port: number;
}

/** A parsed header. `source`/`destination` are null for LOCAL, UNKNOWN or UNSPEC headers. */
export interface ProxyHeader {
  version: 1 | 2;
  source: ProxyEndpoint | null;
  destination: ProxyEndpoint | null;
  /** Bytes the header took. */
  length: number;
}

/** A malformed header. */
export class ProxyHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProxyHeaderError";
  }
}

/** More bytes are needed. */
export const PROXY_MORE = null;

const V1_PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]; // "PROXY "

/** Whether `buf[0, len)` may still be the start of `prefix`. */
function startsLike(buf: Uint8Array, len: number, prefix: ArrayLike<number>): boolean {
  const n = Math.min(len, prefix.length);
  for (let i = 0; i < n; i++) if (buf[i] !== prefix[i]) return false;
  return true;
}

/**
 * Parses a header at the start of `buf[0, len)`: the header, {@linkcode PROXY_MORE} when it is
 * incomplete, or throws a {@linkcode ProxyHeaderError} when the bytes cannot be one.
 */
export function parseProxyHeader(buf: Uint8Array, len: number): ProxyHeader | null {
  if (len === 0) return PROXY_MORE;
  if (buf[0] === 0x50) {
    if (!startsLike(buf, len, V1_PREFIX)) throw new ProxyHeaderError("not a PROXY header");
    return parseV1(buf, len);
  }
  if (!startsLike(buf, len, PROXY_V2_SIGNATURE)) throw new ProxyHeaderError("not a PROXY header");
  return parseV2(buf, len);
}

function parseV1(buf: Uint8Array, len: number): ProxyHeader | null {
  let end = -1;
  for (let i = 0; i < Math.min(len, V1_MAX); i++) {
    if (buf[i] === 0x0a) {
      end = i;
      break;
    }
  }
  if (end < 0) {
    if (len >= V1_MAX) throw new ProxyHeaderError("PROXY v1 header longer than 107 bytes");
    return PROXY_MORE;
  }
  if (end === 0 || buf[end - 1] !== 0x0d) {
    throw new ProxyHeaderError("PROXY v1 header without CRLF");
  }
  const line = String.fromCharCode(...buf.subarray(0, end - 1));
  const parts = line.split(" ");
  if (parts[1] === "UNKNOWN") {
    return { version: 1, source: null, destination: null, length: end + 1 };
  }
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
    throw new ProxyHeaderError("malformed PROXY v1 header");
  }
  const v6 = parts[1] === "TCP6";
  const source = { ip: v1Ip(parts[2]!, v6), port: v1Port(parts[4]!) };
  const destination = { ip: v1Ip(parts[3]!, v6), port: v1Port(parts[5]!) };
  return { version: 1, source, destination, length: end + 1 };
}

const IPV4 =
  /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;

function v1Ip(text: string, v6: boolean): string {
  if (!v6 && IPV4.test(text)) return text;
  if (v6 && /^[0-9a-fA-F:.]{2,45}$/.test(text) && text.includes(":")) {
    try {
      return new URL(`http://[${text}]/`).hostname.slice(1, -1);
    } catch {
      // not an IPv6 address
    }
  }
  throw new ProxyHeaderError(`invalid address in PROXY v1 header: ${JSON.stringify(text)}`);
}

function v1Port(text: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text) || Number(text) > 65535) {
    throw new ProxyHeaderError(`invalid port in PROXY v1 header: ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function parseV2(buf: Uint8Array, len: number): ProxyHeader | null {
  if (len < 16) return PROXY_MORE;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) throw new ProxyHeaderError("unsupported PROXY header version");
  const command = verCmd & 0x0f;
  if (command > 1) throw new ProxyHeaderError("unknown PROXY v2 command");
  const family = buf[13]!;
  const bodyLength = (buf[14]! << 8) | buf[15]!;
  const total = 16 + bodyLength;
  if (total > PROXY_HEADER_MAX) throw new ProxyHeaderError("PROXY v2 header too long");
  if (len < total) return PROXY_MORE;
  const local = { version: 2 as const, source: null, destination: null, length: total };
  if (command === 0) return local; // LOCAL: the connection is the proxy's own (health checks)
  const body = buf.subarray(16, total);
  if (family === 0x11) {
    if (bodyLength < 12) throw new ProxyHeaderError("PROXY v2 header too short for IPv4");
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    return {
      version: 2,
      source: { ip: body.subarray(0, 4).join("."), port: view.getUint16(8) },
      destination: { ip: body.subarray(4, 8).join("."), port: view.getUint16(10) },
      length: total,
    };
  }
  if (family === 0x21) {
    if (bodyLength < 36) throw new ProxyHeaderError("PROXY v2 header too short for IPv6");
    const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    return {
      version: 2,
      source: { ip: ipv6Text(body.subarray(0, 16)), port: view.getUint16(32) },
      destination: { ip: ipv6Text(body.subarray(16, 32)), port: view.getUint16(34) },
      length: total,
    };
  }
  if (family === 0x00) return local;
  throw new ProxyHeaderError(`unsupported PROXY v2 address family 0x${family.toString(16)}`);
}

function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

function ipv4Bytes(ip: string): number[] | null {
  return IPV4.test(ip) ? ip.split(".").map(Number) : null;
}

function ipv6Bytes(ip: string): number[] | null {
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipv4Bytes(v4[1]!);
    if (!b) return null;
    text = text.slice(0, -v4[1]!.length) +
      `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return null;
  const groups = [...head, ...Array(missing).fill("0"), ...tail];
  const out: number[] = [];
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
    const v = parseInt(g, 16);
    out.push(v >> 8, v & 0xff);
  }
  return out;
}

/**
 * A v2 PROXY header naming `source` → `destination` (TCP). Mixed families are sent with the
 * IPv4 one mapped into IPv6; an unknown address gives a LOCAL header.
 */
export function encodeProxyV2(source: ProxyEndpoint, destination: ProxyEndpoint): Uint8Array {
  let src = ipv4Bytes(source.ip);
  let dst = ipv4Bytes(destination.ip);
  let family = 0x11;
  if (src === null || dst === null) {
    family = 0x21;
    src = ipv6Bytes(source.ip) ?? mapped(src);
    dst = ipv6Bytes(destination.ip) ?? mapped(dst);
  }
  if (src === null || dst === null) {
    const out = new Uint8Array(16);
    out.set(PROXY_V2_SIGNATURE);
    out[12] = 0x20;
    return out;
  }
  const out = new Uint8Array(16 + src.length * 2 + 4);
  out.set(PROXY_V2_SIGNATURE);
  out[12] = 0x21;
  out[13] = family;
  const bodyLength = out.byteLength - 16;
  out[14] = bodyLength >> 8;
  out[15] = bodyLength & 0xff;
  out.set(src, 16);
  out.set(dst, 16 + src.length);
  const ports = 16 + src.length * 2;
  out[ports] = source.port >> 8;
  out[ports + 1] = source.port & 0xff;
  out[ports + 2] = destination.port >> 8;
  out[ports + 3] = destination.port & 0xff;
  return out;
}

function mapped(v4: number[] | null): number[] | null {
  return v4 === null ? null : [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4];
}
