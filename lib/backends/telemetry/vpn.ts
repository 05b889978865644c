/**
 * Tunnel interfaces seen by this network namespace: tun/wg devices from /proc/net/dev, and their
 * addresses from the OS interface list. Used for `vpn_status` when no WireGuard tunnel of ours is
 * up (for example an OpenVPN tunnel run by the cryptoded service).
 */

/** Interface names in /proc/net/dev. */
export function netDevices(text?: string): string[] {
  const body = text ?? Deno.readTextFileSync("/proc/net/dev");
  const out: string[] = [];
  for (const line of body.split("\n").slice(2)) {
    const name = line.split(":")[0]?.trim();
    if (name) out.push(name);
  }
  return out;
}

/** The first IPv4 and IPv6 address of an interface in this namespace. */
export function interfaceAddresses(ifname: string): { ip4: string; ip6: string } {
  let ip4 = "";
  let ip6 = "";
  try {
    for (const a of Deno.networkInterfaces()) {
      if (a.name !== ifname) continue;
      if (a.family === "IPv4" && !ip4) ip4 = a.address;
      if (a.family === "IPv6" && !ip6) ip6 = a.address;
    }
  } catch {
    // no permission or not supported
  }
  return { ip4, ip6 };
}

/** The first tun device (OpenVPN's default names) in this namespace, or null. */
export function findTunDevice(text?: string): string | null {
  return netDevices(text).find((n) => /^tun\d*$|^tap\d*$/.test(n)) ?? null;
}
