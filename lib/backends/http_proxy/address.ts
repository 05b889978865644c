/** Parsing of "ip:port" / "[v6]:port" addresses as the model uses them. */

/** A hostname (without brackets) and a port. */
export interface HostPort {
  hostname: string;
  port: number;
}

/** Splits "ip:port" or "[v6]:port"; throws a TypeError naming the address when invalid. */
export function parseAddress(address: string): HostPort {
  let hostname: string;
  let portText: string;
  if (address.startsWith("[")) {
    const close = address.indexOf("]");
    if (close < 0 || address[close + 1] !== ":") {
      throw new TypeError(`invalid address "${address}"`);
    }
    hostname = address.slice(1, close);
    portText = address.slice(close + 2);
  } else {
    const colon = address.lastIndexOf(":");
    if (colon <= 0) throw new TypeError(`invalid address "${address}"`);
    hostname = address.slice(0, colon);
    portText = address.slice(colon + 1);
  }
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port > 65535 || hostname === "") {
    throw new TypeError(`invalid address "${address}"`);
  }
  return { hostname, port };
}

/** "ip" or "[v6]" as it appears in Forwarded / X-Forwarded-For (IPv6 unbracketed in XFF). */
export function formatHostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}
