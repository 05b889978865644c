/**
 * The CI run of `deno task soak`: one minute of mixed load on every service at once. It must
 * see no error in any load and no service restart, and open fds and children must stay flat.
 * RSS and the V8 heap are printed but not judged here: a Deno process is still warming up
 * (JIT, heap growth before its first major GC) for about two minutes, so their 10 % drift limit
 * is judged by `deno task soak --minutes 5` and longer (the README has a 30-minute table).
 */
import assert from "node:assert/strict";
import { printSoakReport } from "../../scripts/soak/report.ts";
import { runSoak } from "../../scripts/soak/run.ts";

Deno.test("soak: one minute of load on every service sees no error and flat fds", async () => {
  const log: string[] = [];
  const report = await runSoak({ minutes: 1, sampleSeconds: 6, print: (line) => log.push(line) });
  printSoakReport(report, (line) => log.push(line));
  console.log(log.filter((l) => !l.startsWith("  ")).join("\n"));
  const errors = Object.entries(report.loads).filter(([, l]) => l.errors > 0);
  assert.deepEqual(errors.map(([name, l]) => `${name}: ${l.lastError}`), []);
  assert.equal(report.health, null);
  for (const l of Object.values(report.loads)) assert.ok(l.ok > 0);
  for (const d of report.drift.filter((d) => d.figure === "open fds" || d.figure === "children")) {
    assert.ok(d.ok, `${d.figure} drifted from ${d.baseline} to ${d.end}`);
  }
});
