/**
 * HTML of the status page: the shell (stylesheet, the one script, a refresh every 10 s for
 * browsers without JavaScript), the agent header, the services table and one section per
 * service. The page is made of fragments with stable ids; the live stream sends the fragments
 * that changed. The confirm and message pages of actions use the same shell.
 */
import { durationText } from "../../../core/mod.ts";
import type { AgentView, ServicePart, ServiceRow } from "./collect.ts";
import { type ActionLinks, esc, factsHtml, idPart, sectionBodyHtml } from "./render_section.ts";

/** Where the page and its assets live. */
export const PAGE_PATH = "/status";
/** Seconds between reloads when JavaScript is off. */
const NO_SCRIPT_REFRESH_S = 10;

const STATE_TONES: Record<string, string> = {
  running: "ok",
  starting: "warn",
  stopping: "warn",
  backoff: "bad",
  failed: "bad",
  stopped: "idle",
};

function shell(title: string, body: string, live: boolean): string {
  const refresh = live
    ? `<noscript><meta http-equiv="refresh" content="${NO_SCRIPT_REFRESH_S}"></noscript>` +
      `<script src="${PAGE_PATH}/assets/status.js" defer></script>`
    : "";
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${esc(title)}</title><link rel="stylesheet" href="${PAGE_PATH}/assets/status.css">` +
    `${refresh}</head><body>${body}</body></html>`;
}

function stateBadge(state: string): string {
  return `<span class="tone tone-${STATE_TONES[state] ?? "warn"}">${esc(state)}</span>`;
}

function agentHtml(view: AgentView): string {
  const down = view.services.filter((s) => s.state !== "running").map((s) => s.name);
  const overall = view.overall === "ok"
    ? { text: `ok: all ${view.services.length} services running`, tone: "ok" as const }
    : { text: `degraded: ${down.join(", ")} not running`, tone: "bad" as const };
  return `<header id="agent"><h1>polyagent on ${esc(view.host)}</h1>` + factsHtml([
    ["State", overall],
    ["Version", view.version],
    ["Uptime", durationText(view.uptimeMs)],
    ["Host", view.host],
    ["Config", view.configSource],
    ["Updated", { text: new Date(view.generatedAt).toISOString().slice(11, 19) + " UTC" }],
  ], null) + `</header>`;
}

function serviceRowHtml(s: ServiceRow): string {
  const cells = [
    stateBadge(s.state),
    s.uptimeMs === null ? `<span class="none">—</span>` : esc(durationText(s.uptimeMs)),
    esc(String(s.restarts)),
    s.lastError ? esc(s.lastError) : `<span class="none">—</span>`,
    s.listeners.length > 0 ? s.listeners.map(esc).join("<br>") : `<span class="none">—</span>`,
  ];
  const labels = ["State", "Uptime", "Restarts", "Last error", "Listeners"];
  return `<tr><th scope="row" data-label="Service"><a href="#svc-${idPart(s.name)}">${
    esc(s.name)
  }</a></th>` + cells.map((c, i) => `<td data-label="${labels[i]}">${c}</td>`).join("") + "</tr>";
}

function servicesHtml(view: AgentView): string {
  return `<section id="services" aria-labelledby="services-h"><h2 id="services-h">Services</h2>` +
    `<table><caption>Every enabled service</caption><thead><tr><th scope="col">Service</th>` +
    `<th scope="col">State</th><th scope="col">Uptime</th><th scope="col">Restarts</th>` +
    `<th scope="col">Last error</th><th scope="col">Listeners</th></tr></thead><tbody>` +
    view.services.map(serviceRowHtml).join("") + `</tbody></table></section>`;
}

function partHtml(part: ServicePart, state: string, links: (name: string) => ActionLinks): string {
  const id = `svc-${idPart(part.name)}`;
  const body = part.section
    ? sectionBodyHtml(part.section, id, links(part.name))
    : `<p class="empty">${esc(part.error ?? "No data.")}</p>`;
  return `<section id="${id}" class="service" aria-labelledby="${id}-h"><h2 id="${id}-h">` +
    `${esc(part.name)} ${stateBadge(state)}</h2>${body}</section>`;
}

/** The page's fragments by element id, in page order. */
export function renderFragments(
  view: AgentView,
  links: (service: string) => ActionLinks,
): Map<string, string> {
  const out = new Map<string, string>();
  out.set("agent", agentHtml(view));
  out.set("services", servicesHtml(view));
  const states = new Map(view.services.map((s) => [s.name, s.state]));
  for (const part of view.parts) {
    out.set(`svc-${idPart(part.name)}`, partHtml(part, states.get(part.name) ?? "running", links));
  }
  return out;
}

/** The whole page around its fragments. */
export function statusPage(view: AgentView, fragments: Map<string, string>): string {
  const nav = view.parts.map((p) => `<li><a href="#svc-${idPart(p.name)}">${esc(p.name)}</a></li>`)
    .join("");
  const [agent, ...rest] = [...fragments.values()];
  return shell(
    `polyagent status — ${view.host}`,
    `<p id="live" class="live" role="status" aria-live="polite">Live updates need JavaScript: ` +
      `this page reloads every ${NO_SCRIPT_REFRESH_S} s.</p>${agent}` +
      `<nav aria-label="Services"><ul>${nav}</ul></nav><main id="status" data-view="${view.generatedAt}">${
        rest.join("")
      }</main>` +
      `<footer><p>Read-only unless admin.actions = true. Machine-readable: ` +
      `<a href="/healthz">/healthz</a>, <a href="/metrics">/metrics</a>, ` +
      `<a href="${PAGE_PATH}/data.json">${PAGE_PATH}/data.json</a>.</p></footer>`,
    true,
  );
}

/** A short page with a title, a message and a link back to the status page. */
export function messagePage(title: string, message: string, tone = "idle"): string {
  return shell(
    title,
    `<main class="message"><h1>${esc(title)}</h1><p class="tone tone-${tone}">${esc(message)}</p>` +
      `<p><a href="${PAGE_PATH}">Back to the status page</a></p></main>`,
    false,
  );
}

/** What an action's confirm page shows and posts. */
export interface ConfirmRequest {
  service: string;
  action: string;
  target: string;
  label: string;
  csrf: string;
}

/** The confirm step of an action: a same-origin form carrying the CSRF token. */
export function confirmPage(r: ConfirmRequest): string {
  const hidden = (name: string, value: string) =>
    `<input type="hidden" name="${name}" value="${esc(value)}">`;
  return shell(
    `Confirm: ${r.label}`,
    `<main class="message"><h1>Confirm: ${esc(r.label)}</h1><p>${esc(r.service)}: ${
      esc(r.label)
    } <strong>${esc(r.target)}</strong>?</p><form method="post" action="${PAGE_PATH}/actions">` +
      hidden("service", r.service) + hidden("action", r.action) + hidden("target", r.target) +
      hidden("csrf", r.csrf) +
      `<button type="submit">${
        esc(r.label)
      }</button> <a href="${PAGE_PATH}">Cancel</a></form></main>`,
    false,
  );
}
