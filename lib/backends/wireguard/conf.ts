/**
 * Validating a wg-quick configuration received from a control server. Only keys that configure
 * the tunnel are accepted; the hook keys (PreUp, PostUp, PreDown, PostDown) are refused because
 * wg-quick runs them through bash as root, and SaveConfig is refused because it rewrites the file.
 * The result is a normalised text (canonical key names, no comments) whose hash tells whether a
 * new config differs from the applied one.
 */

/** A config that cannot be applied; `field` names the offending key. */
export class WireguardConfigError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
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

/** Parses and validates a wg-quick config; throws {@linkcode WireguardConfigError}. */
export function parseWireguardConf(text: string, options: ParseConfOptions = {}): WireguardConf {
  const maxBytes = options.maxBytes ?? 65536;
  if (typeof text !== "string" || text.length === 0) {
    throw new WireguardConfigError("conf_data", "conf_data: empty config");
  }
  if (text.length > maxBytes) {
    throw new WireguardConfigError("conf_data", `conf_data: larger than ${maxBytes} bytes`);
  }
  if (hasControlCharacters(text)) {
    throw new WireguardConfigError("conf_data", "conf_data: contains control characters");
  }
  const out: string[] = [];
  const addresses: string[] = [];
  const peers: WireguardPeer[] = [];
  let listenPort: number | null = null;
  let section: "interface" | "peer" | null = null;
  let sawInterface = false;
  let privateKey = false;
  let peer: (WireguardPeer & { seenKey: boolean }) | null = null;
  const seen = new Set<string>();
  const closePeer = () => {
    if (!peer) return;
    if (!peer.seenKey) throw new WireguardConfigError("PublicKey", "[Peer] without PublicKey");
    peers.push({ publicKey: peer.publicKey, endpoint: peer.endpoint, allowedIps: peer.allowedIps });
    peer = null;
  };
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/#.*$/, "").trim();
    if (!line) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header) {
      const name = header[1]!.toLowerCase();
      if (name === "interface") {
        if (sawInterface) throw new WireguardConfigError("Interface", "more than one [Interface]");
        closePeer();
        sawInterface = true;
        section = "interface";
        out.push("[Interface]");
      } else if (name === "peer") {
        closePeer();
        if (peers.length >= 256) throw new WireguardConfigError("Peer", "too many peers");
        section = "peer";
        peer = { publicKey: "", endpoint: null, allowedIps: [], seenKey: false };
        seen.clear();
        out.push("", "[Peer]");
      } else {
        throw new WireguardConfigError(header[1]!, `line ${i + 1}: unknown section [${header[1]}]`);
      }
      continue;
    }
    const eq = line.indexOf("=");
    if (eq <= 0) throw new WireguardConfigError("conf_data", `line ${i + 1}: expected key = value`);
    const rawKey = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    const lower = rawKey.toLowerCase();
    if (REFUSED.has(lower)) {
      throw new WireguardConfigError(rawKey, `${rawKey}: hook commands are not accepted`);
    }
    if (section === null) {
      throw new WireguardConfigError(rawKey, `line ${i + 1}: "${rawKey}" outside a section`);
    }
    const key = (section === "interface" ? INTERFACE_KEYS : PEER_KEYS)[lower];
    if (!key) throw new WireguardConfigError(rawKey, `${rawKey}: unknown key in [${section}]`);
    if (key !== "Address" && key !== "AllowedIPs" && key !== "DNS" && seen.has(key)) {
      throw new WireguardConfigError(key, `${key}: given twice`);
    }
    seen.add(key);
    switch (key) {
      case "PrivateKey":
      case "PublicKey":
      case "PresharedKey":
        if (!KEY.test(value)) throw new WireguardConfigError(key, `${key}: not a WireGuard key`);
        if (key === "PrivateKey") privateKey = true;
        if (key === "PublicKey" && peer) {
          peer.publicKey = value;
          peer.seenKey = true;
        }
        break;
      case "Address":
        for (const a of list(value)) addresses.push(checkCidr(key, a));
        break;
      case "AllowedIPs":
        for (const a of list(value)) peer?.allowedIps.push(checkCidr(key, a));
        break;
      case "ListenPort":
        listenPort = checkPort(key, value);
        break;
      case "MTU":
        if (!/^\d{3,4}$/.test(value) || Number(value) < 576 || Number(value) > 9000) {
          throw new WireguardConfigError(key, `${key}: "${value}" is out of range`);
        }
        break;
      case "DNS":
        if (!options.allowDns) {
          throw new WireguardConfigError(key, "DNS: not accepted (quix.vpn_allow_dns is off)");
        }
        for (const d of list(value)) {
          if (!isIp(d) && !HOST.test(d)) throw new WireguardConfigError(key, `DNS: bad "${d}"`);
        }
        break;
      case "FwMark":
        if (!/^(off|0x[0-9a-fA-F]{1,8}|\d{1,10})$/.test(value)) {
          throw new WireguardConfigError(key, `${key}: bad value "${value}"`);
        }
        break;
      case "Table":
        if (!/^(off|auto|\d{1,10})$/.test(value)) {
          throw new WireguardConfigError(key, `${key}: bad value "${value}"`);
        }
        break;
      case "SaveConfig":
        if (value.toLowerCase() !== "false") {
          throw new WireguardConfigError(key, "SaveConfig: only false is accepted");
        }
        break;
      case "Endpoint":
        if (peer) peer.endpoint = checkEndpoint(value);
        break;
      case "PersistentKeepalive":
        if (value !== "off") checkPort(key, value, 0);
        break;
    }
    out.push(`${key} = ${value}`);
  }
  closePeer();
  if (!sawInterface) throw new WireguardConfigError("Interface", "no [Interface] section");
  if (!privateKey) throw new WireguardConfigError("PrivateKey", "[Interface] without PrivateKey");
  if (peers.length === 0) throw new WireguardConfigError("Peer", "no [Peer] section");
  return { text: out.join("\n") + "\n", addresses, listenPort, peers };
}
