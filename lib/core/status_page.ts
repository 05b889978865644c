/**
 * What a service shows on the admin status page: plain JSON data in a small, generic shape
 * (sections of tables of cells) that the admin service renders without knowing the protocol, and
 * the few operator actions the service accepts from that page.
 */
import { InvalidError } from "./errors.ts";

/** How a cell reads at a glance; the page always prints the state in words too. */
export type StatusTone = "ok" | "warn" | "bad" | "idle";

/** A button that asks for confirmation, then runs `action` on `target` through the service. */
export interface StatusActionCell {
  action: { name: string; target: string; label: string };
}

/** A sparkline: `points` oldest first (one per interval), with the latest figure in words. */
export interface StatusSparkCell {
  spark: { points: number[]; label: string; unit: string };
}

/** A text with a tone (a state, an expiry date to highlight) and an optional tooltip. */
export interface StatusTextCell {
  text: string;
  tone?: StatusTone;
  title?: string;
}

/** One table cell: plain text or a number, nothing (shown as "—"), or one of the richer cells. */
export type StatusCell =
  | string
  | number
  | null
  | StatusTextCell
  | StatusSparkCell
  | StatusActionCell;

/** One table of a section. */
export interface StatusTable {
  /** Unique within the service; becomes part of an HTML id. */
  id: string;
  caption: string;
  columns: string[];
  rows: StatusCell[][];
  /** Shown instead of an empty table. */
  empty?: string;
  /** The column of action buttons (left out, with its header, while actions are off). */
  actionColumn?: number;
}

/** One service's part of the page. */
export interface StatusSection {
  /** Short facts shown as a definition list above the tables. */
  facts?: [string, StatusCell][];
  tables: StatusTable[];
}

/** What a service offers the status page (see `Service.statusPage`). */
export interface StatusPageSource {
  /** The current data; read at most about once a second, and only while someone watches. */
  snapshot(): StatusSection | Promise<StatusSection>;
  /**
   * Runs an operator action (one the snapshot offered) through the same handler as the
   * protocol's own request; resolves with a line for the operator, throws core's neutral errors.
   */
  act?(action: string, target: string): Promise<string>;
}

/** The agent-wide facts and the services' page sources, as the admin service sees them. */
export interface AgentStatusPages {
  /** Where the configuration came from (a file path or "built-in defaults"). */
  configSource: string;
  /** The running services that have a page, in start order. */
  services: { name: string; source: StatusPageSource }[];
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** A byte count in words ("1.5 MiB"), the exact figure as its tooltip. */
export function bytesCell(bytes: number): StatusTextCell {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0
    ? `${value} B`
    : `${value.toFixed(value < 10 ? 1 : 0)} ${BYTE_UNITS[unit]}`;
  return { text, title: `${bytes} bytes` };
}

/** A duration in words: "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function durationText(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** An action of a page: runs on the target, resolves with a line for the operator. */
export type StatusActionHandler = (target: string) => Promise<string>;

/** A `StatusPageSource.act` that runs the handler named by the action; unknown ones are invalid. */
export function statusActions(
  handlers: Readonly<Record<string, StatusActionHandler>>,
): (action: string, target: string) => Promise<string> {
  return (action, target) => {
    const handler = Object.hasOwn(handlers, action) ? handlers[action] : undefined;
    if (!handler) return Promise.reject(new InvalidError(`unknown action "${action}"`));
    return handler(target);
  };
}
