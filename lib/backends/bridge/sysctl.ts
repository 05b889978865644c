/** The kernel switches the container network needs: forwarding, and bridged traffic via nft. */
import type { CommandRunner } from "../../core/mod.ts";

/** Turns on IPv4/IPv6 forwarding and bridge netfilter calls (needed for pair isolation). */
export async function enableForwarding(runner: CommandRunner, ipv6: boolean): Promise<void> {
  const keys = ["net.ipv4.ip_forward=1"];
  if (ipv6) keys.push("net.ipv6.conf.all.forwarding=1");
  await runner(["sysctl", "-q", "-w", ...keys], { timeoutMs: 5_000 });
  // br_netfilter may be absent (then bridged traffic is not filtered): best effort.
  await runner(
    [
      "sysctl",
      "-q",
      "-w",
      "net.bridge.bridge-nf-call-iptables=1",
      "net.bridge.bridge-nf-call-ip6tables=1",
    ],
    { timeoutMs: 5_000, check: false },
  );
}
