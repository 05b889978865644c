/** The container runtime interface the manager drives, and the factory for the configured one. */
import type { CommandRunner, RunResult } from "../../core/mod.ts";
import { IncusRuntime } from "../../backends/incus/mod.ts";
import {
  type ContainerSpec,
  type ImageSource,
  LxcRuntime,
  type RuntimeState,
} from "../../backends/lxc/mod.ts";

export type { ContainerSpec, ImageSource, RuntimeState };

/** What the manager needs from a runtime (LXC and Incus implement it). */
export interface ContainerRuntime {
  readonly kind: string;
  /** False when the agent must set addresses inside the container after start. */
  readonly configuresAddresses: boolean;
  requiredTools(): string[];
  prepare(): Promise<void>;
  create(spec: ContainerSpec, image: ImageSource): Promise<void>;
  setNetwork(spec: ContainerSpec): Promise<void>;
  /** False when the container was already running. */
  start(name: string): Promise<boolean>;
  /** False when the container was not running. */
  stop(name: string, graceSeconds: number): Promise<boolean>;
  destroy(name: string): Promise<void>;
  state(name: string): Promise<RuntimeState>;
  pid(name: string): Promise<number | null>;
  list(): Promise<string[]>;
  exec(name: string, argv: readonly string[], timeoutMs: number): Promise<RunResult>;
}

/** Builds the configured runtime. */
export function createRuntime(
  kind: "lxc" | "incus",
  runner: CommandRunner,
  options: { lxcPath: string; workDir: string },
): ContainerRuntime {
  if (kind === "incus") return new IncusRuntime(runner, { workDir: options.workDir });
  return new LxcRuntime(runner, { lxcPath: options.lxcPath });
}
