/** One test agent serving `app.test` through its proxy to a test backend, ready to upgrade. */
import { tempDir } from "../_helpers/mod.ts";
import {
  dumpState,
  type Generations,
  routeToBackend,
  startGenerations,
  type UpgradeWorld,
  writeWorld,
} from "./_agent.ts";
import { startBackend } from "./_load.ts";

/** The agent, its backend and the proxy state it started with. */
export interface ProxiedAgent extends AsyncDisposable {
  world: UpgradeWorld;
  generations: Generations;
  /** DUMP_STATE once the route was set up. */
  state: unknown;
}

/** Starts it on a fresh temporary directory; disposing stops everything and removes it. */
export async function proxiedAgent(
  prefix: string,
  options: Parameters<typeof writeWorld>[1] = {},
): Promise<ProxiedAgent> {
  const dir = await tempDir(prefix);
  const backend = await startBackend();
  const cleanup: AsyncDisposable[] = [dir, backend];
  const dispose = async () => {
    for (const d of cleanup.reverse()) await d[Symbol.asyncDispose]();
  };
  try {
    const world = await writeWorld(dir.path, options);
    const generations = await startGenerations(world);
    cleanup.push(generations);
    await routeToBackend(world, backend.address);
    const state = await dumpState(world);
    return { world, generations, state, [Symbol.asyncDispose]: dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
