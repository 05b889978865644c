/**
 * The status page's operator actions (only with `admin.actions = true`): `GET
 * /status/confirm?service&action&target` shows what will happen and a form; its same-origin
 * `POST /status/actions` with the CSRF token runs the action through the service's own protocol
 * handler (`StatusPageSource.act`), logs it, and answers with a page saying what happened. Only
 * an action the service's current snapshot offers can be confirmed.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import type { Logger, StatusActionCell } from "../../../core/mod.ts";
import { actionFailure } from "../errors.ts";
import type { StatusCollector } from "./collect.ts";
import { sameOriginPost } from "./guard.ts";
import { confirmPage, messagePage, PAGE_PATH } from "./render_page.ts";

/** The fields of an action, as the confirm link and the form carry them. */
export const actionFields = z.object({
  service: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, "expected a service name"),
  action: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "expected an action name"),
  target: z.string().min(1).max(600),
});

/** What the action routes need. */
export interface ActionContext {
  enabled: boolean;
  collector: StatusCollector;
  csrf: string;
  log: Logger;
}

/** The link of an action's confirm page. */
export function confirmLink(service: string, action: StatusActionCell["action"]): string {
  const q = new URLSearchParams({ service, action: action.name, target: action.target });
  return `${PAGE_PATH}/confirm?${q}`;
}

/** The action cell the current snapshot of `service` offers for (action, target), or null. */
async function offered(
  a: ActionContext,
  f: z.infer<typeof actionFields>,
): Promise<StatusActionCell["action"] | null> {
  const view = await a.collector.view();
  const section = view.parts.find((p) => p.name === f.service)?.section;
  for (const table of section?.tables ?? []) {
    for (const row of table.rows) {
      for (const cell of row) {
        if (typeof cell !== "object" || cell === null || !("action" in cell)) continue;
        if (cell.action.name === f.action && cell.action.target === f.target) return cell.action;
      }
    }
  }
  return null;
}

/** The client's address, when the server passed it (Deno.serve's `remoteAddr`). */
function peerOf(c: Context): string | null {
  const addr = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
  return addr?.hostname ?? null;
}

function off(c: Context): Response {
  return c.html(
    messagePage("Actions are off", "Set admin.actions = true to allow operator actions."),
    403,
  );
}

/** GET /status/confirm: the confirm step. */
export async function confirmRoute(c: Context, a: ActionContext): Promise<Response> {
  if (!a.enabled) return off(c);
  const fields = actionFields.safeParse(c.req.query());
  if (!fields.success) {
    return c.html(messagePage("Bad request", fields.error.issues[0]?.message ?? "invalid"), 400);
  }
  const action = await offered(a, fields.data);
  if (!action) {
    return c.html(messagePage("Not offered", "The page no longer offers this action."), 404);
  }
  return c.html(confirmPage({ ...fields.data, label: action.label, csrf: a.csrf }));
}

/** POST /status/actions: checks origin and CSRF token, runs the action, logs it. */
export async function actionRoute(c: Context, a: ActionContext): Promise<Response> {
  if (!a.enabled) return off(c);
  const form = Object.fromEntries(await c.req.formData().catch(() => new FormData()));
  if (!sameOriginPost(c, form, a.csrf)) {
    a.log.warn("status page action refused: not a same-origin form with the CSRF token");
    return c.html(messagePage("Refused", "Not a same-origin request with the page's token."), 403);
  }
  const fields = actionFields.safeParse(form);
  if (!fields.success) {
    const issue = fields.error.issues[0];
    return c.html(messagePage("Bad request", `${issue?.path.join(".")}: ${issue?.message}`), 400);
  }
  const { service, action, target } = fields.data;
  const source = a.collector.source(service);
  if (!source?.act || !await offered(a, fields.data)) {
    return c.html(messagePage("Not offered", `${service} does not offer "${action}" now.`), 404);
  }
  const logged = { of: service, action, target, peer: peerOf(c) };
  try {
    const outcome = await source.act(action, target);
    a.log.info("status page action", { ...logged, outcome });
    return c.html(messagePage("Done", outcome, "ok"));
  } catch (error) {
    const { status, message } = actionFailure(error, a.log);
    a.log.warn("status page action failed", { ...logged, error: message });
    return c.html(messagePage("Failed", message, "bad"), status as ContentfulStatusCode);
  }
}
