/**
 * The sozu part of the admin status page: listeners, applications with their fronts, backends
 * with the data plane's live figures (state, connections in use, requests/s and p99 over the last
 * minute, last error), certificates with their expiry. The one action, taking a backend out of
 * rotation, is a REMOVE_BACKEND order run through the same handler as on the command socket.
 */
import { X509Certificate } from "node:crypto";
import {
  InvalidError,
  type Logger,
  statusActions,
  type StatusCell,
  type StatusPageSource,
  type StatusSection,
  type StatusTable,
  UnavailableError,
} from "../../core/mod.ts";
import type { BackendFigures, DataPlane } from "../../backends/http_proxy/mod.ts";
import { dispatchSozuRequest, type SozuHandlers } from "./handlers.ts";
import { decodeRequest } from "./schemas.ts";
import { type ConfigState, frontText } from "./state/mod.ts";

/** Certificates expiring sooner than this are highlighted. */
const EXPIRY_WARNING_MS = 14 * 86_400_000;

/** What the page reads from the running service (null before start or after a stop). */
export interface SozuPageParts {
  state(): ConfigState | null;
  plane(): DataPlane | null;
  handlers(): SozuHandlers | null;
  proxyStopped(): boolean;
  socket: string;
  log: Logger;
}

type Dump = ReturnType<ConfigState["toJSON"]>;

/** A table of the section: id, caption, columns, rows and what an empty one says. */
function table(
  id: string,
  caption: string,
  columns: string[],
  rows: StatusCell[][],
  empty: string,
): StatusTable {
  return { id, caption, columns, rows, empty };
}

function listenerTable(dump: Dump): StatusTable {
  const rows: StatusCell[][] = [];
  const tables = [
    ["HTTP", dump.http_listeners],
    ["HTTPS", dump.https_listeners],
    ["TCP", dump.tcp_listeners],
  ];
  for (const [proto, table] of tables) {
    for (const [address, [, active]] of Object.entries(table as Dump["http_listeners"])) {
      rows.push([
        address,
        proto as string,
        active ? { text: "active", tone: "ok" } : { text: "inactive", tone: "idle" },
      ]);
    }
  }
  return table("listeners", "Listeners", ["Address", "Protocol", "State"], rows, "No listeners.");
}

function applicationTable(dump: Dump): StatusTable {
  const rows: StatusCell[][] = Object.entries(dump.applications).map(([id, app]) => {
    const fronts = [
      ...(dump.http_fronts[id] ?? []).map((f) => `http://${frontText(f)} on ${f.address}`),
      ...(dump.https_fronts[id] ?? []).map((f) => `https://${frontText(f)} on ${f.address}`),
      ...(dump.tcp_fronts[id] ?? []).map((f) => `tcp on ${f.address}`),
    ];
    return [
      id,
      fronts.length > 0 ? fronts.join("\n") : null,
      dump.backends[id]?.length ?? 0,
      app.sticky_session ? "yes" : "no",
    ];
  });
  const columns = ["Application", "Fronts", "Backends", "Sticky sessions"];
  return table("applications", "Applications", columns, rows, "No applications.");
}

function backendState(f: BackendFigures | undefined, backup: boolean): StatusCell {
  if (f?.down) return { text: backup ? "down (backup)" : "down", tone: "bad" };
  if (!f || f.stateAt === 0 && f.requests === 0) {
    return { text: backup ? "backup, not tried yet" : "not tried yet", tone: "idle" };
  }
  return backup ? { text: "backup, up", tone: "idle" } : { text: "up", tone: "ok" };
}

function lastError(f: BackendFigures | undefined): StatusCell {
  if (!f?.lastError) return null;
  return { text: f.lastError, title: new Date(f.lastErrorAt).toISOString() };
}

function backendTable(dump: Dump, figures: BackendFigures[], actions: boolean): StatusTable {
  const byKey = new Map(figures.map((f) => [`${f.clusterId} ${f.backendId} ${f.address}`, f]));
  const rows: StatusCell[][] = [];
  for (const [app, list] of Object.entries(dump.backends)) {
    for (const b of list) {
      const key = `${app} ${b.backend_id} ${b.address}`;
      const f = byKey.get(key);
      const row: StatusCell[] = [
        app,
        b.backend_id,
        b.address,
        backendState(f, b.backup === true),
        f?.active ?? 0,
        { spark: { points: f?.rps ?? [], label: "requests per second", unit: "/s" } },
        { spark: { points: f?.p99 ?? [], label: "p99 latency", unit: "ms" } },
        lastError(f),
      ];
      if (actions) {
        row.push({
          action: { name: "remove-backend", target: key, label: "Take out of rotation" },
        });
      }
      rows.push(row);
    }
  }
  const columns = ["Application", "Backend", "Address", "State", "Connections", "Requests/s"];
  columns.push("p99", "Last error", ...(actions ? ["Action"] : []));
  const out = table("backends", "Backends (last minute)", columns, rows, "No backends.");
  return actions ? { ...out, actionColumn: 8 } : out;
}

const expiries = new Map<string, number | null>();

/** The expiry (Unix ms) of a PEM certificate, cached by its text; null when it cannot be read. */
function expiryOf(pem: string): number | null {
  if (expiries.has(pem)) return expiries.get(pem)!;
  let at: number | null = null;
  try {
    at = Date.parse(new X509Certificate(pem).validTo);
  } catch {
    at = null;
  }
  if (expiries.size > 1000) expiries.clear();
  expiries.set(pem, Number.isNaN(at) ? null : at);
  return expiries.get(pem)!;
}

function expiryCell(at: number | null, now: number): StatusCell {
  if (at === null) return { text: "unreadable", tone: "warn" };
  const days = Math.floor((at - now) / 86_400_000);
  const date = new Date(at).toISOString().slice(0, 10);
  if (at <= now) return { text: `${date} (expired)`, tone: "bad" };
  if (at - now < EXPIRY_WARNING_MS) return { text: `${date} (in ${days} days)`, tone: "warn" };
  return { text: `${date} (in ${days} days)`, tone: "ok" };
}

function certificateTable(dump: Dump): StatusTable {
  const now = Date.now();
  const rows: StatusCell[][] = [];
  for (const [address, table] of Object.entries(dump.certificates)) {
    for (const [fingerprint, [cert, names]] of Object.entries(table)) {
      rows.push([
        address,
        names.join(", ") || null,
        { text: fingerprint.slice(0, 16) + "…", title: fingerprint },
        expiryCell(expiryOf(cert.certificate), now),
      ]);
    }
  }
  const columns = ["Listener", "Names", "Fingerprint", "Expires"];
  return table("certificates", "Certificates", columns, rows, "No certificates.");
}

/** The snapshot of the page. */
async function snapshot(parts: SozuPageParts): Promise<StatusSection> {
  const state = parts.state();
  const plane = parts.plane();
  const stopped = parts.proxyStopped();
  const facts: StatusSection["facts"] = [
    ["Proxy", stopped ? { text: "stopped", tone: "bad" } : { text: "running", tone: "ok" }],
    ["Workers", plane?.workers().length ?? 0],
    ["Command socket", parts.socket],
  ];
  if (!state) return { facts, tables: [] };
  const dump = state.toJSON();
  const figures = !stopped && plane?.backendStats
    ? await plane.backendStats().catch((error) => {
      parts.log.warn("backend figures unavailable", { error });
      return [];
    })
    : [];
  return {
    facts,
    tables: [
      listenerTable(dump),
      applicationTable(dump),
      backendTable(dump, figures, !stopped),
      certificateTable(dump),
    ],
  };
}

/** Takes a backend out of rotation: REMOVE_BACKEND through the command-socket handler. */
async function removeBackend(parts: SozuPageParts, target: string): Promise<string> {
  const handlers = parts.handlers();
  if (!handlers || parts.proxyStopped()) throw new UnavailableError("the proxy is stopped");
  const [app_id, backend_id, address, ...rest] = target.split(" ");
  if (!app_id || !backend_id || !address || rest.length > 0) {
    throw new InvalidError(`invalid backend "${target}"`);
  }
  const request = decodeRequest({
    id: `status-page-${Date.now()}`,
    version: 0,
    type: "PROXY",
    data: { type: "REMOVE_BACKEND", data: { app_id, backend_id, address } },
  });
  const after: (() => void)[] = [];
  const reply = await dispatchSozuRequest(handlers, request, {
    processing: () => {},
    afterReply: (fn) => after.push(fn),
  });
  for (const fn of after) fn();
  return `backend ${backend_id} (${address}) of ${app_id} removed from rotation` +
    (reply?.message ? `: ${reply.message}` : "");
}

/** The page source of a sozu service. */
export function sozuStatusPage(parts: SozuPageParts): StatusPageSource {
  return {
    snapshot: () => snapshot(parts),
    act: statusActions({ "remove-backend": (target) => removeBackend(parts, target) }),
  };
}
