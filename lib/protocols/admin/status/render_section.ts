/**
 * HTML of one service's section: its facts as a definition list and its tables as semantic tables
 * (caption, column headers, a `data-label` per cell so narrow screens can stack the rows). Every
 * state is printed in words; tone classes only add colour. Sparklines are inline SVG.
 */
import type {
  StatusActionCell,
  StatusCell,
  StatusSection,
  StatusSparkCell,
  StatusTable,
  StatusTextCell,
} from "../../../core/mod.ts";

/** Escapes text for HTML content and attribute values. */
export function esc(value: string): string {
  return value.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&#39;",
  );
}

/** An id fragment made of safe characters only. */
export function idPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, "-");
}

/** How the section's actions are rendered: off, or links to the confirm page of a service. */
export type ActionLinks = ((action: StatusActionCell["action"]) => string) | null;

function isAction(cell: StatusCell): cell is StatusActionCell {
  return typeof cell === "object" && cell !== null && "action" in cell;
}

function figure(value: number, unit: string): string {
  const text = value >= 100 || Number.isInteger(value)
    ? Math.round(value).toString()
    : value.toFixed(value < 10 ? 1 : 0);
  return unit === "/s" ? `${text}/s` : `${text} ${unit}`;
}

const SPARK_W = 90;
const SPARK_H = 24;

/** An inline SVG sparkline with the latest and peak figures in words. */
export function sparkline(spark: StatusSparkCell["spark"]): string {
  const points = spark.points;
  const peak = points.reduce((a, b) => Math.max(a, b), 0);
  const last = points.at(-1) ?? 0;
  const step = points.length > 1 ? SPARK_W / (points.length - 1) : SPARK_W;
  const coords = points.map((p, i) => {
    const y = SPARK_H - 1 - (peak > 0 ? (p / peak) * (SPARK_H - 2) : 0);
    return `${(i * step).toFixed(1)},${y.toFixed(1)}`;
  }).join(" ");
  const words = `${spark.label}, last minute: now ${figure(last, spark.unit)}, peak ${
    figure(peak, spark.unit)
  }`;
  return `<span class="spark"><svg viewBox="0 0 ${SPARK_W} ${SPARK_H}" width="${SPARK_W}" ` +
    `height="${SPARK_H}" role="img" aria-label="${esc(words)}"><title>${esc(words)}</title>` +
    (coords ? `<polyline points="${coords}"/>` : "") +
    `</svg><span class="figure">${esc(figure(last, spark.unit))}</span></span>`;
}

function textCell(cell: StatusTextCell): string {
  const tone = cell.tone ? ` class="tone tone-${cell.tone}"` : "";
  const title = cell.title ? ` title="${esc(cell.title)}"` : "";
  return `<span${tone}${title}>${esc(cell.text).replaceAll("\n", "<br>")}</span>`;
}

/** The HTML of one cell. */
export function cellHtml(cell: StatusCell, links: ActionLinks): string {
  if (cell === null || cell === "") return `<span class="none">—</span>`;
  if (typeof cell === "number") return esc(String(cell));
  if (typeof cell === "string") return esc(cell).replaceAll("\n", "<br>");
  if ("spark" in cell) return sparkline(cell.spark);
  if ("action" in cell) {
    return links
      ? `<a class="button" href="${esc(links(cell.action))}">${esc(cell.action.label)}</a>`
      : "";
  }
  return textCell(cell);
}

/** The columns to show: without actions, a column of action buttons is left out. */
function shownColumns(table: StatusTable, links: ActionLinks): number[] {
  const all = table.columns.map((_, i) => i);
  if (links) return all;
  return all.filter((i) =>
    i !== table.actionColumn && !table.rows.some((row) => isAction(row[i] ?? null))
  );
}

/** The HTML of one table; `prefix` makes its id unique on the page. */
export function tableHtml(table: StatusTable, prefix: string, links: ActionLinks): string {
  const id = `${prefix}-${idPart(table.id)}`;
  if (table.rows.length === 0) {
    return `<h3 id="${id}">${esc(table.caption)}</h3><p class="empty">${
      esc(table.empty ?? "Nothing to show.")
    }</p>`;
  }
  const cols = shownColumns(table, links);
  const head = cols.map((i) => `<th scope="col">${esc(table.columns[i]!)}</th>`).join("");
  const body = table.rows.map((row) =>
    "<tr>" + cols.map((i) => {
      const label = esc(table.columns[i]!);
      const tag = i === 0 ? `th scope="row"` : "td";
      return `<${tag} data-label="${label}">${cellHtml(row[i] ?? null, links)}</${
        tag.slice(0, 2)
      }>`;
    }).join("") + "</tr>"
  ).join("");
  return `<table id="${id}"><caption>${esc(table.caption)}</caption><thead><tr>${head}</tr>` +
    `</thead><tbody>${body}</tbody></table>`;
}

/** A definition list of facts. */
export function factsHtml(facts: readonly [string, StatusCell][], links: ActionLinks): string {
  if (facts.length === 0) return "";
  return `<dl class="facts">${
    facts.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd>${cellHtml(v, links)}</dd></div>`).join("")
  }</dl>`;
}

/** The body of a service's section: facts, then tables. */
export function sectionBodyHtml(
  section: StatusSection,
  prefix: string,
  links: ActionLinks,
): string {
  return factsHtml(section.facts ?? [], links) +
    section.tables.map((t) => tableHtml(t, prefix, links)).join("");
}
