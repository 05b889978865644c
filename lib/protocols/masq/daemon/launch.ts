/**
 * Starting the Node for `start`: the sorted `--name value` arguments of the setup on a free
 * loopback port, through the backends' launcher, retried once on a new port when the chosen one
 * was taken meanwhile. A failure is a FailedError with reason `node-launch`.
 */
import { errorText, FailedError, type Logger } from "../../../core/mod.ts";
import {
  type LaunchedNode,
  LaunchError,
  type MasqNodeControl,
} from "../../../backends/masq_node/mod.ts";
import { launchArguments, type SetupValue } from "../setup_model.ts";

/** The line the built-in node prints on stdout once it listens. */
export const NODE_READY_LINE: RegExp = /^MASQNode-UIv2 node ready on /;

/** How the Daemon launches its Node. */
export interface NodeLaunchPlan {
  nodes: MasqNodeControl;
  /** argv prefix that runs the Node; the sorted `--name value` arguments follow. */
  nodeCommand: readonly string[];
  /** True for the built-in node (readiness line); false for a foreign binary (connect probe). */
  builtIn: boolean;
  /** Environment for the Node. */
  nodeEnv: Record<string, string>;
  launchTimeoutMs: number;
  log: Logger;
}

function portTaken(error: unknown): boolean {
  return error instanceof LaunchError &&
    /already seems to be listening|AddrInUse|address already in use/i.test(error.stderr);
}

/** Launches the Node with `values`; throws FailedError (reason `node-launch`). */
export async function launchConfiguredNode(
  plan: NodeLaunchPlan,
  values: readonly SetupValue[],
): Promise<LaunchedNode> {
  // The free port is found by binding and releasing it, so another process can take it before
  // the Node binds: a Node that dies saying its port is busy is retried once on a new port.
  for (let attempt = 1;; attempt++) {
    const port = plan.nodes.freePort();
    try {
      return await plan.nodes.launch({
        argv: [...plan.nodeCommand, ...launchArguments(values, port)],
        port,
        env: plan.nodeEnv,
        readyTimeoutMs: plan.launchTimeoutMs,
        ...(plan.builtIn ? { readyLine: NODE_READY_LINE } : {}),
        log: plan.log,
      });
    } catch (error) {
      if (attempt < 2 && portTaken(error)) {
        plan.log.warn("node's UI port was taken; retrying on another", { port });
        continue;
      }
      const text = error instanceof LaunchError ? error.message : errorText(error);
      throw new FailedError(`Could not launch Node: ${text}`, {
        reason: "node-launch",
        cause: error,
      });
    }
  }
}
