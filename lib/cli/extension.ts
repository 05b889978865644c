/**
 * What a protocol adds to the command line, declared next to the service list (`lib/services.ts`)
 * so that core never knows commander: `ctl <service> …` clients, and programs this executable
 * also runs (the built-in MASQ Node). Both are loaded lazily: `serve` loads neither.
 */
import type { Command } from "commander";
import type { CtlEnvironment } from "../core/mod.ts";

/** A second program of this executable, e.g. `polyagent masq-node --name value …`. */
export interface ExtraProgram {
  /** The subcommand name. */
  readonly name: string;
  /** One line for `--help`. */
  readonly description: string;
  /** Runs the program with the raw arguments after its name; resolves with the exit status. */
  run(args: string[]): Promise<number>;
}

/** A service's additions to the command line. */
export interface CliExtension {
  /** The service's name (the `ctl` group it fills). */
  readonly name: string;
  /** Adds `ctl <name> …` subcommands to the `ctl` group; may load the client lazily. */
  registerCtl?(ctl: Command, env: CtlEnvironment): void | Promise<void>;
  /** Programs this executable runs besides the agent. */
  readonly programs?: readonly ExtraProgram[];
}

/** Ends a command with `exitCode` (already reported: nothing more is printed). */
export class ExitStatus extends Error {
  readonly exitCode: number;
  constructor(exitCode: number) {
    super("");
    this.name = "ExitStatus";
    this.exitCode = exitCode;
  }
}
