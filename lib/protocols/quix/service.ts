/**
 * The `[quix]` service's lifecycle: checks the server URL, reads the credentials, opens the
 * backends it was given (process supervisor, telemetry, WireGuard), builds the handler table over
 * them, starts the dialer (server.ts) and serves the status socket; `refreshVpn` asks the server
 * for the WireGuard config and applies it.
 */
import { join, resolve } from "node:path";
import {
  type Account,
  describeAccount,
  ForbiddenError,
  InvalidError,
  type Service,
  type ServiceContext,
  type StatusPageSource,
  ToolHealth,
  UnavailableError,
} from "../../core/mod.ts";
import type { ProcessRecord, ProcReader } from "../../backends/processes/mod.ts";
import type { VpnState } from "../../backends/wireguard/mod.ts";
import type { QuixConfig } from "./config.ts";
import type { QuixBackends, QuixProcesses, QuixTunnel } from "./definition.ts";
import { buildQuixHandlers, type QuixHandlerTable } from "./handlers.ts";
import { createQuixOperations } from "./operations.ts";
import { vpnConfReplySchema } from "./schemas.ts";
import { QuixDialer } from "./server.ts";
import { quixStatusPage } from "./status_page.ts";
import { QuixStatusSocket } from "./status_socket.ts";
import { emptyToken, parseToken } from "./token_store.ts";

/** The `reason` of the error when the server refuses to give a WireGuard config. */
const VPN_REFUSED = "vpn-refused";

function parseRecords(data: unknown): ProcessRecord[] {
  if (!Array.isArray(data)) throw new TypeError("process records: not a list");
  return data.filter((r) =>
    typeof r === "object" && r !== null && Number.isInteger(r.pid) && Array.isArray(r.argv)
  ) as ProcessRecord[];
}

/** Throws unless `server_url` is a wss:// URL (or ws:// with `allow_insecure`). */
function checkServerUrl(c: QuixConfig): void {
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
  #backends: QuixBackends;
  #dialer: QuixDialer | null = null;
  #processes: QuixProcesses | null = null;
  #statusSocket: QuixStatusSocket | null = null;
  #client: Deno.HttpClient | null = null;
  #tunnel: QuixTunnel | null = null;
  #ctx: ServiceContext<QuixConfig> | null = null;
  #vpnError: string | null = null;
  /** Whether wg-quick answers (`backend` in /healthz). */
  readonly #vpnHealth = new ToolHealth(() => this.#publish());
  #table: QuixHandlerTable | null = null;

  constructor(backends: QuixBackends) {
    this.#backends = backends;
  }

  async start(ctx: ServiceContext<QuixConfig>): Promise<void> {
    this.#ctx = ctx;
    const c = ctx.config;
    checkServerUrl(c);
    const { password, client } = await this.#backends.readCredentials(c);
    this.#client = client;
    const reader = this.#backends.procReader(ctx.runner);
    const processes = await this.#openProcesses(ctx, reader);
    const tunnel = await this.#openTunnel(ctx);
    const table = buildQuixHandlers(createQuixOperations({
      processes,
      cpu: this.#backends.cpu(),
      host: this.#backends.host({ runner: ctx.runner, readFiles: reader.readFiles }),
      tunnel,
      backends: this.#backends,
      netns: c.vpn_netns,
      vpnInterface: c.vpn_interface,
      onStarted: () => this.#publish(),
    }));
    this.#table = table;
    const token = await ctx.openDocument(
      { version: 1, empty: emptyToken, parse: parseToken },
      "quix-token",
    );
    this.#dialer = new QuixDialer({
      settings: c,
      password,
      client,
      token,
      table,
      log: ctx.log,
      onOnline: () => {
        if (c.vpn) void this.refreshVpn().catch(() => {});
      },
      onChange: () => this.#publish(),
    });
    const socketPath = resolve(c.ctl_socket || join(ctx.paths.run, "quix.sock"));
    this.#statusSocket = new QuixStatusSocket(
      socketPath,
      {
        status: () => this.status(),
        vpnRefresh: () => this.refreshVpn(),
      },
      ctx.log,
      c.limits,
    );
    await this.#statusSocket.listen();
    this.#dialer.start();
    this.#publish();
    ctx.listening(`unix:${socketPath}`);
  }

  async stop(): Promise<void> {
    await this.#statusSocket?.close();
    await this.#dialer?.stop();
    this.#processes?.close();
    try {
      this.#client?.close();
    } catch {
      // closed
    }
  }

  /** The status page's Quix section; its action restarts a process through the handlers. */
  statusPage(): StatusPageSource {
    return quixStatusPage({
      link: () => this.#dialer?.status() ?? null,
      processes: () => this.#processes,
      tunnel: () => this.#tunnel,
      table: () => this.#table,
      vpnInterface: this.#ctx?.config.vpn_interface ?? "",
      vpnError: () => this.#vpnError,
    });
  }

  /** Prepares the work folder and re-adopts the processes an earlier run left. */
  async #openProcesses(ctx: ServiceContext<QuixConfig>, reader: ProcReader) {
    const c = ctx.config;
    const workDir = resolve(c.work_dir);
    const account = this.#runAs(ctx);
    await this.#backends.prepareWorkDir(workDir, account).catch((error) => {
      if (error instanceof ForbiddenError) throw new Error(`quix.work_dir ${error.message}`);
      throw error;
    });
    const records = await ctx.openDocument<ProcessRecord[]>({
      version: 1,
      empty: () => [],
      parse: parseRecords,
    }, "quix-processes");
    const processes = this.#processes = this.#backends.processes({
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
    const { adopted, exited } = await processes.open();
    if (adopted + exited > 0) ctx.log.info("processes re-adopted", { adopted, exited });
    return processes;
  }

  /** The account `execute` runs as (null: the agent's own); running as root is logged loudly. */
  #runAs(ctx: ServiceContext<QuixConfig>): Account | null {
    let account: Account | null;
    try {
      account = this.#backends.runAsAccount(ctx.config.run_as, ctx.agent.user);
    } catch (error) {
      const key = ctx.config.run_as ? "quix.run_as" : "agent.user";
      throw new Error(`${key}: ${(error as Error).message}`);
    }
    if (account?.uid === 0 && !ctx.config.run_as) {
      throw new Error(
        `agent.user: "${ctx.agent.user}" is root; execute runs as root only with quix.run_as = "root"`,
      );
    }
    if (account?.uid === 0) {
      ctx.log.warn(
        'quix.run_as = "root": every command the control server sends with execute runs as root',
      );
    } else if (account) {
      ctx.log.info("execute runs processes as an unprivileged account", {
        account: describeAccount(account),
        uid: account.uid,
        gid: account.gid,
      });
    }
    return account;
  }

  async #openTunnel(ctx: ServiceContext<QuixConfig>): Promise<QuixTunnel> {
    const c = ctx.config;
    const document = await ctx.openDocument<VpnState>({
      version: 1,
      empty: () => ({ hash: null, appliedAt: null, lastError: null }),
    }, "quix-vpn");
    const tunnel = this.#tunnel = this.#backends.tunnel({
      ifname: c.vpn_interface,
      dir: resolve(c.vpn_dir || join(ctx.paths.state, "quix-wireguard")),
      netns: c.vpn_netns,
      runner: this.#vpnHealth.wrap(ctx.runner),
      timeoutMs: c.vpn_timeout_ms,
      log: ctx.log,
      document,
      allowDns: c.vpn_allow_dns,
    });
    await tunnel.open();
    return tunnel;
  }

  /** Asks the server for the WireGuard config and applies it. */
  async refreshVpn(): Promise<{ changed: boolean; ifname: string }> {
    const dialer = this.#dialer;
    const tunnel = this.#tunnel;
    const log = this.#ctx!.log;
    if (!dialer || !tunnel) throw new UnavailableError("The service is not running");
    try {
      const raw = await dialer.request("get_vpn_conf", { conf_type: "wireguard", tun_mode: "udp" });
      const result = await tunnel.apply(vpnConfData(raw));
      this.#vpnError = null;
      this.#publish();
      return result;
    } catch (error) {
      this.#vpnError = (error as Error).message;
      const refused = error instanceof UnavailableError && error.reason === VPN_REFUSED;
      (refused ? log.warn : log.error)("vpn config not applied; previous tunnel kept", { error });
      this.#publish();
      throw error;
    }
  }

  /** The status for ctl and /healthz. */
  status(): Record<string, unknown> {
    const link = this.#dialer?.status();
    const running = this.#processes?.running() ?? [];
    return {
      link,
      vpn: this.#tunnel?.isLive() ? { ifname: this.#ctx?.config.vpn_interface, live: true } : null,
      vpnError: this.#vpnError,
      processes: running.map((r) => ({
        pid: r.pid,
        title: r.title,
        reqc: r.argv.join(" "),
        startedAt: r.startedAt,
        log: r.log,
      })),
      exited: (this.#processes?.records() ?? []).filter((r) => r.exit).slice(-20).map((r) => ({
        pid: r.pid,
        reqc: r.argv.join(" "),
        exit: r.exit,
      })),
    };
  }

  #publish(): void {
    const link = this.#dialer?.status();
    if (!link || !this.#ctx) return;
    this.#ctx.setDetail({
      link: link.state,
      lastError: link.lastError,
      authFailures: link.authFailures,
      superseded: link.superseded,
      nextRetryAt: link.nextRetryAt,
      tokenValid: link.token.valid,
      processes: this.#processes?.running().length ?? 0,
      vpnError: this.#vpnError,
      backend: this.#vpnHealth.current,
    });
  }
}

/** The WireGuard config text of a `get_vpn_conf` reply; throws when there is none. */
function vpnConfData(raw: unknown): string {
  const reply = vpnConfReplySchema.safeParse(raw);
  if (!reply.success) throw new InvalidError("get_vpn_conf: malformed reply");
  if (reply.data.result !== "success") {
    throw new UnavailableError(`get_vpn_conf: ${reply.data.reason ?? reply.data.result}`, {
      reason: VPN_REFUSED,
    });
  }
  if (reply.data.conf_type !== "wireguard" || reply.data.conf_data === undefined) {
    throw new InvalidError(`get_vpn_conf: conf_type "${reply.data.conf_type}"`);
  }
  return reply.data.conf_data;
}
