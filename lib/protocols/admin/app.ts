/**
 * The admin HTTP API: /healthz, /metrics and the status page, as a Hono app that tests drive with
 * `app.request()`. Every response carries the security headers.
 */
import { Hono } from "hono";
import type { ServiceStatus } from "../../core/mod.ts";
import { type AgentProcessFigures, renderMetrics } from "./metrics.ts";
import { mountStatusPage, securityHeaders, type StatusPageOptions } from "./status/mod.ts";

/** What the admin app reads from the agent. */
export interface AdminSources {
  statuses(): ServiceStatus[];
  process(): AgentProcessFigures | Promise<AgentProcessFigures>;
  extraMetrics(): string;
  /** The status page's sources and rules; without them there is no page. */
  page?: StatusPageOptions;
  /** The agent process (pid, version, the last upgrade), shown by /healthz as `agent`. */
  agent?(): Record<string, unknown>;
}

/** Builds the admin app. */
export function createAdminApp(sources: AdminSources): Hono {
  const app = new Hono();
  app.use("*", securityHeaders());
  app.get("/healthz", (c) => {
    const now = Date.now();
    const services = sources.statuses().filter((s) => s.enabled).map((s) => ({
      name: s.name,
      state: s.state,
      up: s.state === "running",
      uptimeSeconds: s.state === "running" && s.startedAt !== null ? (now - s.startedAt) / 1000 : 0,
      restarts: s.restarts,
      lastError: s.lastError,
      listeners: s.listeners,
      ...(Object.keys(s.detail).length > 0 ? { detail: s.detail } : {}),
    }));
    const healthy = services.every((s) => s.up);
    const agent = sources.agent?.();
    return c.json(
      { status: healthy ? "ok" : "degraded", ...(agent ? { agent } : {}), services },
      healthy ? 200 : 503,
    );
  });
  app.get("/metrics", async (c) => {
    const body = renderMetrics(sources.statuses(), await sources.process(), sources.extraMetrics());
    return c.body(body, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  if (sources.page) mountStatusPage(app, sources.page);
  app.notFound((c) => c.json({ error: "not found" }, 404));
  return app;
}
