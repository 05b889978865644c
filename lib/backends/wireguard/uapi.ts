/**
 * The cross-platform WireGuard UAPI (what `wg` itself speaks to wireguard-go): a `get=1` on
 * /var/run/wireguard/<ifname>.sock returns the live interface and peers. The socket lives in the
 * filesystem, so it works whatever network namespace the interface is in.
 */

/** Live peer figures. */
export interface UapiPeer {
  publicKeyHex: string;
  endpoint: string | null;
  lastHandshakeSec: number;
  rxBytes: number;
  txBytes: number;
}

/** Live interface figures. */
export interface UapiDevice {
  listenPort: number | null;
  peers: UapiPeer[];
}

/** Where wireguard-go puts its UAPI sockets. */
export const UAPI_DIR = "/var/run/wireguard";

/** Parses a UAPI `get` answer. */
export function parseUapi(text: string): UapiDevice {
  const device: UapiDevice = { listenPort: null, peers: [] };
  let peer: UapiPeer | null = null;
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "listen_port") device.listenPort = Number(value);
    else if (key === "public_key") {
      peer = { publicKeyHex: value, endpoint: null, lastHandshakeSec: 0, rxBytes: 0, txBytes: 0 };
      device.peers.push(peer);
    } else if (peer && key === "endpoint") peer.endpoint = value;
    else if (peer && key === "last_handshake_time_sec") peer.lastHandshakeSec = Number(value);
    else if (peer && key === "rx_bytes") peer.rxBytes = Number(value);
    else if (peer && key === "tx_bytes") peer.txBytes = Number(value);
  }
  return device;
}

/** Queries the interface over its UAPI socket; null when there is none. */
export async function queryUapi(ifname: string, timeoutMs = 1000): Promise<UapiDevice | null> {
  const path = `${UAPI_DIR}/${ifname}.sock`;
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch {
    return null;
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode("get=1\n\n"));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(16384);
    let text = "";
    while (!text.includes("\n\n") && text.length < 1 << 20) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    if (!/errno=0/.test(text)) return null;
    return parseUapi(text);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** Whether the interface's UAPI socket exists. */
export function uapiSocketExists(ifname: string): boolean {
  try {
    return Deno.statSync(`${UAPI_DIR}/${ifname}.sock`).isSocket === true;
  } catch {
    return false;
  }
}
