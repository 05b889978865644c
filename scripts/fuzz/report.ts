/**
 * Prints a fuzz run's reports: one table row per protocol target (frames, replies checked, frames
 * silent by design, failures, time, RSS and open fds at start / max / end), the HTTP summary
 * (requests, outcomes at the proxy, failures, the largest groups of disagreements with nginx),
 * and every failure with its replay command.
 *
 * @module
 */
import { tableLines } from "./table.ts";
import type { HttpReport } from "./http/run.ts";
import type { FuzzRunReport } from "./run.ts";

const f0 = (n: number) => Number.isFinite(n) ? n.toFixed(0) : "n/a";

const HEADER = [
  "target",
  "frames",
  "replies checked",
  "silent by design",
  "bursts",
  "failures",
  "s",
  "frames/s",
  "RSS MB start/max/end",
  "fds start/max/end",
];

function printTargets(report: FuzzRunReport, seed: number, print: (line: string) => void): void {
  print("");
  print(`protocol fuzz, seed ${seed}, agent pid ${report.agentPid}:`);
  const rows = report.targets.map((t) => [
    t.name,
    String(t.frames),
    String(t.replies),
    String(t.silentByDesign),
    String(t.bursts),
    String(t.failures.length),
    t.seconds.toFixed(1),
    f0(t.frames / t.seconds),
    `${f0(t.rss.start)} / ${f0(t.rss.max)} / ${f0(t.rss.end)}`,
    `${t.fds.start} / ${t.fds.max} / ${t.fds.end}`,
  ]);
  for (const line of tableLines(HEADER, rows)) print(line);
  for (const t of report.targets) {
    const kinds = Object.entries(t.kinds).sort((a, b) => b[1] - a[1]).slice(0, 12);
    print(`  ${t.name} frames by mutation: ${kinds.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  }
}

function printHttp(h: HttpReport, seed: number, print: (line: string) => void): void {
  const counts = (o: Record<string, number>) =>
    Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(", ");
  print("");
  print(
    `http data plane, seed ${seed}: ${h.requests} requests on ${h.connections} connections in ` +
      `${h.seconds.toFixed(1)} s, ${h.failures.length} failures, agent RSS ` +
      `${f0(h.rss.start)} / ${f0(h.rss.max)} / ${f0(h.rss.end)} MB`,
  );
  print(`  at the proxy: ${counts(h.outcomes)}`);
  if (!h.nginxCompared) return;
  print(
    `  nginx's backend refused ${h.nginxBackendViolations} forwarded heads or bodies: ` +
      (counts(h.nginxViolationKinds) || "none"),
  );
  print(
    `  nginx compared: ${h.disagreeingRequests} requests disagree, in ${h.disagreements.length} ` +
      `groups:`,
  );
  for (const d of h.disagreements.slice(0, 40)) {
    print(`    ${d.count}× ${d.key} (e.g. connection ${d.examples.join(", ")})`);
  }
}

/** Prints the report; returns true when anything failed. */
export function printFuzzReport(
  report: FuzzRunReport,
  seed: number,
  print: (line: string) => void,
): boolean {
  if (report.targets.length > 0) printTargets(report, seed, print);
  if (report.http) printHttp(report.http, seed, print);
  const all = [
    ...report.failures,
    ...report.targets.flatMap((t) => t.failures.map((x) => `${t.name}: ${x}`)),
    ...(report.http?.failures ?? []).map((x) => `http: ${x}`),
  ];
  print("");
  print(all.length === 0 ? "no failures" : `${all.length} failure(s):`);
  for (const line of all.slice(0, 60)) print(`  ${line}`);
  return all.length > 0;
}
