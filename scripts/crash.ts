/**
 * `deno task crash [--requests N] [--seed S] [--kills K]`: the crash-consistency run
 * (`scripts/crash/run.ts`): N mixed state-changing requests (default 1,000) across sozu, cryptoded
 * and MASQ against a real agent, killed with SIGKILL K times (default N / 50) at seeded moments;
 * after each restart every acknowledged change must be there and nothing cut off half-applied.
 * Exit status 1 on a failure, with the seed to replay it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { runCrash } from "./crash/run.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string" },
    seed: { type: "string" },
    kills: { type: "string" },
    help: { type: "boolean" },
  },
});
const usage = "usage: deno task crash [--requests N] [--seed S] [--kills K]";
if (values.help) {
  console.log(usage);
  Deno.exit(0);
}
const int = (v: string | undefined, fallback: number, min: number) => {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < min) {
    console.error(usage);
    Deno.exit(2);
  }
  return n;
};
const requests = int(values.requests, 1000, 1);
const seed = int(values.seed, Math.floor(Math.random() * 2 ** 31), 0);
const kills = int(values.kills, Math.max(1, Math.floor(requests / 50)), 0);
console.log(`crash: seed ${seed}, ${requests} requests, ${kills} kills`);
const t0 = performance.now();
const report = await runCrash({ requests, seed, kills, print: (line) => console.log(line) });
const seconds = ((performance.now() - t0) / 1000).toFixed(1);
console.log(
  `crash: ${report.requests} requests, ${report.acknowledged} acknowledged, ${report.cutOff} cut ` +
    `off by ${report.kills} kills, ${seconds} s`,
);
if (report.failures.length > 0) {
  for (const f of report.failures.slice(0, 20)) console.log(`FAIL seed=${seed}: ${f}`);
  console.log(`replay: deno task crash --requests ${requests} --seed ${seed} --kills ${kills}`);
  console.log(`agent logs: ${report.dir}`);
  Deno.exit(1);
}
console.log("crash: passed");
