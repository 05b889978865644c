/**
 * What the status page shows, gathered in one place: the agent's facts, every enabled service's
 * state, and each running service's own section (its `statusPage` snapshot). A view is built at
 * most once per {@linkcode VIEW_MAX_AGE_MS} however many pages and streams ask, and only when
 * someone asks.
 */
import {
  type AgentStatusPages,
  errorText,
  type Logger,
  type ServiceState,
  type ServiceStatus,
  type StatusPageSource,
  type StatusSection,
} from "../../../core/mod.ts";

/** A view younger than this is reused. */
export const VIEW_MAX_AGE_MS = 900;
/** A service's snapshot that takes longer is shown as unavailable. */
const SNAPSHOT_TIMEOUT_MS = 3000;

/** One row of the services table. */
export interface ServiceRow {
  name: string;
  state: ServiceState;
  /** ms since the last start while running, else null. */
  uptimeMs: number | null;
  restarts: number;
  lastError: string | null;
  listeners: string[];
}

/** A service's own section, or why it has none. */
export interface ServicePart {
  name: string;
  section: StatusSection | null;
  error: string | null;
}

/** Everything one rendering of the page needs. */
export interface AgentView {
  version: string;
  host: string;
  configSource: string;
  uptimeMs: number;
  /** "ok" when every enabled service runs. */
  overall: "ok" | "degraded";
  services: ServiceRow[];
  parts: ServicePart[];
  /** Unix ms. */
  generatedAt: number;
}

/** Where the collector reads from. */
export interface StatusSources {
  statuses(): ServiceStatus[];
  /** The services' page sources; null when the context has none (tests). */
  pages(): AgentStatusPages | null;
  version: string;
  host: string;
  /** Unix ms when the agent started. */
  startedAt: number;
  log: Logger;
}

function serviceRow(s: ServiceStatus, now: number): ServiceRow {
  return {
    name: s.name,
    state: s.state,
    uptimeMs: s.state === "running" && s.startedAt !== null ? now - s.startedAt : null,
    restarts: s.restarts,
    lastError: s.lastError,
    listeners: s.listeners,
  };
}

/** A snapshot, or the reason there is none, within {@linkcode SNAPSHOT_TIMEOUT_MS}. */
async function part(
  name: string,
  snapshot: () => StatusSection | Promise<StatusSection>,
): Promise<ServicePart> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no answer in time")), SNAPSHOT_TIMEOUT_MS);
  });
  try {
    const section = await Promise.race([Promise.resolve().then(snapshot), late]);
    return { name, section, error: null };
  } catch (error) {
    return { name, section: null, error: `no data: ${errorText(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Builds views, reusing a recent one. */
export class StatusCollector {
  #sources: StatusSources;
  #last: { at: number; view: Promise<AgentView> } | null = null;

  constructor(sources: StatusSources) {
    this.#sources = sources;
  }

  /** The current view (at most {@linkcode VIEW_MAX_AGE_MS} old). */
  view(): Promise<AgentView> {
    const now = Date.now();
    if (this.#last && now - this.#last.at < VIEW_MAX_AGE_MS) return this.#last.view;
    const view = this.#build(now);
    this.#last = { at: now, view };
    return view;
  }

  /** The page source of a running service, or null. */
  source(name: string): StatusPageSource | null {
    return this.#sources.pages()?.services.find((s) => s.name === name)?.source ?? null;
  }

  async #build(now: number): Promise<AgentView> {
    const src = this.#sources;
    const enabled = src.statuses().filter((s) => s.enabled);
    const pages = src.pages();
    const parts = await Promise.all(
      (pages?.services ?? []).map((p) => part(p.name, () => p.source.snapshot())),
    );
    for (const p of parts) {
      if (p.error) {
        src.log.debug("status page section unavailable", { service: p.name, error: p.error });
      }
    }
    return {
      version: src.version,
      host: src.host,
      configSource: pages?.configSource ?? "unknown",
      uptimeMs: now - src.startedAt,
      overall: enabled.every((s) => s.state === "running") ? "ok" : "degraded",
      services: enabled.map((s) => serviceRow(s, now)),
      parts,
      generatedAt: now,
    };
  }
}
