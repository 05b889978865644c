/** Host commands: the long update and power commands, and the runner for short system tools. */
import type { CommandRunner } from "../../core/mod.ts";
import { hostListeners } from "./listeners.ts";
import { missingPrerequisites } from "./prerequisites.ts";

/** Calls that ask for more than this keep their own limit (image downloads, graceful stops). */
const ORDINARY_LIMIT_MS = 30_000;

/**
 * The runner for nft, ip, sysctl and lxc-* / incus: every call with an ordinary limit (30 s or
 * less) is cut to `timeoutMs` (`intervirt.tool_timeout_ms`), and each runs in its own process
 * group, so a tool that hangs is killed with every child it started (lxc-start and incus do start
 * children; a wrapper script's `sleep` would outlive a kill of the script alone).
 */
export function systemToolRunner(runner: CommandRunner, timeoutMs = 30_000): CommandRunner {
  return (argv, options = {}) => {
    const asked = options.timeoutMs ?? ORDINARY_LIMIT_MS;
    const limit = asked <= ORDINARY_LIMIT_MS ? Math.min(asked, timeoutMs) : asked;
    return runner(argv, { ...options, timeoutMs: limit, processGroup: true });
  };
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
