/** The `[admin]` service: serves the admin app on a loopback TCP address. */
import { type Service, type ServiceContext, splitHostPort } from "../../core/mod.ts";
import type { AdminConfig } from "./config.ts";
import {
  heapUsedBytes,
  LoopLagMonitor,
  openFdCount,
  residentBytes,
} from "../../backends/procfs/mod.ts";
import { createAdminApp } from "./app.ts";

const processStart = Date.now() / 1000 - performance.now() / 1000;

/** One running admin endpoint. */
export class AdminService implements Service<AdminConfig> {
  #server: Deno.HttpServer | null = null;
  #lag = new LoopLagMonitor();

  async start(ctx: ServiceContext<AdminConfig>): Promise<void> {
    const { hostname, port } = splitHostPort(ctx.config.listen);
    this.#lag.start();
    const app = createAdminApp({
      statuses: () => ctx.statuses(),
      extraMetrics: () => ctx.metrics(),
      process: async () => ({
        rssBytes: residentBytes(),
        heapUsedBytes: heapUsedBytes(),
        openFds: await openFdCount(),
        loopLagSeconds: this.#lag.lastSeconds,
        loopLagMaxSeconds: this.#lag.maxSeconds,
        startTimeSeconds: processStart,
      }),
    });
    const ready = Promise.withResolvers<Deno.NetAddr>();
    this.#server = Deno.serve({
      hostname,
      port,
      signal: ctx.signal,
      onListen: (addr) => ready.resolve(addr as Deno.NetAddr),
      onError: (error) => {
        ctx.log.error("admin request failed", { error });
        return new Response("internal error\n", { status: 500 });
      },
    }, app.fetch);
    const addr = await ready.promise;
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
