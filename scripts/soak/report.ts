/**
 * Prints a soak report: the samples as a table, each load's rate and counts, and the drift of
 * each figure after the warm-up with the verdict.
 *
 * @module
 */
import { tableLines } from "../fuzz/table.ts";
import type { SoakReport } from "./run.ts";

/** Prints the report. */
export function printSoakReport(r: SoakReport, print: (line: string) => void): void {
  print("");
  print(`soak, ${r.minutes} min: samples`);
  for (
    const line of tableLines(
      ["s", "RSS MB", "heap MB", "open fds", "children", "requests ok", "errors"],
      r.samples.map((s) => [
        String(s.seconds),
        s.rssMb.toFixed(1),
        s.heapMb.toFixed(1),
        String(s.fds),
        String(s.children),
        String(s.ok),
        String(s.errors),
      ]),
    )
  ) print(line);
  print("");
  for (
    const line of tableLines(
      ["load", "rate/s", "ok", "errors", "last error"],
      Object.entries(r.loads).map((
        [name, l],
      ) => [name, String(l.rate), String(l.ok), String(l.errors), l.lastError]),
    )
  ) print(line);
  print("");
  for (
    const line of tableLines(
      ["figure", "after warm-up", "end", "drift", "flat"],
      r.drift.map((d) => [
        d.figure,
        d.baseline.toFixed(1),
        d.end.toFixed(1),
        `${(d.drift * 100).toFixed(1)} %`,
        d.ok ? "yes" : "NO",
      ]),
    )
  ) print(line);
  print("");
  print(`services: ${r.health ?? "all up, no restart"}`);
  print(r.passed ? "soak passed" : "soak FAILED");
}
