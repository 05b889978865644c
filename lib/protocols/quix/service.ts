/**
 * The `[quix]` service: wires the link, the handler table and the backends (supervisor,
 * telemetry, WireGuard) together, and serves the ctl socket.
 */
import { join, resolve } from "node:path";
import type { Service, ServiceContext } from "../../core/mod.ts";
import {
  canUseDirectory,
  helperReader,
  type ProcessRecord,
  ProcessSupervisor,
  resolveAccount,
} from "../../backends/processes/mod.ts";
import {
  CpuSampler,
  findTunDevice,
  HostFigures,
  interfaceAddresses,
} from "../../backends/telemetry/mod.ts";
import { type VpnState, WireguardManager } from "../../backends/wireguard/mod.ts";
import type { QuixConfig } from "./config.ts";
import { CtlServer } from "./ctl_server.ts";
import { Dispatcher } from "./dispatcher.ts";
import { QuixError } from "./errors.ts";
import { buildHandlers, type QuixBackends } from "./handlers.ts";
import { QuixLink } from "./link.ts";
import { type RunningEntry, vpnConfReplySchema } from "./schemas.ts";
import { emptyToken, parseToken } from "./token_store.ts";

const MB = 1024 * 1024;

function parseRecords(data: unknown): ProcessRecord[] {
  if (!Array.isArray(data)) throw new TypeError("process records: not a list");
  return data.filter((r) =>
    typeof r === "object" && r !== null && Number.isInteger(r.pid) && Array.isArray(r.argv)
  ) as ProcessRecord[];
}

function childEnv(config: QuixConfig, workDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of config.env_allow) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
    try {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    } catch {
      // not readable with the agent's permissions
    }
  }
  env.PATH ??= config.default_path;
  env.HOME = workDir;
  return env;
}

/** One running `[quix]` service. */
export class QuixService implements Service<QuixConfig> {
  #link: QuixLink | null = null;
  #supervisor: ProcessSupervisor | null = null;
  #ctl: CtlServer | null = null;
  #client: Deno.HttpClient | null = null;
  #vpn: WireguardManager | null = null;
  #cpu: CpuSampler | null = null;
  #host: HostFigures | null = null;
  #ctx: ServiceContext<QuixConfig> | null = null;
  #vpnError: string | null = null;

  async start(ctx: ServiceContext<QuixConfig>): Promise<void> {
    this.#ctx = ctx;
    const c = ctx.config;
    if (!c.server_url) throw new Error("quix.server_url is not set");
    let url: URL;
    try {
      url = new URL(c.server_url);
    } catch {
      throw new Error(`quix.server_url: "${c.server_url}" is not a URL`);
    }
    if (url.protocol === "ws:" && !c.allow_insecure) {
      throw new Error("quix.server_url: ws:// needs quix.allow_insecure = true (use wss://)");
    }
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw new Error(`quix.server_url: expected wss:// or ws://, got "${url.protocol}"`);
    }
    const password = c.password_file
      ? (await Deno.readTextFile(c.password_file)).split("\n")[0]!.trim()
      : c.password;
    if (c.ca_file) {
      this.#client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(c.ca_file)] });
    }

    const workDir = resolve(c.work_dir);
    await Deno.mkdir(workDir, { recursive: true, mode: 0o750 });
    const runAs = c.run_as || ctx.agent.user;
    const account = Deno.uid() === 0 && runAs ? resolveAccount(runAs) : null;
    if (account) {
      await Deno.chown(workDir, account.uid, account.gid);
      if (!canUseDirectory(workDir, account)) {
        throw new Error(
          `quix.work_dir: "${workDir}" is not reachable by uid ${account.uid} (check the modes of its parent folders)`,
        );
      }
    }

    const records = await ctx.openDocument<ProcessRecord[]>({
      version: 1,
      empty: () => [],
      parse: parseRecords,
    }, "quix-processes");
    const reader = helperReader(ctx.runner);
    this.#supervisor = new ProcessSupervisor({
      document: records,
      reader,
      log: ctx.log,
      logDir: resolve(c.proc_log_dir || join(ctx.paths.log, "quix")),
      workDir,
      env: childEnv(c, workDir),
      account,
      allowedCommands: c.allowed_commands,
      titles: c.titles,
      rotate: { maxBytes: c.proc_log_max_bytes, keep: c.proc_log_keep },
      checkMs: c.check_ms,
    });
    const { adopted, exited } = await this.#supervisor.open();
    if (adopted + exited > 0) ctx.log.info("processes re-adopted", { adopted, exited });

    const vpnDoc = await ctx.openDocument<VpnState>({
      version: 1,
      empty: () => ({ hash: null, appliedAt: null, lastError: null }),
    }, "quix-vpn");
    this.#vpn = new WireguardManager({
      ifname: c.vpn_interface,
      dir: resolve(c.vpn_dir || join(ctx.paths.state, "quix-wireguard")),
      netns: c.vpn_netns,
      runner: ctx.runner,
      log: ctx.log,
      document: vpnDoc,
      allowDns: c.vpn_allow_dns,
    });
    await this.#vpn.open();
    this.#cpu = new CpuSampler();
    this.#host = new HostFigures({ runner: ctx.runner, readFiles: reader.readFiles });

    const token = await ctx.openDocument(
      { version: 1, empty: emptyToken, parse: parseToken },
      "quix-token",
    );
    const dispatcher = new Dispatcher({ table: buildHandlers(this.#backends()), log: ctx.log });
    this.#link = new QuixLink({
      settings: c,
      password,
      client: this.#client,
      token,
      dispatcher,
      log: ctx.log,
      onOnline: () => {
        if (c.vpn) void this.refreshVpn().catch(() => {});
      },
      onChange: () => this.#publish(),
    });

    const ctlPath = resolve(c.ctl_socket || join(ctx.paths.run, "quix.sock"));
    this.#ctl = new CtlServer(ctlPath, {
      status: () => this.status(),
      vpnRefresh: () => this.refreshVpn(),
    }, ctx.log);
    await this.#ctl.listen();
    this.#link.start();
    this.#publish();
    ctx.listening(`unix:${ctlPath}`);
  }

  async stop(): Promise<void> {
    await this.#ctl?.close();
    await this.#link?.stop();
    this.#supervisor?.close();
    try {
      this.#client?.close();
    } catch {
      // closed
    }
  }

  /** Asks the server for the WireGuard config and applies it. */
  async refreshVpn(): Promise<{ changed: boolean; ifname: string }> {
    const link = this.#link;
    const vpn = this.#vpn;
    const log = this.#ctx!.log;
    if (!link || !vpn) throw new QuixError("internal_error", "The service is not running");
    try {
      const raw = await link.request("get_vpn_conf", { conf_type: "wireguard", tun_mode: "udp" });
      const reply = vpnConfReplySchema.safeParse(raw);
      if (!reply.success) throw new QuixError("bad_request", "get_vpn_conf: malformed reply");
      if (reply.data.result !== "success") {
        throw new QuixError(
          "vpn_failed",
          `get_vpn_conf: ${reply.data.reason ?? reply.data.result}`,
        );
      }
      if (reply.data.conf_type !== "wireguard" || reply.data.conf_data === undefined) {
        throw new QuixError("invalid_config", `get_vpn_conf: conf_type "${reply.data.conf_type}"`);
      }
      const result = await vpn.apply(reply.data.conf_data);
      this.#vpnError = null;
      this.#publish();
      return result;
    } catch (error) {
      this.#vpnError = (error as Error).message;
      const refused = error instanceof QuixError && error.reason === "vpn_failed";
      (refused ? log.warn : log.error)("vpn config not applied; previous tunnel kept", { error });
      this.#publish();
      throw error;
    }
  }

  /** The status for ctl and /healthz. */
  status(): Record<string, unknown> {
    const link = this.#link?.status();
    const running = this.#supervisor?.running() ?? [];
    return {
      link,
      vpn: this.#vpn?.isLive() ? { ifname: this.#ctx?.config.vpn_interface, live: true } : null,
      vpnError: this.#vpnError,
      processes: running.map((r) => ({
        pid: r.pid,
        title: r.title,
        reqc: r.argv.join(" "),
        startedAt: r.startedAt,
        log: r.log,
      })),
      exited: (this.#supervisor?.records() ?? []).filter((r) => r.exit).slice(-20).map((r) => ({
        pid: r.pid,
        reqc: r.argv.join(" "),
        exit: r.exit,
      })),
    };
  }

  #publish(): void {
    const link = this.#link?.status();
    if (!link || !this.#ctx) return;
    this.#ctx.setDetail({
      link: link.state,
      lastError: link.lastError,
      authFailures: link.authFailures,
      superseded: link.superseded,
      nextRetryAt: link.nextRetryAt,
      tokenValid: link.token.valid,
      processes: this.#supervisor?.running().length ?? 0,
      vpnError: this.#vpnError,
    });
  }

  #backends(): QuixBackends {
    return {
      execute: async (argv, requestKey) => {
        const sup = this.#supervisor!;
        const seen = sup.findByRequest(requestKey, 300_000);
        if (seen) return { pid: seen.pid };
        const record = await sup.start(argv, { requestId: requestKey });
        this.#publish();
        return { pid: record.pid };
      },
      viewRunning: async (): Promise<RunningEntry[]> =>
        (await this.#supervisor!.sample()).map((f) => ({
          title: f.record.title,
          pid: f.record.pid,
          cpu_util: f.cpuPercent,
          mem_util: Math.round(f.rssBytes / MB),
          reqc: f.record.argv.join(" "),
          port_util: f.ports,
        })),
      signal: (pid, mode) => this.#supervisor!.signal(pid, mode),
      telemetry: async (types) => {
        const out: Record<string, unknown> = {};
        const host = types.includes("ttl_mem_usage") || types.includes("disk_util")
          ? await this.#host!.get()
          : null;
        for (const type of types) {
          if (type === "ttl_cpu_usage") out[type] = this.#cpu!.read();
          else if (type === "ttl_mem_usage") out[type] = host!.memory;
          else if (type === "disk_util") out[type] = host!.disks;
          else if (type === "vpn_status") out[type] = await this.#vpnStatus();
        }
        return out;
      },
    };
  }

  async #vpnStatus(): Promise<Record<string, string> | null> {
    const wg = await this.#vpn?.status();
    if (wg) {
      const live = this.#ctx?.config.vpn_netns
        ? { ip4: "", ip6: "" }
        : interfaceAddresses(wg.ifname);
      return {
        ifname: wg.ifname,
        conn_type: "wireguard",
        conn_host: wg.host,
        conn_ip4: live.ip4 || wg.ip4,
        conn_ip6: live.ip6 || wg.ip6,
      };
    }
    const tun = findTunDevice();
    if (!tun) return null;
    const { ip4, ip6 } = interfaceAddresses(tun);
    return { ifname: tun, conn_type: "openvpn", conn_host: "", conn_ip4: ip4, conn_ip6: ip6 };
  }
}
