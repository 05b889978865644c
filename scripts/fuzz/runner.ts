/**
 * The fuzz loop for one target: frames in batches (each batch a seeded mix of connections of 1 to
 * 32 frames and bursts of connections that close abruptly), and after every batch the checks:
 * the agent runs, /healthz shows every service up with no restart, the known-valid probe gets its
 * valid reply, the target's own process lives, RSS and open fds stay within bounds, and every
 * frame of the batch was answered in the protocol's form (or is silent by design). A failure names
 * the seed and the frame index, and how to replay it.
 *
 * @module
 */
import type { FuzzAgent, ProcessFigures } from "./agent.ts";
import { frameRng, Rng } from "./rng.ts";
import type { FuzzFrame, FuzzTarget } from "./target.ts";

/** Options for {@linkcode fuzzTarget}. */
export interface RunOptions {
  seed: number;
  /** First frame index. */
  from: number;
  /** Frames to send (at most). */
  frames: number;
  /** Stop starting batches after this time (ms since the epoch), or null. */
  deadline: number | null;
  /** Frames per checked batch. @default {100} */
  batch?: number;
  /** RSS limit of the agent, MB. */
  maxRssMb: number;
  /** Open fds allowed above the count at the start. */
  maxFdGrowth: number;
  /** Failures before the target is abandoned. @default {10} */
  maxFailures?: number;
  print(line: string): void;
}

/** What a target run showed. */
export interface TargetReport {
  name: string;
  frames: number;
  groups: number;
  bursts: number;
  replies: number;
  silentByDesign: number;
  failures: string[];
  seconds: number;
  rss: { start: number; max: number; end: number };
  fds: { start: number; max: number; end: number };
  /** Frames per mutation kind (the first word of each label). */
  kinds: Record<string, number>;
}

/** The frames of one connection (or one burst) within a batch. */
interface Group {
  frames: FuzzFrame[];
  burst: boolean;
}

/** Splits frames `start … start+count-1` into groups, seeded by the batch start. */
function planBatch(target: FuzzTarget, seed: number, start: number, count: number): Group[] {
  const rng = new Rng(seed, `${target.name}/batch@${start}`);
  const groups: Group[] = [];
  let index = start;
  while (index < start + count) {
    const burst = rng.chance(0.05);
    const want = rng.weighted([[30, 1], [50, rng.range(2, 8)], [20, rng.range(9, 32)]]);
    const frames: FuzzFrame[] = [];
    while (frames.length < want && index < start + count) {
      const frame = target.frame(frameRng(seed, target.name, index), index);
      index++;
      frames.push(frame);
      if (frame.endsConnection) break;
    }
    groups.push({ frames, burst });
  }
  return groups;
}

/** A frame's bytes for a person: JSON-escaped text, cut at 2,000 characters. */
function show(f: FuzzFrame): string {
  const text = new TextDecoder().decode(f.bytes);
  const cut = text.length > 2000 ? `… (${f.bytes.length} bytes)` : "";
  return `${f.binary ? "binary " : ""}${JSON.stringify(text.slice(0, 2000))}${cut}`;
}

function replayHint(name: string, seed: number, index: number, batchStart: number, n: number) {
  return `replay: deno task fuzz ${name} --seed ${seed} --replay ${index}` +
    ` (its batch: --from ${batchStart} --frames ${n})`;
}

/** Runs the checks after a batch; returns failures (fatal ones stop the target). */
async function checkAfterBatch(
  target: FuzzTarget,
  agent: FuzzAgent,
  o: RunOptions,
  baseFds: number,
  figures: ProcessFigures,
): Promise<{ failures: string[]; fatal: boolean }> {
  const failures: string[] = [];
  const exited = agent.exited();
  if (exited) return { failures: [`the agent exited (code ${exited.code})`], fatal: true };
  const health = await agent.health();
  if (health) return { failures: [`service not healthy: ${health}`], fatal: true };
  const alive = await target.alive?.();
  if (alive) return { failures: [alive], fatal: true };
  const probe = await target.probe();
  if (probe) failures.push(`known-valid probe failed: ${probe}`);
  if (figures.rssMb > o.maxRssMb) {
    return { failures: [`RSS ${figures.rssMb.toFixed(0)} MB over ${o.maxRssMb} MB`], fatal: true };
  }
  if (figures.fds > baseFds + o.maxFdGrowth) {
    failures.push(`open fds ${figures.fds}, ${figures.fds - baseFds} more than at the start`);
  }
  return { failures, fatal: false };
}

/** The report of a target before its first frame. */
function emptyReport(name: string, start: ProcessFigures): TargetReport {
  return {
    name,
    frames: 0,
    groups: 0,
    bursts: 0,
    replies: 0,
    silentByDesign: 0,
    failures: [],
    seconds: 0,
    rss: { start: start.rssMb, max: start.rssMb, end: start.rssMb },
    fds: { start: start.fds, max: start.fds, end: start.fds },
    kinds: {},
  };
}

/** Sends the frames of one batch (connections and bursts) and records what they showed. */
async function runBatch(
  target: FuzzTarget,
  o: RunOptions,
  at: number,
  count: number,
  report: TargetReport,
  fail: (line: string) => void,
): Promise<void> {
  for (const group of planBatch(target, o.seed, at, count)) {
    for (const f of group.frames) {
      const kind = f.label.split(" ")[0]!;
      report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
      if (o.frames === 1) o.print(`frame ${f.index} (${f.label}): ${show(f)}`);
    }
    report.frames += group.frames.length;
    if (group.burst) {
      report.bursts++;
      await target.burst(group.frames, new Rng(o.seed, `${target.name}/burst@${at}`));
      continue;
    }
    report.groups++;
    const outcome = await target.group(group.frames);
    report.replies += outcome.replies;
    report.silentByDesign += outcome.silentByDesign;
    for (const p of outcome.problems.slice(0, 5)) {
      const frame = group.frames.find((f) => f.index === p.index);
      fail(
        `frame=${p.index} (${frame?.label ?? "?"}): ${p.problem}\n  ` +
          replayHint(target.name, o.seed, p.index, at, count),
      );
    }
  }
}

/** Fuzzes one target against the running agent. */
export async function fuzzTarget(
  target: FuzzTarget,
  agent: FuzzAgent,
  o: RunOptions,
): Promise<TargetReport> {
  const batchSize = o.batch ?? 100;
  const t0 = performance.now();
  const figuresNow = () => target.figures?.() ?? agent.figures();
  const start = await figuresNow();
  const report = emptyReport(target.name, start);
  const fail = (line: string) => {
    report.failures.push(line);
    o.print(`FAIL ${target.name} seed=${o.seed} ${line}`);
  };
  let lastPrint = performance.now();
  const errorsBefore = agent.errors().count;
  for (let at = o.from; at < o.from + o.frames; at += batchSize) {
    if (o.deadline !== null && Date.now() > o.deadline) break;
    const count = Math.min(batchSize, o.from + o.frames - at);
    await runBatch(target, o, at, count, report, fail);
    const figures = await figuresNow();
    report.rss.max = Math.max(report.rss.max, figures.rssMb);
    report.fds.max = Math.max(report.fds.max, figures.fds);
    report.rss.end = figures.rssMb;
    report.fds.end = figures.fds;
    const checked = await checkAfterBatch(target, agent, o, start.fds, figures);
    for (const f of checked.failures) {
      fail(
        `after frames ${at}..${at + count - 1}: ${f}\n  ${
          replayHint(target.name, o.seed, at, at, count)
        }`,
      );
    }
    if (checked.fatal || report.failures.length >= (o.maxFailures ?? 10)) break;
    if (performance.now() - lastPrint > 10_000) {
      lastPrint = performance.now();
      o.print(
        `  ${target.name}: ${report.frames} frames, ${report.replies} replies checked, RSS ${
          figures.rssMb.toFixed(0)
        } MB, ${figures.fds} fds`,
      );
    }
  }
  const logged = agent.errors();
  if (logged.count > errorsBefore) {
    const lines = logged.first.slice(-Math.min(3, logged.count - errorsBefore));
    fail(
      `the agent logged ${logged.count - errorsBefore} error line(s), e.g.\n  ${
        lines.join("\n  ")
      }`,
    );
  }
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}
