/**
 * The short crash-consistency pass CI runs (`deno task crash` does the long one): 100 mixed
 * state-changing requests over sozu, cryptoded and MASQ with five kill -9 of the agent at seeded
 * moments; after each restart every acknowledged change is there and nothing cut off is
 * half-applied.
 */
import assert from "node:assert/strict";
import { runCrash } from "../../scripts/crash/run.ts";

Deno.test("faults: 100 requests with 5 kill -9 lose no acknowledged change and half-apply nothing", async () => {
  const seed = 16;
  const report = await runCrash({ requests: 100, seed, kills: 5, print: () => {} });
  assert.deepEqual(
    report.failures,
    [],
    `seed ${seed} (replay: deno task crash --requests 100 --seed ${seed} --kills 5)`,
  );
  assert.equal(report.kills, 5);
  assert.ok(report.acknowledged > 50, `only ${report.acknowledged} acknowledged`);
});
