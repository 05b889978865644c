/**
 * `deno task soak [--minutes M] [--sample S] [--scale X]`: every service under a mixed load at
 * once for M minutes (default 1), then the table of samples (RSS, heap, open fds, children),
 * each load's counts, and the drift of each figure after the warm-up. Exit status 1 when a load
 * saw an error, a service restarted, or a figure drifted more than 10 %.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { printSoakReport } from "./soak/report.ts";
import { runSoak } from "./soak/run.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string" },
    sample: { type: "string" },
    scale: { type: "string" },
    help: { type: "boolean" },
  },
});
const usage = "usage: deno task soak [--minutes M] [--sample SECONDS] [--scale X]";
const num = (v: string | undefined, fallback: number) => {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(usage);
    Deno.exit(2);
  }
  return n;
};
if (values.help) {
  console.log(usage);
  Deno.exit(0);
}
const report = await runSoak({
  minutes: num(values.minutes, 1),
  ...(values.sample ? { sampleSeconds: num(values.sample, 10) } : {}),
  scale: num(values.scale, 1),
  print: (line) => console.log(line),
});
printSoakReport(report, (line) => console.log(line));
Deno.exit(report.passed ? 0 : 1);
