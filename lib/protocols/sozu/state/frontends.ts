/**
 * Fronts in both eras: a v0.14 `HttpFrontend` (`route`, `path` rule, `method`, `position`, `tags`)
 * into the canonical {@linkcode HttpFront}, and back out — the 0.13 code shape for a front that
 * has nothing of 0.14, else the v0.14 shape, so SAVE_STATE, DUMP_STATE and QUERY show each front
 * as it can be given again.
 */
import type { FrontendInput, HttpFront } from "../order_schemas.ts";

/** The v0.14 wire shape of a front. */
export interface HttpFrontendJson {
  route: "DENY" | { CLUSTER_ID: string };
  address: string;
  hostname: string;
  path: { PREFIX: string } | { EQUALS: string } | { REGEX: string };
  method?: string;
  position: "PRE" | "TREE" | "POST";
  tags: Record<string, string> | null;
}

/** A v0.14 front in canonical form (the listener already resolved). */
export function frontFromFrontend(f: FrontendInput, address: string): HttpFront {
  const front: HttpFront = {
    app_id: f.route === "DENY" ? null : f.route.CLUSTER_ID,
    address,
    hostname: f.hostname,
    path_begin: f.path?.PREFIX ?? f.path?.EQUALS ?? f.path?.REGEX ?? "",
  };
  if (f.path?.EQUALS !== undefined) front.path_rule = "EQUALS";
  if (f.path?.REGEX !== undefined) front.path_rule = "REGEX";
  if (f.method) front.method = f.method;
  if (f.position === "PRE" || f.position === "POST") front.position = f.position;
  if (f.tags) front.tags = f.tags;
  return front;
}

/** Whether a front is expressible in the 0.13 shape. */
export function isPlainFront(f: HttpFront): boolean {
  return f.app_id !== null && f.path_rule === undefined && f.method === undefined &&
    f.position === undefined && f.tags === undefined;
}

/** The v0.14 shape of any front. */
export function frontendJson(f: HttpFront): HttpFrontendJson {
  const kind = f.path_rule ?? "PREFIX";
  const out: HttpFrontendJson = {
    route: f.app_id === null ? "DENY" : { CLUSTER_ID: f.app_id },
    address: f.address,
    hostname: f.hostname,
    path: { [kind]: f.path_begin } as HttpFrontendJson["path"],
    position: f.position ?? "TREE",
    tags: f.tags ?? null,
  };
  if (f.method !== undefined) out.method = f.method;
  return out;
}

/** A front as the wire shows it: 0.13 code shape when it can be, else v0.14. */
export function wireFront(f: HttpFront): HttpFront | HttpFrontendJson {
  return isPlainFront(f) ? f : frontendJson(f);
}

/** The v0.14 order name of a front order (`ADD_HTTP_FRONT` → `ADD_HTTP_FRONTEND`). */
export function frontendOrderName(type: string): string {
  return type.endsWith("_FRONT") ? `${type}END` : type;
}

/** A front of either shape as `host/path` text (`host =/path`, `host ~regex` for v0.14 rules). */
export function frontText(f: HttpFront | HttpFrontendJson): string {
  if (!("path" in f)) return `${f.hostname}${f.path_begin}`;
  const p = f.path as Partial<Record<"PREFIX" | "EQUALS" | "REGEX", string>>;
  if (p.EQUALS !== undefined) return `${f.hostname} =${p.EQUALS}`;
  if (p.REGEX !== undefined) return `${f.hostname} ~${p.REGEX}`;
  return `${f.hostname}${p.PREFIX ?? ""}`;
}
