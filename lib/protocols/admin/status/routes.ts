/**
 * The status page's routes on the admin app: `/status` (the page), `/status/events` (the live
 * stream), `/status/data.json` (the same view as JSON), the assets, and the action routes; `/`
 * redirects to the page. Every route but the assets passes the token rule first.
 */
import type { Hono } from "hono";
import { actionRoute, confirmLink, confirmRoute } from "./actions.ts";
import { STATUS_CSS, STATUS_JS } from "./assets.ts";
import { StatusCollector, type StatusSources } from "./collect.ts";
import { StatusEvents } from "./events.ts";
import { pageAccess } from "./guard.ts";
import type { ActionLinks } from "./render_section.ts";
import { PAGE_PATH, renderFragments, statusPage } from "./render_page.ts";

/** Options of {@linkcode mountStatusPage}. */
export interface StatusPageOptions extends StatusSources {
  /** `admin.token` ("" = none). */
  token: string;
  /** Whether the admin listener is on a loopback address. */
  loopback: boolean;
  /** `admin.actions`. */
  actions: boolean;
  /** Aborted when the admin service stops: every live stream ends. */
  signal?: AbortSignal;
}

function randomHex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

const NO_STORE = { "cache-control": "no-store" };

function sinceOf(value: string | undefined): number | null {
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

/** Adds the status page to `app`. */
export function mountStatusPage(app: Hono, options: StatusPageOptions): void {
  const collector = new StatusCollector(options);
  const links = (service: string): ActionLinks =>
    options.actions ? (action) => confirmLink(service, action) : null;
  const render = async () => {
    const view = await collector.view();
    return { id: view.generatedAt, fragments: renderFragments(view, links) };
  };
  const events = new StatusEvents(render, options.log);
  options.signal?.addEventListener("abort", () => events.close(), { once: true });
  const actions = { enabled: options.actions, collector, csrf: randomHex(32), log: options.log };
  const guard = pageAccess(options);

  app.get("/", (c) => c.redirect(PAGE_PATH, 302));
  app.get(`${PAGE_PATH}/assets/status.css`, (c) =>
    c.body(STATUS_CSS, 200, {
      "content-type": "text/css; charset=utf-8",
      "cache-control": "max-age=300",
    }));
  app.get(`${PAGE_PATH}/assets/status.js`, (c) =>
    c.body(STATUS_JS, 200, {
      "content-type": "text/javascript; charset=utf-8",
      "cache-control": "max-age=300",
    }));
  app.use(PAGE_PATH, guard);
  app.use(`${PAGE_PATH}/*`, guard);
  app.get(PAGE_PATH, async (c) => {
    const view = await collector.view();
    const fragments = renderFragments(view, links);
    events.remember({ id: view.generatedAt, fragments });
    return c.html(statusPage(view, fragments), 200, NO_STORE);
  });
  app.get(`${PAGE_PATH}/data.json`, async (c) => c.json(await collector.view(), 200, NO_STORE));
  app.get(`${PAGE_PATH}/events`, (c) =>
    c.body(events.open(sinceOf(c.req.query("since"))), 200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    }));
  app.get(`${PAGE_PATH}/confirm`, (c) => confirmRoute(c, actions));
  app.post(`${PAGE_PATH}/actions`, (c) => actionRoute(c, actions));
}
