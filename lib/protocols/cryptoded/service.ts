/**
 * The `[cryptoded]` service's lifecycle: start builds the backends, the connections (re-adopting
 * running openvpn), the DNS override and one control socket per enabled dialect (`socket`: the
 * document's, `v1_socket`: cryptode v1.x), writes the pid files the real clients signal, then
 * auto-connects. SIGUSR1 and SIGHUP reload the profiles. Stop closes the sockets, removes the pid
 * files and lets go of the tunnels (they keep running and are re-adopted on the next start).
 */
import { resolve } from "node:path";
import {
  errorText,
  type JsonDocument,
  type Logger,
  type Service,
  type ServiceContext,
  type StatusPageSource,
  type StopReason,
} from "../../core/mod.ts";
import type { CryptodedBackendFactory, CryptodedBackends } from "./backends.ts";
import type { CryptodedConfig } from "./config.ts";
import { type CryptodedDialect, documentDialect, v1Dialect } from "./dialect.ts";
import { DnsOverride } from "./dns_override.ts";
import {
  createCryptodedHandlers,
  type CryptodedHandlerContext,
  type CryptodedHandlerTable,
} from "./handlers.ts";
import { CryptodedServer } from "./server.ts";
import { cryptodedStatusPage } from "./status_page.ts";
import {
  CryptodedConnections,
  type CryptodedSavedState,
  emptySaved,
  parseSaved,
} from "./tunnels/mod.ts";

/** One running cryptoded. */
export class CryptodedService implements Service<CryptodedConfig> {
  readonly #makeBackends: CryptodedBackendFactory;
  #servers: CryptodedServer[] = [];
  #pidFiles: string[] = [];
  #backends: CryptodedBackends | null = null;
  #connections: CryptodedConnections | null = null;
  #log: Logger | null = null;
  /** The document dialect's table, also used by the status page's actions. */
  readonly #table: CryptodedHandlerTable = createCryptodedHandlers(documentDialect);
  #handlerContext: CryptodedHandlerContext | null = null;
  #socketNames = "";

  /** `makeBackends` builds the system side at start (definition.ts; a fake in tests). */
  constructor(makeBackends: CryptodedBackendFactory) {
    this.#makeBackends = makeBackends;
  }

  async start(ctx: ServiceContext<CryptodedConfig>): Promise<void> {
    const config = {
      ...ctx.config,
      profile_dir: resolve(ctx.config.profile_dir),
      socket: ctx.config.socket && resolve(ctx.config.socket),
      v1_socket: ctx.config.v1_socket && resolve(ctx.config.v1_socket),
      pid_file: ctx.config.pid_file && resolve(ctx.config.pid_file),
      v1_pid_file: ctx.config.v1_pid_file && resolve(ctx.config.v1_pid_file),
    };
    if (!config.socket && !config.v1_socket) {
      throw new Error('cryptoded.socket and cryptoded.v1_socket are both "": no socket to serve');
    }
    this.#log = ctx.log;
    const backends = this.#makeBackends({
      config,
      runDir: resolve(ctx.paths.run, "cryptoded-tunnels"),
      logDir: resolve(ctx.paths.log, "cryptoded-tunnels"),
      runner: ctx.runner,
      log: ctx.log,
    });
    this.#backends = backends;
    await backends.tunnels.prepare();
    await backends.profiles.ensureDir().catch((error) =>
      ctx.log.warn("cannot create the profile directory", { dir: ctx.config.profile_dir, error })
    );
    const saved = await ctx.openDocument<CryptodedSavedState>({
      version: 1,
      empty: emptySaved,
      parse: (data) => parseSaved(data),
    });
    const connections = new CryptodedConnections({
      config,
      backends,
      saved,
      log: ctx.log,
      agentUser: ctx.agent.user,
      onChange: () => this.#showDetail(ctx),
    });
    this.#connections = connections;
    await connections.load();
    await this.#listen(ctx, config, backends, saved);
    this.#showDetail(ctx);
    connections.autoConnect();
  }

  /** Opens the control socket of each enabled dialect, then writes its pid file. */
  async #listen(
    ctx: ServiceContext<CryptodedConfig>,
    config: CryptodedConfig,
    backends: CryptodedBackends,
    saved: JsonDocument<CryptodedSavedState>,
  ): Promise<void> {
    const gid = socketGroup(config, backends);
    const context: CryptodedHandlerContext = this.#handlerContext = {
      config,
      connections: this.#connections!,
      dns: new DnsOverride(backends.dns, saved, ctx.log),
      profiles: backends.profiles,
      log: ctx.log,
    };
    const sockets: [string, string, CryptodedDialect, string][] = [
      [config.socket, config.pid_file, documentDialect, "socket"],
      [config.v1_socket, config.v1_pid_file, v1Dialect, "v1_socket"],
    ];
    this.#socketNames = sockets.map(([path]) => path).filter((path) => path).join(", ");
    for (const [path, pidFile, dialect, key] of sockets) {
      if (!path) continue;
      const server = new CryptodedServer({
        path,
        dialect,
        gid,
        maxRequestBytes: config.max_request_bytes,
        maxClients: config.max_clients,
        limits: config.limits,
        table: dialect === documentDialect ? this.#table : createCryptodedHandlers(dialect),
        context,
        peers: (paths) => backends.peers(paths),
        log: ctx.log,
        peersAreRoot: backends.ownUid === 0 && gid === null,
      });
      this.#servers.push(server);
      await server.listen((error) => ctx.fail(error)).catch((error) => {
        throw new Error(`cryptoded.${key}: ${errorText(error)}`, { cause: error });
      });
      if (pidFile) {
        await backends.pidFiles.write(pidFile);
        this.#pidFiles.push(pidFile);
      }
      ctx.listening(`${path} (${dialect.name} dialect)`);
    }
  }

  /** SIGUSR1 (what the real clients send after import and remove) and SIGHUP reload. */
  async onSignal(signal: Deno.Signal): Promise<boolean> {
    const connections = this.#connections;
    if (!connections || (signal !== "SIGUSR1" && signal !== "SIGHUP")) return false;
    this.#log?.info("reloading profiles", { signal });
    const result = await connections.reload();
    this.#log?.info("profiles reloaded", { signal, ...result });
    return true;
  }

  #showDetail(ctx: ServiceContext<CryptodedConfig>): void {
    const c = this.#connections;
    if (!c) return;
    // the backend (openvpn and its management interface): degraded while a tunnel's last
    // attempt failed
    const failing = c.status({ all: true }).filter((v) => v.lastError !== null);
    const backend = failing.length === 0 ? { state: "ok" } : {
      state: "degraded",
      lastError: `${failing[0]!.name}: ${failing[0]!.lastError}`,
      failing: failing.map((v) => v.name),
    };
    ctx.setDetail({ profiles: c.names().length, ...c.counts(), backend });
  }

  /** The cryptoded part of the admin status page. */
  statusPage(): StatusPageSource {
    return cryptodedStatusPage({
      context: () => this.#handlerContext,
      table: this.#table,
      socket: this.#socketNames,
    });
  }

  async stop(reason?: StopReason): Promise<void> {
    this.#handlerContext = null;
    const servers = this.#servers;
    this.#servers = [];
    for (const server of servers) await server.close();
    const pidFiles = this.#pidFiles;
    this.#pidFiles = [];
    for (const path of pidFiles) await this.#backends?.pidFiles.remove(path);
    this.#connections?.detachAll(reason === "upgrade");
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

/** The gid of `socket_group`, or null for a 0600 socket; throws when the group does not exist. */
function socketGroup(config: CryptodedConfig, backends: CryptodedBackends): number | null {
  if (!config.socket_group) return null;
  const gid = backends.lookupGroup(config.socket_group);
  if (gid === null) {
    throw new Error(`cryptoded.socket_group "${config.socket_group}" does not exist`);
  }
  return gid;
}
