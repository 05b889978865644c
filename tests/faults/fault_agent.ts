/**
 * The agent the fault tests run: the fuzzer's safe config (`scripts/fuzz/agent.ts`) with its own
 * Quix control server, options for the fault (state directory, tools first on PATH, `--set`
 * overrides), a kill -9 and restart on the same directories, and a cleanup that stops both and
 * removes the run directory.
 *
 * @module
 */
import {
  type FuzzAgent,
  type FuzzAgentOptions,
  relaunchFuzzAgent,
  startFuzzAgent,
} from "../../scripts/fuzz/agent.ts";
import { QuixControlServer } from "../../scripts/fuzz/targets/quix.ts";

/** A running agent under a fault. */
export interface FaultAgent extends AsyncDisposable {
  /** The current agent process (a new one after {@linkcode crashAndRestart}). */
  agent: FuzzAgent;
  quix: QuixControlServer;
  /** kill -9, then the agent again on the same directories and endpoints. */
  crashAndRestart(): Promise<FuzzAgent>;
  /** The Intervirt, Quix or cryptoded detail of /healthz. */
  detail(service: string): Promise<Record<string, unknown>>;
}

/** The fault options: everything of the fuzz agent's options but the Quix server's. */
export type FaultOptions = Omit<FuzzAgentOptions, "quixUrl" | "quixUser" | "quixPassword">;

/** Starts the agent (and its Quix server, set up by `quixSetup` first). */
export async function startFaultAgent(
  o: FaultOptions,
  quixSetup: (quix: QuixControlServer) => void = () => {},
): Promise<FaultAgent> {
  const quix = await QuixControlServer.start();
  quixSetup(quix);
  const options: FuzzAgentOptions = {
    ...o,
    quixUrl: quix.url,
    quixUser: quix.user,
    quixPassword: quix.password,
  };
  let agent: FuzzAgent;
  try {
    agent = await startFuzzAgent(options);
  } catch (error) {
    await quix.stop();
    throw error;
  }
  const fault: FaultAgent = {
    agent,
    quix,
    async crashAndRestart() {
      const old = fault.agent;
      Deno.kill(old.pid, "SIGKILL");
      await old.stop();
      fault.agent = await relaunchFuzzAgent(old, options);
      return fault.agent;
    },
    async detail(service) {
      const res = await fetch(`http://${fault.agent.endpoints.admin}/healthz`);
      const body = await res.json() as {
        services: { name: string; detail: Record<string, unknown> }[];
      };
      return body.services.find((s) => s.name === service)?.detail ?? {};
    },
    async [Symbol.asyncDispose]() {
      await fault.agent.stop();
      await quix.stop();
      await Deno.remove(fault.agent.dir, { recursive: true }).catch(() => {});
    },
  };
  return fault;
}
