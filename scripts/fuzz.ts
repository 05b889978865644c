/**
 * `deno task fuzz <protocol|http|all> [--frames N] [--requests N] [--seed S] [--minutes M] [--from I]
 * [--replay I] [--batch B] [--parallel] [--no-nginx]`: structure-aware, seeded fuzzing of a real agent on a
 * safe temporary config (see scripts/fuzz/agent.ts and the README, "Fuzzing and soak").
 * Protocols: cryptoded, sozu, intervirt, masq, masq-node, quix, admin; `http` is the proxy's data
 * plane (compared with nginx); `all` runs every one. Exit status 1 when anything failed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type ProtocolName, PROTOCOLS, runFuzz } from "./fuzz/run.ts";
import { printFuzzReport } from "./fuzz/report.ts";

const USAGE = `usage: deno task fuzz <${[...PROTOCOLS, "http", "all"].join("|")}> ` +
  "[--frames N] [--requests N] [--seed S] [--minutes M] [--from I] [--replay I] [--batch B] [--parallel] [--no-nginx]";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    frames: { type: "string" },
    requests: { type: "string" },
    seed: { type: "string" },
    minutes: { type: "string" },
    from: { type: "string" },
    replay: { type: "string" },
    batch: { type: "string" },
    "no-nginx": { type: "boolean" },
    parallel: { type: "boolean" },
    help: { type: "boolean" },
  },
});

const what = positionals[0];
const names = [...PROTOCOLS, "http"] as const;
if (values.help || !what || (what !== "all" && !(names as readonly string[]).includes(what))) {
  console.error(USAGE);
  Deno.exit(2);
}
const num = (v: string | undefined, fallback: number) => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`not a number: ${v}\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
};
const seed = num(values.seed, Math.floor(Math.random() * 2 ** 31));
const replay = values.replay !== undefined ? num(values.replay, 0) : null;
const targets = what === "all" ? names : [what as ProtocolName | "http"];
const minutes = values.minutes !== undefined ? num(values.minutes, 0) : null;
const frames = replay !== null ? 1 : num(values.frames, minutes !== null ? 1e12 : 2000);
console.log(
  `fuzz ${targets.join(", ")}: seed ${seed}${replay !== null ? `, replaying ${replay}` : ""}`,
);
const report = await runFuzz({
  targets,
  seed,
  frames,
  ...(values.requests && replay === null ? { httpRequests: num(values.requests, frames) } : {}),
  from: replay ?? num(values.from, 0),
  minutes,
  ...(replay !== null ? { batch: 1 } : values.batch ? { batch: num(values.batch, 100) } : {}),
  nginx: !values["no-nginx"],
  parallel: values.parallel ?? false,
  keepDir: true,
  print: (line) => console.log(line),
});
const failed = printFuzzReport(report, seed, (line) => console.log(line));
Deno.exit(failed ? 1 : 0);
