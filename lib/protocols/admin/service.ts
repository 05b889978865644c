/** The `[admin]` service: serves the admin app on a loopback TCP address. */
import {
  ListenerLimits,
  serveTcp,
  type Service,
  type ServiceContext,
  splitHostPort,
  type TcpHttpServer,
  VERSION,
} from "../../core/mod.ts";
import type { AdminConfig } from "./config.ts";
import {
  heapUsedBytes,
  LoopLagMonitor,
  openFdCount,
  residentBytes,
} from "../../backends/procfs/mod.ts";
import { createAdminApp } from "./app.ts";
import { isLoopbackHost } from "./status/mod.ts";

const processStart = Date.now() / 1000 - performance.now() / 1000;

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "this host";
  }
}

/** One running admin endpoint. */
export class AdminService implements Service<AdminConfig> {
  #server: TcpHttpServer | null = null;
  #lag = new LoopLagMonitor();

  async start(ctx: ServiceContext<AdminConfig>): Promise<void> {
    const { hostname, port } = splitHostPort(ctx.config.listen);
    const loopback = isLoopbackHost(hostname);
    if (!loopback && ctx.config.token === "") {
      ctx.log.warn("admin.listen is not loopback and admin.token is empty: the status page is off");
    }
    this.#lag.start();
    const app = createAdminApp({
      statuses: () => ctx.statuses(),
      ...(ctx.agentStatus ? { agent: ctx.agentStatus } : {}),
      extraMetrics: () => ctx.metrics(),
      process: async () => ({
        rssBytes: residentBytes(),
        heapUsedBytes: heapUsedBytes(),
        openFds: await openFdCount(),
        loopLagSeconds: this.#lag.lastSeconds,
        loopLagMaxSeconds: this.#lag.maxSeconds,
        startTimeSeconds: processStart,
      }),
      page: {
        statuses: () => ctx.statuses(),
        pages: () => ctx.statusPages?.() ?? null,
        version: VERSION,
        host: hostName(),
        startedAt: processStart * 1000,
        log: ctx.log,
        token: ctx.config.token,
        loopback,
        actions: ctx.config.actions,
        signal: ctx.signal,
      },
    });
    const { server, addr } = await serveTcp({
      hostname,
      port,
      signal: ctx.signal,
      limits: new ListenerLimits("admin", ctx.config.listen, ctx.config.limits, ctx.log),
      onError: (error) => {
        ctx.log.error("admin request failed", { error });
        return new Response("internal error\n", { status: 500 });
      },
    }, app.fetch);
    this.#server = server;
    ctx.listening(
      `http://${addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname}:${addr.port}`,
    );
  }

  async stop(): Promise<void> {
    this.#lag.stop();
    const server = this.#server;
    this.#server = null;
    if (server) {
      await server.shutdown().catch(() => {});
    }
  }
}
