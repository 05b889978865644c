/**
 * Validating a wg-quick configuration received from a control server. Only keys that configure
 * the tunnel are accepted; the hook keys (PreUp, PostUp, PreDown, PostDown) are refused because
 * wg-quick runs them through bash as root, and SaveConfig is refused because it rewrites the file.
 * The result is a normalised text (canonical key names, no comments) whose hash tells whether a
 * new config differs from the applied one.
 */
import { InvalidError } from "../../core/mod.ts";

/** The `reason` of a {@linkcode WireguardConfigError}. */
export const WIREGUARD_CONFIG_INVALID = "wireguard-config";

/** A config that cannot be applied (an InvalidError); `field` names the offending key. */
export class WireguardConfigError extends InvalidError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message, { reason: WIREGUARD_CONFIG_INVALID });
    this.name = "WireguardConfigError";
    this.field = field;
  }
}

/** One peer. */
export interface WireguardPeer {
  publicKey: string;
  endpoint: string | null;
  allowedIps: string[];
}

/** A validated config. */
export interface WireguardConf {
  /** Canonical text to write. */
  text: string;
  addresses: string[];
  listenPort: number | null;
  peers: WireguardPeer[];
}

/** Options for {@linkcode parseWireguardConf}. */
export interface ParseConfOptions {
  /** Accept `DNS =` (wg-quick then calls resolvconf). @default {false} */
  allowDns?: boolean;
  /** @default {65536} */
  maxBytes?: number;
}

const KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;
const HOST =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

const INTERFACE_KEYS: Record<string, string> = {
  privatekey: "PrivateKey",
  address: "Address",
  listenport: "ListenPort",
  mtu: "MTU",
  dns: "DNS",
  fwmark: "FwMark",
  table: "Table",
  saveconfig: "SaveConfig",
};
const PEER_KEYS: Record<string, string> = {
  publickey: "PublicKey",
  presharedkey: "PresharedKey",
  allowedips: "AllowedIPs",
  endpoint: "Endpoint",
  persistentkeepalive: "PersistentKeepalive",
};
const REFUSED = new Set(["preup", "postup", "predown", "postdown"]);

function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0x7f) return true;
  }
  return false;
}

function isIp(text: string): boolean {
  return IPV4.test(text) || (text.includes(":") && IPV6.test(text));
}

function checkCidr(field: string, value: string): string {
  const [ip, len, extra] = value.split("/");
  if (extra !== undefined || !ip || !isIp(ip)) {
    throw new WireguardConfigError(field, `${field}: "${value}" is not an address/prefix`);
  }
  if (len !== undefined) {
    const max = ip.includes(":") ? 128 : 32;
    if (!/^\d{1,3}$/.test(len) || Number(len) > max) {
      throw new WireguardConfigError(field, `${field}: bad prefix length in "${value}"`);
    }
  }
  return value;
}

function list(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

function checkPort(field: string, value: string, min = 1): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < min || Number(value) > 65535) {
    throw new WireguardConfigError(field, `${field}: "${value}" is not a port`);
  }
  return Number(value);
}

function checkEndpoint(value: string): string {
  const m = /^(\[([0-9A-Fa-f:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  const host = m?.[2] ?? m?.[3];
  if (!m || !host || !(isIp(host) || HOST.test(host))) {
    throw new WireguardConfigError("Endpoint", `Endpoint: "${value}" is not host:port`);
  }
  checkPort("Endpoint", m[4]!);
  return value;
}

/** The host part of an `Endpoint` (brackets removed). */
export function endpointHost(endpoint: string): string {
  const m = /^(\[([^\]]+)\]|([^:]+)):\d+$/.exec(endpoint);
  return m?.[2] ?? m?.[3] ?? endpoint;
}

function checkText(text: string, maxBytes: number): void {
  if (typeof text !== "string" || text.length === 0) {
    throw new WireguardConfigError("conf_data", "conf_data: empty config");
  }
  if (text.length > maxBytes) {
    throw new WireguardConfigError("conf_data", `conf_data: larger than ${maxBytes} bytes`);
  }
  if (hasControlCharacters(text)) {
    throw new WireguardConfigError("conf_data", "conf_data: contains control characters");
  }
}

/** Parses and validates a wg-quick config; throws {@linkcode WireguardConfigError}. */
export function parseWireguardConf(text: string, options: ParseConfOptions = {}): WireguardConf {
  checkText(text, options.maxBytes ?? 65536);
  const parser = new ConfParser(options.allowDns ?? false);
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (line) parser.line(line, i + 1);
  }
  return parser.finish();
}

/** The state of one parse: the section being read, what was seen, the canonical output. */
class ConfParser {
  #allowDns: boolean;
  #out: string[] = [];
  #addresses: string[] = [];
  #peers: WireguardPeer[] = [];
  #listenPort: number | null = null;
  #section: "interface" | "peer" | null = null;
  #sawInterface = false;
  #privateKey = false;
  #peer: (WireguardPeer & { seenKey: boolean }) | null = null;
  /** Keys seen in the current section. */
  #seen = new Set<string>();

  constructor(allowDns: boolean) {
    this.#allowDns = allowDns;
  }

  /** One non-empty line without its comment. */
  line(line: string, n: number): void {
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) return this.#header(header[1]!, n);
    const eq = line.indexOf("=");
    if (eq <= 0) throw new WireguardConfigError("conf_data", `line ${n}: expected key = value`);
    const rawKey = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const lower = rawKey.toLowerCase();
    if (REFUSED.has(lower)) {
      throw new WireguardConfigError(rawKey, `${rawKey}: hook commands are not accepted`);
    }
    if (this.#section === null) {
      throw new WireguardConfigError(rawKey, `line ${n}: "${rawKey}" outside a section`);
    }
    const key = (this.#section === "interface" ? INTERFACE_KEYS : PEER_KEYS)[lower];
    if (!key) {
      throw new WireguardConfigError(rawKey, `${rawKey}: unknown key in [${this.#section}]`);
    }
    if (key !== "Address" && key !== "AllowedIPs" && key !== "DNS" && this.#seen.has(key)) {
      throw new WireguardConfigError(key, `${key}: given twice`);
    }
    this.#seen.add(key);
    if (this.#section === "interface") this.#interfaceKey(key, value);
    else this.#peerKey(key, value);
    this.#out.push(`${key} = ${value}`);
  }

  /** The result, once every line is read. */
  finish(): WireguardConf {
    this.#closePeer();
    if (!this.#sawInterface) throw new WireguardConfigError("Interface", "no [Interface] section");
    if (!this.#privateKey) {
      throw new WireguardConfigError("PrivateKey", "[Interface] without PrivateKey");
    }
    if (this.#peers.length === 0) throw new WireguardConfigError("Peer", "no [Peer] section");
    return {
      text: this.#out.join("\n") + "\n",
      addresses: this.#addresses,
      listenPort: this.#listenPort,
      peers: this.#peers,
    };
  }

  #header(name: string, n: number): void {
    const lower = name.toLowerCase();
    if (lower === "interface") {
      if (this.#sawInterface) {
        throw new WireguardConfigError("Interface", "more than one [Interface]");
      }
      this.#closePeer();
      this.#sawInterface = true;
      this.#section = "interface";
      this.#out.push("[Interface]");
    } else if (lower === "peer") {
      this.#closePeer();
      if (this.#peers.length >= 256) throw new WireguardConfigError("Peer", "too many peers");
      this.#section = "peer";
      this.#peer = { publicKey: "", endpoint: null, allowedIps: [], seenKey: false };
      this.#seen.clear();
      this.#out.push("", "[Peer]");
    } else {
      throw new WireguardConfigError(name, `line ${n}: unknown section [${name}]`);
    }
  }

  #closePeer(): void {
    const peer = this.#peer;
    if (!peer) return;
    if (!peer.seenKey) throw new WireguardConfigError("PublicKey", "[Peer] without PublicKey");
    this.#peers.push({
      publicKey: peer.publicKey,
      endpoint: peer.endpoint,
      allowedIps: peer.allowedIps,
    });
    this.#peer = null;
  }

  #interfaceKey(key: string, value: string): void {
    switch (key) {
      case "PrivateKey":
        checkKey(key, value);
        this.#privateKey = true;
        break;
      case "Address":
        for (const a of list(value)) this.#addresses.push(checkCidr(key, a));
        break;
      case "ListenPort":
        this.#listenPort = checkPort(key, value);
        break;
      case "MTU":
        if (!/^\d{3,4}$/.test(value) || Number(value) < 576 || Number(value) > 9000) {
          throw new WireguardConfigError(key, `${key}: "${value}" is out of range`);
        }
        break;
      case "DNS":
        this.#dns(value);
        break;
      case "FwMark":
        checkPattern(key, value, /^(off|0x[0-9a-fA-F]{1,8}|\d{1,10})$/);
        break;
      case "Table":
        checkPattern(key, value, /^(off|auto|\d{1,10})$/);
        break;
      case "SaveConfig":
        if (value.toLowerCase() !== "false") {
          throw new WireguardConfigError(key, "SaveConfig: only false is accepted");
        }
        break;
    }
  }

  #dns(value: string): void {
    if (!this.#allowDns) {
      throw new WireguardConfigError("DNS", "DNS: not accepted (quix.vpn_allow_dns is off)");
    }
    for (const d of list(value)) {
      if (!isIp(d) && !HOST.test(d)) throw new WireguardConfigError("DNS", `DNS: bad "${d}"`);
    }
  }

  #peerKey(key: string, value: string): void {
    const peer = this.#peer!;
    switch (key) {
      case "PublicKey":
        checkKey(key, value);
        peer.publicKey = value;
        peer.seenKey = true;
        break;
      case "PresharedKey":
        checkKey(key, value);
        break;
      case "AllowedIPs":
        for (const a of list(value)) peer.allowedIps.push(checkCidr(key, a));
        break;
      case "Endpoint":
        peer.endpoint = checkEndpoint(value);
        break;
      case "PersistentKeepalive":
        if (value !== "off") checkPort(key, value, 0);
        break;
    }
  }
}

function checkKey(key: string, value: string): void {
  if (!KEY.test(value)) throw new WireguardConfigError(key, `${key}: not a WireGuard key`);
}

function checkPattern(key: string, value: string, pattern: RegExp): void {
  if (!pattern.test(value)) throw new WireguardConfigError(key, `${key}: bad value "${value}"`);
}
