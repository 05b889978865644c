/**
 * The crash-consistency run: a real agent (the fuzzer's safe config) takes a seeded sequence of
 * state-changing requests over every lane at once (`lanes.ts`) and is killed with SIGKILL at
 * seeded request numbers, a seeded 0–5 ms after that request was sent, so other requests are in
 * flight. After each restart the state it holds is compared with the model: every acknowledged
 * change is there, a request cut off by the kill left its key as before or as after (a profile
 * complete, never half a file), and nothing else changed.
 *
 * @module
 */
import { type FuzzAgent, relaunchFuzzAgent, startFuzzAgent } from "../fuzz/agent.ts";
import type { FuzzAgentOptions } from "../fuzz/agent.ts";
import { Rng } from "../fuzz/rng.ts";
import { QuixControlServer } from "../fuzz/targets/quix.ts";
import { closeMasqConnections, sozu } from "./clients.ts";
import { BACKEND_APP, type Lane, LANES, readValues, type Value } from "./lanes.ts";

/** Options for {@linkcode runCrash}. */
export interface CrashOptions {
  requests: number;
  seed: number;
  /** How many kill -9. @default {requests / 50, at least 1} */
  kills?: number;
  print(line: string): void;
}

/** What a crash run showed. */
export interface CrashReport {
  seed: number;
  requests: number;
  acknowledged: number;
  /** Requests cut off by a kill (either outcome allowed). */
  cutOff: number;
  kills: number;
  failures: string[];
  /** The run directory (kept when the run failed). */
  dir: string;
}

/** A change cut off by a kill: its key may hold either value. */
interface CutOff {
  before: Value;
  after: Value;
  text: string;
}

/** One stretch of requests between two restarts. */
interface Segment {
  /** The request number that schedules the kill (0: none). */
  killAt: number;
  scheduled: boolean;
  killed: boolean;
  kill: () => void;
  cut: Map<string, CutOff>;
}

/** The run's shared counters and model. */
interface RunState {
  sent: number;
  acknowledged: number;
  known: Map<string, Value>;
  failures: string[];
}

/** Requests a lane may still send once the kill is scheduled (so some are in flight). */
const AFTER_KILL = 3;

/**
 * The seeded number of requests before the next kill: between half and all of one kill's share
 * less what the lanes send after it is scheduled, so every kill fits in the run and the kills
 * spread over most of it.
 */
function killGap(rng: Rng, requests: number, kills: number): number {
  const share = Math.max(2, Math.floor(requests / Math.max(1, kills)) - AFTER_KILL * LANES.length);
  const half = Math.ceil(share / 2);
  return half + rng.int(share - half + 1);
}

/** Sends one lane's requests until the kill or the end; records cut-off requests. */
async function runLane(
  lane: Lane,
  rng: Rng,
  agent: FuzzAgent,
  run: RunState,
  segment: Segment,
  requests: number,
): Promise<void> {
  let afterKill = 0;
  while (!segment.killed && run.sent < requests && run.failures.length === 0) {
    if (segment.scheduled && ++afterKill > AFTER_KILL) return;
    const i = ++run.sent;
    const op = lane.next(rng, run.known);
    if (!segment.scheduled && segment.killAt > 0 && i >= segment.killAt) segment.kill();
    let problem: string | null;
    try {
      problem = await op.send(agent);
    } catch (error) {
      problem = (error as Error).message;
    }
    if (problem === null) {
      run.known.set(op.key, op.after);
      run.acknowledged++;
    } else if (segment.killed) {
      segment.cut.set(op.key, {
        before: run.known.get(op.key) ?? null,
        after: op.after,
        text: op.text,
      });
      return;
    } else {
      run.failures.push(`request ${i} (${lane.name}: ${op.text}) failed: ${problem}`);
    }
  }
}

/** Compares the agent's state with the model; adopts the outcome of cut-off requests. */
async function verify(agent: FuzzAgent, run: RunState, cut: Map<string, CutOff>): Promise<void> {
  const actual = await readValues(agent);
  for (const key of new Set([...run.known.keys(), ...actual.keys()])) {
    const want = run.known.get(key) ?? null;
    const got = actual.get(key) ?? null;
    const c = cut.get(key);
    if (c) {
      if (got !== c.before && got !== c.after) {
        run.failures.push(
          `${key}: "${c.text}" was cut off by the kill and left ${got} (before ${c.before}, after ${c.after})`,
        );
      }
    } else if (got !== want) {
      run.failures.push(
        want === null
          ? `${key}: holds ${got}, never acknowledged`
          : `${key}: acknowledged ${want}, holds ${got} after the restart`,
      );
    }
  }
  run.known = actual;
}

/** Runs the crash-consistency sequence. */
export async function runCrash(o: CrashOptions): Promise<CrashReport> {
  const rng = new Rng(o.seed, "crash");
  const plannedKills = o.kills ?? Math.max(1, Math.floor(o.requests / 50));
  const quix = await QuixControlServer.start();
  const options: FuzzAgentOptions = {
    quixUrl: quix.url,
    quixUser: quix.user,
    quixPassword: quix.password,
    label: "crash",
  };
  let agent = await startFuzzAgent(options);
  const run: RunState = { sent: 0, acknowledged: 0, known: new Map(), failures: [] };
  let cutOff = 0;
  let kills = 0;
  try {
    const base = await sozu(agent.endpoints.sozuSocket, "ADD_APPLICATION", { app_id: BACKEND_APP });
    if (base.status !== "OK") throw new Error(`ADD_APPLICATION ${BACKEND_APP}: ${base.message}`);
    run.known = await readValues(agent);
    for (let s = 0; run.sent < o.requests && run.failures.length === 0; s++) {
      const target = agent;
      const segment: Segment = {
        killAt: s < plannedKills ? run.sent + killGap(rng, o.requests, plannedKills) : 0,
        scheduled: false,
        killed: false,
        cut: new Map<string, CutOff>(),
        kill: () => {
          segment.scheduled = true;
          setTimeout(() => {
            segment.killed = true;
            Deno.kill(target.pid, "SIGKILL");
          }, rng.int(6));
        },
      };
      await Promise.all(
        LANES.map((lane) =>
          runLane(lane, new Rng(o.seed, `${lane.name}#${s}`), target, run, segment, o.requests)
        ),
      );
      if (!segment.scheduled || run.failures.length > 0) break;
      while (!segment.killed) await new Promise((r) => setTimeout(r, 5));
      await target.stop();
      kills++;
      cutOff += segment.cut.size;
      agent = await relaunchFuzzAgent(target, options);
      await verify(agent, run, segment.cut);
      o.print(
        `  kill ${kills} after request ${segment.killAt}: ${segment.cut.size} cut off, ` +
          `${run.acknowledged} acknowledged so far${run.failures.length ? ", FAILED" : ""}`,
      );
    }
    if (run.failures.length === 0) {
      await verify(agent, run, new Map());
      const health = await agent.health();
      if (health) run.failures.push(`health after the run: ${health}`);
    }
  } finally {
    await closeMasqConnections();
    await agent.stop();
    await quix.stop();
    if (run.failures.length === 0) {
      await Deno.remove(agent.dir, { recursive: true }).catch(() => {});
    }
  }
  return {
    seed: o.seed,
    requests: run.sent,
    acknowledged: run.acknowledged,
    cutOff,
    kills,
    failures: run.failures,
    dir: agent.dir,
  };
}
