/**
 * A soak run: the agent on the fuzzer's safe config, every load at once for the given minutes,
 * and a sample of the agent's RSS, V8 heap (main isolate, from /metrics), open fds and long-lived
 * children every few seconds. The verdict: no error in any load, every service still up without a
 * restart, and each figure flat after the warm-up (the first fifth of the run): the median of the
 * last quarter of the samples (at least three) within 10 % of the median of the first quarter
 * after the warm-up (open fds: also 8 more are accepted, connections in flight; children: no
 * more).
 *
 * @module
 */
import { type FuzzAgent, startFuzzAgent } from "../fuzz/agent.ts";
import { startRecordingBackend } from "../fuzz/http/backend.ts";
import { routeProxy } from "../fuzz/http/run.ts";
import { QuixControlServer } from "../fuzz/targets/quix.ts";
import { allLoads, type LoadStats } from "./loads.ts";

/** One sample. */
export interface SoakSample {
  seconds: number;
  rssMb: number;
  heapMb: number;
  fds: number;
  children: number;
  /** Requests answered so far, all loads. */
  ok: number;
  errors: number;
}

/** A figure's drift after the warm-up. */
export interface Drift {
  figure: string;
  baseline: number;
  end: number;
  /** (end - baseline) / baseline. */
  drift: number;
  ok: boolean;
}

/** What a soak showed. */
export interface SoakReport {
  minutes: number;
  samples: SoakSample[];
  loads: Record<string, LoadStats & { rate: number }>;
  drift: Drift[];
  health: string | null;
  passed: boolean;
}

/** Options for {@linkcode runSoak}. */
export interface SoakOptions {
  minutes: number;
  /** Seconds between samples. @default {minutes * 3, between 5 and 60} */
  sampleSeconds?: number;
  /** Load scale (1 = the base rates). @default {1} */
  scale?: number;
  /** Allowed drift. @default {0.1} */
  maxDrift?: number;
  print(line: string): void;
}

async function heapMb(admin: string): Promise<number> {
  try {
    const text = await (await fetch(`http://${admin}/metrics`)).text();
    return Number(/^polyagent_heap_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN) / 2 ** 20;
  } catch {
    return NaN;
  }
}

async function sample(
  agent: FuzzAgent,
  t0: number,
  stats: Record<string, LoadStats>,
): Promise<SoakSample> {
  const f = await agent.figures();
  const all = Object.values(stats);
  return {
    seconds: Math.round((performance.now() - t0) / 1000),
    rssMb: f.rssMb,
    heapMb: await heapMb(agent.endpoints.admin),
    fds: f.fds,
    children: f.children,
    ok: all.reduce((n, s) => n + s.ok, 0),
    errors: all.reduce((n, s) => n + s.errors, 0),
  };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor((s.length - 1) / 2)]!;
}

/** The drift of each figure after the warm-up. */
export function drifts(samples: SoakSample[], warmSeconds: number, max: number): Drift[] {
  const after = samples.filter((s) => s.seconds >= warmSeconds);
  // medians over a quarter of the samples (at least three): one GC cycle does not decide
  const window = Math.max(3, Math.floor(after.length / 4));
  const head = after.slice(0, window);
  const tail = after.slice(-window);
  const figures: [string, (s: SoakSample) => number][] = [
    ["RSS MB", (s) => s.rssMb],
    ["heap MB", (s) => s.heapMb],
    ["open fds", (s) => s.fds],
    ["children", (s) => s.children],
  ];
  return figures.map(([figure, get]) => {
    const baseline = median(head.map(get));
    const end = median(tail.map(get));
    const drift = baseline === 0 ? (end === 0 ? 0 : Infinity) : (end - baseline) / baseline;
    // fds count the connections in flight at the moment of the sample: a few either way is noise
    const ok = figure === "children"
      ? end <= baseline
      : figure === "open fds"
      ? end - baseline <= Math.max(max * baseline, 8)
      : drift <= max;
    return { figure, baseline, end, drift, ok };
  });
}

/** Samples the agent every few seconds until the run's minutes are over. */
async function sampleUntil(
  agent: FuzzAgent,
  stats: Record<string, LoadStats>,
  o: SoakOptions,
): Promise<SoakSample[]> {
  const every = (o.sampleSeconds ?? Math.min(60, Math.max(5, o.minutes * 3))) * 1000;
  const t0 = performance.now();
  const samples: SoakSample[] = [await sample(agent, t0, stats)];
  const end = t0 + o.minutes * 60_000;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, Math.min(every, end - performance.now())));
    const s = await sample(agent, t0, stats);
    samples.push(s);
    o.print(
      `  ${s.seconds}s: RSS ${s.rssMb.toFixed(1)} MB, heap ${s.heapMb.toFixed(1)} MB, ` +
        `${s.fds} fds, ${s.children} children, ${s.ok} ok, ${s.errors} errors`,
    );
  }
  return samples;
}

/** Runs the soak. */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const quix = await QuixControlServer.start();
  const agent = await startFuzzAgent({
    quixUrl: quix.url,
    quixUser: quix.user,
    quixPassword: quix.password,
    label: "soak",
  });
  const backend = startRecordingBackend({ record: false });
  try {
    await routeProxy(agent, backend.address);
    await quix.session();
    const loads = allLoads({ ...agent.endpoints, quix }, o.scale ?? 1);
    const stats: Record<string, LoadStats> = {};
    for (const l of loads) stats[l.name] = { ok: 0, errors: 0, lastError: "" };
    o.print(
      `soak: agent pid ${agent.pid}, ${o.minutes} min, loads ${
        loads.map((l) => `${l.name} ${l.rate}/s`).join(", ")
      }`,
    );
    const abort = new AbortController();
    const running = loads.map((l) =>
      l.run(abort.signal, stats[l.name]!).catch((error) => {
        stats[l.name]!.errors++;
        stats[l.name]!.lastError = `load stopped: ${(error as Error).message}`;
      })
    );
    const samples = await sampleUntil(agent, stats, o);
    abort.abort();
    await Promise.all(running);
    const health = await agent.health();
    const drift = drifts(samples, o.minutes * 12, o.maxDrift ?? 0.1);
    const loadReport = Object.fromEntries(
      loads.map((l) => [l.name, { ...stats[l.name]!, rate: l.rate }]),
    );
    const errors = Object.values(stats).reduce((n, s) => n + s.errors, 0);
    return {
      minutes: o.minutes,
      samples,
      loads: loadReport,
      drift,
      health,
      passed: errors === 0 && health === null && drift.every((d) => d.ok),
    };
  } finally {
    await backend[Symbol.asyncDispose]();
    await agent.stop();
    await quix.stop();
    await Deno.remove(agent.dir, { recursive: true }).catch(() => {});
  }
}
