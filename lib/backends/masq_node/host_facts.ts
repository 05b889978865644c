/** Host facts the Daemon's setup defaults need: DNS servers and the real user. */
import { defaultAccountSpec, resolveAccount } from "../../core/mod.ts";

/** Nameservers from resolv.conf, or none when any of them is loopback (as the real Daemon does). */
export function systemDnsServers(path = "/etc/resolv.conf"): string[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return [];
  }
  const servers = text.split("\n")
    .map((line) => /^\s*nameserver\s+(\S+)/.exec(line)?.[1])
    .filter((s): s is string => s !== undefined && /^\d+\.\d+\.\d+\.\d+$/.test(s));
  if (servers.some((s) => s.startsWith("127."))) return [];
  return servers;
}

/**
 * The default `real-user` (`uid:gid:home`) the Node switches to. As root: the sudo user, as the
 * real Daemon does, else `agent.user`, else the `polyagent` account, else `nobody` (never root).
 * Otherwise the agent's own user: the Node then runs as it, with nothing to switch.
 */
export function realUser(agentUser: string): string {
  const sudoUid = Deno.env.get("SUDO_UID");
  if (Deno.uid() === 0) {
    const spec = sudoUid && /^\d+$/.test(sudoUid) && sudoUid !== "0"
      ? sudoUid
      : defaultAccountSpec(agentUser);
    const account = resolveAccount(spec);
    return `${account.uid}:${account.gid}:${account.home}`;
  }
  const uid = sudoUid && /^\d+$/.test(sudoUid) ? sudoUid : String(Deno.uid() ?? "");
  const gid = String(Deno.gid() ?? "");
  const home = Deno.env.get("HOME") ?? "";
  return `${uid}:${gid}:${home}`;
}

/** Picks a free TCP port on 127.0.0.1. */
export function freeLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
