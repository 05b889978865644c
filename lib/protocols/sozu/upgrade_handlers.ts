/**
 * Hot upgrades: `UPGRADE_MAIN` (and its 0.11 name `UPGRADE_MASTER`) replaces the whole agent with
 * a new process through core's upgrade (the reply's OK comes once the successor has taken over,
 * on this connection, before the old process exits); `UPGRADE_WORKER <id>` replaces one proxy
 * worker with a fresh one fed the current state, the old one draining without a failed request.
 */
import type { WorkerUpgradeOptions } from "../../backends/http_proxy/mod.ts";
import {
  errorText,
  FailedError,
  type HandlerTable,
  NotFoundError,
  UnavailableError,
  type UpgradeOutcome,
  type UpgradeRequest,
} from "../../core/mod.ts";
import type { ControlPlane } from "./control_plane.ts";
import type { SozuHandler } from "./handlers.ts";
import { parseOrThrow, response, workerIdInput } from "./schemas.ts";

/** What the upgrade handlers use. */
export interface SozuUpgradeEnvironment {
  control: ControlPlane;
  /** Replaces the agent (core upgrade); absent where it cannot. */
  upgradeAgent?: (request: UpgradeRequest) => Promise<UpgradeOutcome>;
  /** How a replaced worker drains. */
  workerUpgrade: WorkerUpgradeOptions;
}

function upgradeMain(env: SozuUpgradeEnvironment): SozuHandler {
  return async (request, io) => {
    if (!env.upgradeAgent) throw new UnavailableError("this agent cannot upgrade itself here");
    io.processing("launching the new main process");
    const delivered = Promise.withResolvers<void>();
    io.afterReply(() => delivered.resolve());
    const outcome = await env.upgradeAgent({
      onProgress: (message) => io.processing(message),
      delivered: delivered.promise,
    });
    return response(request.id, "OK", outcome.message);
  };
}

function upgradeWorker(env: SozuUpgradeEnvironment): SozuHandler {
  return async (request, io) => {
    const id = parseOrThrow(workerIdInput, request.payload, "UPGRADE_WORKER", "data");
    const { control } = env;
    const plane = control.plane;
    if (!plane.workers().some((w) => w.id === id && w.runState !== "STOPPING")) {
      throw new NotFoundError(`worker ${id} not found`);
    }
    if (!plane.upgradeWorker) throw new UnavailableError("this proxy cannot replace a worker");
    io.processing(`launching a new worker to replace worker ${id}`);
    const fresh = await control.serial(() => plane.upgradeWorker!(id, env.workerUpgrade))
      .catch((error) => {
        throw new FailedError(errorText(error));
      });
    await fresh.drained;
    return response(request.id, "OK", `worker ${id} replaced by worker ${fresh.id}`);
  };
}

/** Registers UPGRADE_MAIN, UPGRADE_MASTER and UPGRADE_WORKER. */
export function registerUpgrades(
  commands: HandlerTable<string, SozuHandler>,
  env: SozuUpgradeEnvironment,
): void {
  commands.register("UPGRADE_MAIN", upgradeMain(env))
    .register("UPGRADE_MASTER", upgradeMain(env))
    .register("UPGRADE_WORKER", upgradeWorker(env));
}
