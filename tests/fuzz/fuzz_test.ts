/**
 * The CI pass of `deno task fuzz all`: a fixed seed, 2,000 frames for every protocol target and
 * 2,000 HTTP requests through the proxy (compared with nginx), all targets at once against one
 * real agent on the fuzzer's safe config. Any failure (a service down or restarted, a frame not
 * answered in the protocol's form, an internal error, a proxy violation) fails the test and the
 * report with replay commands is printed.
 */
import assert from "node:assert/strict";
import { backendTest } from "../_helpers/mod.ts";
import { printFuzzReport } from "../../scripts/fuzz/report.ts";
import { PROTOCOLS, runFuzz } from "../../scripts/fuzz/run.ts";

const SEED = 16;
const FRAMES = 2000;

backendTest(
  "fuzz: a seeded pass of every protocol and the HTTP data plane finds nothing",
  { tools: ["nginx"] },
  async () => {
    const log: string[] = [];
    const report = await runFuzz({
      targets: [...PROTOCOLS, "http"],
      seed: SEED,
      frames: FRAMES,
      httpRequests: FRAMES,
      parallel: true,
      nginx: true,
      print: (line) => log.push(line),
    });
    const failed = printFuzzReport(report, SEED, (line) => log.push(line));
    if (failed) console.log(log.join("\n"));
    assert.equal(failed, false, "the fuzz pass failed (report above)");
    assert.deepEqual(report.targets.map((t) => t.name).sort(), [...PROTOCOLS].sort());
    for (const t of report.targets) assert.equal(t.frames, FRAMES, `${t.name} frames`);
    assert.ok((report.http?.requests ?? 0) >= FRAMES, "HTTP requests sent");
    assert.ok(report.http?.nginxCompared, "nginx compared");
  },
);
