/**
 * Tunnel interfaces seen by this network namespace (OpenVPN's tun/tap names) and their addresses,
 * from the OS interface list. Used for `vpn_status` when no WireGuard tunnel of ours is up (for
 * example an OpenVPN tunnel run by the cryptoded service).
 */

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

/** Whether an interface with an address of that name exists here. */
export function hasInterface(ifname: string): boolean {
  try {
    return Deno.networkInterfaces().some((a) => a.name === ifname);
  } catch {
    return false;
  }
}

/** The first tun/tap device (OpenVPN's default names) with an address, or null. */
export function findTunDevice(): string | null {
  try {
    return Deno.networkInterfaces().map((a) => a.name).find((n) => /^(tun|tap)\d*$/.test(n)) ??
      null;
  } catch {
    return null;
  }
}
