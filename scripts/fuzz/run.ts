/**
 * A whole fuzz run: the Quix control server, the agent on its safe config, then each chosen
 * target in turn (and the HTTP data plane), all against the same agent process, so "no restart"
 * covers the whole run. Returns the reports; the caller prints them and sets the exit status.
 *
 * @module
 */
import { startFuzzAgent } from "./agent.ts";
import { fuzzHttp, type HttpReport } from "./http/run.ts";
import { fuzzTarget, type TargetReport } from "./runner.ts";
import type { FuzzTarget } from "./target.ts";
import { AdminTarget } from "./targets/admin.ts";
import { CryptodedTarget } from "./targets/cryptoded.ts";
import { IntervirtTarget } from "./targets/intervirt.ts";
import { MasqDaemonTarget } from "./targets/masq.ts";
import { MasqNodeTarget } from "./targets/masq_node.ts";
import { QuixControlServer, QuixTarget } from "./targets/quix.ts";
import { SozuTarget } from "./targets/sozu.ts";
import type { FuzzAgent } from "./agent.ts";

/** Every protocol target, in run order. */
export const PROTOCOLS = [
  "cryptoded",
  "sozu",
  "intervirt",
  "masq",
  "masq-node",
  "quix",
  "admin",
] as const;

/** A protocol target name. */
export type ProtocolName = typeof PROTOCOLS[number];

/** Options for {@linkcode runFuzz}. */
export interface FuzzRunOptions {
  targets: readonly (ProtocolName | "http")[];
  seed: number;
  /** Frames per protocol (HTTP: requests). */
  frames: number;
  /** HTTP requests (defaults to `frames`). */
  httpRequests?: number;
  from?: number;
  /** Wall-clock budget per target, minutes (null: none). */
  minutes?: number | null;
  batch?: number;
  maxRssMb?: number;
  maxFdGrowth?: number;
  /** Compare the HTTP corpus with nginx. @default {true} */
  nginx?: boolean;
  /** Keep the run directory (logs, the disagreement list). @default {false} */
  keepDir?: boolean;
  /** Run every target at the same time (each still checks after its own batches). */
  parallel?: boolean;
  print(line: string): void;
}

/** The reports of a run. */
export interface FuzzRunReport {
  targets: TargetReport[];
  http: HttpReport | null;
  agentPid: number;
  /** Failures outside any one target (the agent did not start, a target could not open). */
  failures: string[];
}

async function makeTarget(
  name: ProtocolName,
  agent: FuzzAgent,
  quix: QuixControlServer,
): Promise<FuzzTarget> {
  switch (name) {
    case "cryptoded":
      return await CryptodedTarget.create(agent);
    case "sozu":
      return await SozuTarget.create(agent);
    case "intervirt":
      return await IntervirtTarget.create(agent);
    case "masq":
      return await MasqDaemonTarget.create(agent);
    case "masq-node":
      return await MasqNodeTarget.create(agent);
    case "quix":
      return await QuixTarget.create(quix);
    case "admin":
      return AdminTarget.create(agent);
  }
}

/** Runs one protocol target (or the HTTP fuzz) against the agent; its report goes in `report`. */
async function runOne(
  name: ProtocolName | "http",
  agent: FuzzAgent,
  quix: QuixControlServer,
  o: FuzzRunOptions,
  report: FuzzRunReport,
): Promise<void> {
  const deadline = o.minutes ? Date.now() + o.minutes * 60_000 : null;
  if (name === "http") {
    report.http = await fuzzHttp(agent, {
      seed: o.seed,
      requests: o.httpRequests ?? o.frames,
      from: o.from ?? 0,
      deadline,
      nginx: o.nginx ?? true,
      print: o.print,
    });
    return;
  }
  const target = await makeTarget(name, agent, quix);
  try {
    o.print(`fuzzing ${name}: ${o.frames} frames from ${o.from ?? 0}, seed ${o.seed}`);
    report.targets.push(
      await fuzzTarget(target, agent, {
        seed: o.seed,
        from: o.from ?? 0,
        frames: o.frames,
        deadline,
        maxRssMb: o.maxRssMb ?? 600,
        maxFdGrowth: o.maxFdGrowth ?? 200,
        ...(o.batch ? { batch: o.batch } : {}),
        print: o.print,
      }),
    );
  } finally {
    await target.close();
  }
}

/** Runs the chosen targets against one agent, one after the other or all at once. */
export async function runFuzz(o: FuzzRunOptions): Promise<FuzzRunReport> {
  const quix = await QuixControlServer.start();
  const report: FuzzRunReport = { targets: [], http: null, agentPid: 0, failures: [] };
  let agent: FuzzAgent | null = null;
  try {
    agent = await startFuzzAgent({
      quixUrl: quix.url,
      quixUser: quix.user,
      quixPassword: quix.password,
    });
    report.agentPid = agent.pid;
    o.print(`agent pid ${agent.pid}, run directory ${agent.dir}`);
    const running = agent;
    if (o.parallel) {
      const runs = o.targets.map((name) => runOne(name, running, quix, o, report));
      for (const r of await Promise.allSettled(runs)) {
        if (r.status === "rejected") {
          report.failures.push(`run failed: ${r.reason?.stack ?? r.reason}`);
        }
      }
    } else {
      for (const name of o.targets) {
        await runOne(name, running, quix, o, report);
        if (running.exited()) break;
      }
    }
  } catch (error) {
    report.failures.push(`run failed: ${(error as Error).stack ?? error}`);
  } finally {
    await agent?.stop();
    await quix.stop();
    if (agent && !o.keepDir) await Deno.remove(agent.dir, { recursive: true }).catch(() => {});
  }
  return report;
}
