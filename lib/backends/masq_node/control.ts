/**
 * The Daemon's hold on its Node, bound to one command runner: a free port, the launch, liveness,
 * and the watch of a re-adopted Node.
 */
import type { CommandRunner } from "../../core/mod.ts";
import { freeLoopbackPort } from "./host_facts.ts";
import { type LaunchedNode, launchNode, type LaunchOptions, type NodeExit } from "./launcher.ts";
import { isSameProcessAlive, pidExists } from "./proc.ts";
import { watchAdoptedNode, type WatchOptions } from "./watch.ts";

/** Launching and watching the Node. */
export interface MasqNodeControl {
  /** A free TCP port on 127.0.0.1. */
  freePort(): number;
  /** Spawns the Node and resolves once it is ready; rejects with `LaunchError`. */
  launch(options: LaunchOptions): Promise<LaunchedNode>;
  /** Whether the pid exists (cheap, signal 0). */
  exists(pid: number): boolean;
  /** Whether the pid is alive and, with a start time, the same process instance. */
  isAlive(pid: number, startTime: string | null): Promise<boolean>;
  /** Resolves when a re-adopted Node exits (null when the watch is aborted). */
  watchAdopted(options: Omit<WatchOptions, "runner">): Promise<NodeExit | null>;
}

/** The real {@linkcode MasqNodeControl}; process checks go through `runner`. */
export function masqNodeControl(runner: CommandRunner): MasqNodeControl {
  return {
    freePort: freeLoopbackPort,
    launch: (options) => launchNode(options, runner),
    exists: pidExists,
    isAlive: (pid, startTime) => isSameProcessAlive(pid, startTime, runner),
    watchAdopted: (options) => watchAdoptedNode({ ...options, runner }),
  };
}
