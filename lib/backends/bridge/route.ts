/**
 * Host routes for container addresses outside the bridge subnets (the Intervirt client picks its
 * own addresses): a /32 or /128 route onto the bridge, and proxy ARP on the bridge so such
 * containers, whose default route is on-link, reach the host and beyond.
 */
import type { CommandRunner } from "../../core/mod.ts";

const TIMEOUT_MS = 10_000;

function hostPrefix(ip: string): string {
  return ip.includes(":") ? `${ip}/128` : `${ip}/32`;
}

/** Routes `ip` onto the bridge (idempotent). */
export async function addHostRoute(
  runner: CommandRunner,
  bridge: string,
  ip: string,
): Promise<void> {
  await runner(["ip", "route", "replace", hostPrefix(ip), "dev", bridge], {
    timeoutMs: TIMEOUT_MS,
  });
}

/** Removes the route of `ip` (a missing one is fine). */
export async function deleteHostRoute(
  runner: CommandRunner,
  bridge: string,
  ip: string,
): Promise<void> {
  await runner(["ip", "route", "del", hostPrefix(ip), "dev", bridge], {
    timeoutMs: TIMEOUT_MS,
    check: false,
  });
}

/** Turns on proxy ARP on the bridge. */
export async function enableProxyArp(runner: CommandRunner, bridge: string): Promise<void> {
  await runner(["sysctl", "-q", "-w", `net/ipv4/conf/${bridge}/proxy_arp=1`], {
    timeoutMs: TIMEOUT_MS,
  });
}
