/**
 * The external ports a port forward may not take: a DNAT rule on a port the host itself serves
 * (sshd on 22, the agent's own 55436, anything `ss -ltn` lists) would capture that port for the
 * container and can cut remote access to the host.
 */
import { InvalidError } from "../../../core/mod.ts";
import type { StoredForward } from "./state.ts";

/** What the check reads: the configured reserved ports, the agent's and the host's listeners. */
export interface ExternalPortSources {
  /** `intervirt.reserved_ports`. */
  reserved: readonly number[];
  /** Every listener the agent announced (`ws://host:port/path`, `http://host:port`, socket paths). */
  agentListeners(): readonly string[];
  /** Host sockets listening on `protocol`/`port` (empty when none). */
  hostListeners(protocol: StoredForward["protocol"], port: number): Promise<string[]>;
}

/** The TCP port of an announced listener address, or null when it has none (a Unix socket). */
export function listenerPort(address: string): number | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:\[[^\]]*\]|[^\/\[\]:]*):(\d{1,5})(?:[/?#]|$)/i.exec(address);
  return m ? Number(m[1]) : null;
}

/**
 * Throws an `InvalidError` (code 8) naming the port when a forward of `protocol`/`port` would
 * take a reserved port, one of the agent's own listeners or a port a host socket listens on.
 */
export async function checkExternalPort(
  sources: ExternalPortSources,
  protocol: StoredForward["protocol"],
  port: number,
): Promise<void> {
  const refuse = (why: string) => new InvalidError(`Invalid field "externalPort": ${why}`);
  if (sources.reserved.includes(port)) {
    throw refuse(`port ${port} is reserved on this host (intervirt.reserved_ports)`);
  }
  if (protocol === "tcp") {
    const own = sources.agentListeners().find((address) => listenerPort(address) === port);
    if (own) throw refuse(`tcp port ${port} is a listener of the agent itself (${own})`);
  }
  const held = await sources.hostListeners(protocol, port);
  if (held.length > 0) {
    const shown = held.slice(0, 3).join(", ") + (held.length > 3 ? ", …" : "");
    throw refuse(`${protocol} port ${port} is in use on the host (listening: ${shown})`);
  }
}
