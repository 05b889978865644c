/** Host commands: the long update and power commands, and the runner for short system tools. */
import { type CommandRunner, withDefaults } from "../../core/mod.ts";
import { hostListeners } from "./listeners.ts";
import { missingPrerequisites } from "./prerequisites.ts";

/**
 * The runner for nft, ip, sysctl and lxc-*: they start no children of their own, so they are
 * spawned without a process group (a cheaper spawn); host commands ask for one explicitly.
 */
export function systemToolRunner(runner: CommandRunner): CommandRunner {
  return withDefaults(runner, { processGroup: false });
}

/** The host as the Intervirt agent sees it: its prerequisites, its listeners, its own commands. */
export class HostCommands {
  readonly #runner: CommandRunner;

  constructor(runner: CommandRunner) {
    this.#runner = runner;
  }

  /** Names what the host lacks to run `tools` (root, commands); empty when ready. */
  missing(tools: readonly string[]): string[] {
    return missingPrerequisites(tools);
  }

  /** The host sockets listening on `protocol`/`port` (read with `ss`). */
  listeners(protocol: "tcp" | "udp", port: number): Promise<string[]> {
    return hostListeners(this.#runner, protocol, port);
  }

  /** Runs a host command (an update step, shutdown, reboot) in its own process group. */
  async run(argv: readonly string[], timeoutMs: number): Promise<void> {
    await this.#runner(argv, { timeoutMs, processGroup: true });
  }
}
