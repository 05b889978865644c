/**
 * The `[cryptoded]` service's lifecycle: start builds the backends, the connections (re-adopting
 * running openvpn), the DNS override and the control socket, then auto-connects; stop closes the
 * socket and lets go of the tunnels (they keep running and are re-adopted on the next start).
 */
import { resolve } from "node:path";
import type { JsonDocument, Service, ServiceContext, StatusPageSource } from "../../core/mod.ts";
import type { CryptodedBackendFactory, CryptodedBackends } from "./backends.ts";
import type { CryptodedConfig } from "./config.ts";
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
  #server: CryptodedServer | null = null;
  #connections: CryptodedConnections | null = null;
  readonly #table: CryptodedHandlerTable = createCryptodedHandlers();
  #handlerContext: CryptodedHandlerContext | null = null;
  #socket = "";

  /** `makeBackends` builds the system side at start (definition.ts; a fake in tests). */
  constructor(makeBackends: CryptodedBackendFactory) {
    this.#makeBackends = makeBackends;
  }

  async start(ctx: ServiceContext<CryptodedConfig>): Promise<void> {
    const config = { ...ctx.config, profile_dir: resolve(ctx.config.profile_dir) };
    const backends = this.#makeBackends({
      config,
      runDir: resolve(ctx.paths.run, "cryptoded-tunnels"),
      logDir: resolve(ctx.paths.log, "cryptoded-tunnels"),
      runner: ctx.runner,
      log: ctx.log,
    });
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

  /** Opens the control socket. */
  async #listen(
    ctx: ServiceContext<CryptodedConfig>,
    config: CryptodedConfig,
    backends: CryptodedBackends,
    saved: JsonDocument<CryptodedSavedState>,
  ): Promise<void> {
    const gid = socketGroup(config, backends);
    this.#handlerContext = {
      config,
      connections: this.#connections!,
      dns: new DnsOverride(backends.dns, saved, ctx.log),
      profiles: backends.profiles,
      log: ctx.log,
    };
    this.#socket = config.socket;
    const server = new CryptodedServer({
      path: config.socket,
      gid,
      maxRequestBytes: config.max_request_bytes,
      maxClients: config.max_clients,
      table: this.#table,
      context: this.#handlerContext,
      peers: (paths) => backends.peers(paths),
      log: ctx.log,
      peersAreRoot: backends.ownUid === 0 && gid === null,
    });
    this.#server = server;
    await server.listen((error) => ctx.fail(error));
    ctx.listening(config.socket);
  }

  #showDetail(ctx: ServiceContext<CryptodedConfig>): void {
    const c = this.#connections;
    if (c) ctx.setDetail({ profiles: c.names().length, ...c.counts() });
  }

  /** The status page's cryptoded section; its action runs DISCONNECT through the handler table. */
  statusPage(): StatusPageSource {
    return cryptodedStatusPage({
      context: () => this.#handlerContext,
      table: this.#table,
      socket: this.#socket,
    });
  }

  async stop(): Promise<void> {
    this.#handlerContext = null;
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

/** The gid of `socket_group`, or null for a 0600 socket; throws when the group does not exist. */
function socketGroup(config: CryptodedConfig, backends: CryptodedBackends): number | null {
  if (!config.socket_group) return null;
  const gid = backends.lookupGroup(config.socket_group);
  if (gid === null) {
    throw new Error(`cryptoded.socket_group "${config.socket_group}" does not exist`);
  }
  return gid;
}
