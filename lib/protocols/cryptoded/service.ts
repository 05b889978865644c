/** The `[cryptoded]` service: profiles, tunnels, the resolver and the control socket. */
import { resolve } from "node:path";
import type { Service, ServiceContext } from "../../core/mod.ts";
import { ensureDirs, lookupGroup } from "../../backends/openvpn/mod.ts";
import { DnsResolver } from "../../backends/resolver/mod.ts";
import type { CryptodedConfig } from "./config.ts";
import { Connections, emptySaved, type SavedState } from "./connections.ts";
import { createHandlerTable } from "./handlers.ts";
import { ControlServer } from "./server.ts";

function parseSaved(data: unknown): SavedState {
  const base = emptySaved();
  if (typeof data !== "object" || data === null) throw new TypeError("state is not an object");
  const d = data as Partial<SavedState>;
  return {
    scriptSecurity: typeof d.scriptSecurity === "boolean" ? d.scriptSecurity : null,
    dns: d.dns && Array.isArray(d.dns.servers) && typeof d.dns.backup === "object"
      ? d.dns
      : base.dns,
    preExec: typeof d.preExec === "object" && d.preExec !== null ? d.preExec : {},
    pending: Array.isArray(d.pending) ? d.pending.filter((n) => typeof n === "string") : [],
  };
}

/** One running cryptoded. */
export class CryptodedService implements Service<CryptodedConfig> {
  #server: ControlServer | null = null;
  #connections: Connections | null = null;

  async start(ctx: ServiceContext<CryptodedConfig>): Promise<void> {
    const config = ctx.config;
    const runDir = resolve(ctx.paths.run, "cryptoded-tunnels");
    const logDir = resolve(ctx.paths.log, "cryptoded-tunnels");
    await ensureDirs(runDir, logDir);
    await ensureDirs(resolve(config.profile_dir)).catch((error) =>
      ctx.log.warn("cannot create the profile directory", { dir: config.profile_dir, error })
    );
    const saved = await ctx.openDocument<SavedState>({
      version: 1,
      empty: emptySaved,
      parse: (data) => parseSaved(data),
    });
    const ownUid = Deno.uid() ?? 0;
    const connections = new Connections({
      config: { ...config, profile_dir: resolve(config.profile_dir) },
      agentUser: ctx.agent.user,
      runDir,
      logDir,
      runner: ctx.runner,
      log: ctx.log,
      saved,
      isRoot: ownUid === 0,
      ownUid,
      onChange: () =>
        ctx.setDetail({ profiles: connections.names().length, ...connections.counts() }),
    });
    this.#connections = connections;
    await connections.load();
    let gid: number | null = null;
    if (config.socket_group) {
      gid = lookupGroup(config.socket_group);
      if (gid === null) {
        throw new Error(`cryptoded.socket_group "${config.socket_group}" does not exist`);
      }
    }
    const resolver = new DnsResolver({
      method: config.dns_method,
      resolvConf: config.resolv_conf,
      interface: config.dns_interface,
      runner: ctx.runner,
      timeoutMs: 10_000,
    });
    const server = new ControlServer({
      path: config.socket,
      gid,
      maxRequestBytes: config.max_request_bytes,
      maxClients: config.max_clients,
      table: createHandlerTable(),
      context: {
        config: { ...config, profile_dir: resolve(config.profile_dir) },
        connections,
        resolver,
        saved,
        runner: ctx.runner,
        log: ctx.log,
      },
      runner: ctx.runner,
      log: ctx.log,
      peersAreRoot: ownUid === 0 && gid === null,
    });
    this.#server = server;
    await server.listen((error) => ctx.fail(error));
    ctx.listening(config.socket);
    ctx.setDetail({ profiles: connections.names().length, ...connections.counts() });
    connections.autoConnect();
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    await server?.close();
    this.#connections?.detachAll();
    this.#connections = null;
  }

  metrics(): string {
    const c = this.#connections;
    if (!c) return "";
    const counts = c.counts();
    let out = "# HELP polyagent_cryptoded_tunnels Tunnels by daemon status.\n" +
      "# TYPE polyagent_cryptoded_tunnels gauge\n";
    for (const [status, n] of Object.entries(counts)) {
      out += `polyagent_cryptoded_tunnels{status="${status}"} ${n}\n`;
    }
    return out;
  }
}
