/**
 * What the handlers ask of the agent ({@linkcode QuixOperations}), implemented over the backends:
 * `execute` starts a process (a resent request within 5 min returns the first one's pid),
 * `view_running` lists the live processes with their figures, `proc_signal` signals one, and
 * `telemetry` gathers the requested stat types.
 */
import type { HostSnapshot } from "../../backends/telemetry/mod.ts";
import type { QuixBackends, QuixProcesses, QuixTunnel } from "./definition.ts";
import type { QuixOperations } from "./handlers.ts";
import type { QuixVpnStatus, RunningEntry } from "./schemas.ts";

const MB = 1024 * 1024;
/** How long `execute` remembers which process a request started. */
const EXECUTE_WINDOW_MS = 300_000;

/** What {@linkcode createQuixOperations} works with. */
export interface QuixOperationParts {
  processes: QuixProcesses;
  cpu: { read(): number[] };
  host: { get(): Promise<HostSnapshot> };
  tunnel: QuixTunnel;
  backends: Pick<QuixBackends, "interfaceAddresses" | "findTunDevice">;
  /** The namespace wg-quick runs in ("" = ours): the tunnel's live addresses are not seen here. */
  netns: string;
  /** `quix.vpn_interface`, named in the `vpn_status` of a tunnel that is down. */
  vpnInterface: string;
  /** Called after `execute` started a process. */
  onStarted(): void;
}

/** The operations over `parts`. */
export function createQuixOperations(parts: QuixOperationParts): QuixOperations {
  const { processes, cpu, host } = parts;
  return {
    execute: async (argv, requestKey) => {
      const seen = processes.findByRequest(requestKey, EXECUTE_WINDOW_MS);
      if (seen) return { pid: seen.pid };
      const record = await processes.start(argv, { requestId: requestKey });
      parts.onStarted();
      return { pid: record.pid };
    },
    viewRunning: async (): Promise<RunningEntry[]> =>
      (await processes.sample()).map((f) => ({
        title: f.record.title,
        pid: f.record.pid,
        cpu_util: f.cpuPercent,
        mem_util: Math.round(f.rssBytes / MB),
        reqc: f.record.argv.join(" "),
        port_util: f.ports,
      })),
    signal: (pid, mode) => processes.signal(pid, mode),
    telemetry: async (types) => {
      const out: Record<string, unknown> = {};
      const figures = types.includes("ttl_mem_usage") || types.includes("disk_util")
        ? await host.get()
        : null;
      for (const type of types) {
        if (type === "ttl_cpu_usage") out[type] = cpu.read();
        else if (type === "ttl_mem_usage") out[type] = figures!.memory;
        else if (type === "disk_util") out[type] = figures!.disks;
        else if (type === "vpn_status") out[type] = await vpnStatus(parts);
      }
      return out;
    },
  };
}

/**
 * The document's `vpn_status` object (plus `state`): our WireGuard tunnel, else the first tun/tap
 * device (OpenVPN), else our tunnel's interface with `state: "down"` and empty addresses.
 */
async function vpnStatus(parts: QuixOperationParts): Promise<QuixVpnStatus> {
  const { backends } = parts;
  const wg = await parts.tunnel.status();
  if (wg) {
    const live = parts.netns ? { ip4: "", ip6: "" } : backends.interfaceAddresses(wg.ifname);
    return {
      ifname: wg.ifname,
      conn_type: "wireguard",
      conn_host: wg.host,
      conn_ip4: live.ip4 || wg.ip4,
      conn_ip6: live.ip6 || wg.ip6,
      state: "up",
    };
  }
  const tun = backends.findTunDevice();
  if (tun) {
    const { ip4, ip6 } = backends.interfaceAddresses(tun);
    return {
      ifname: tun,
      conn_type: "openvpn",
      conn_host: "",
      conn_ip4: ip4,
      conn_ip6: ip6,
      state: "up",
    };
  }
  return {
    ifname: parts.vpnInterface,
    conn_type: "wireguard",
    conn_host: "",
    conn_ip4: "",
    conn_ip6: "",
    state: "down",
  };
}
