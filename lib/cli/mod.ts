/**
 * The command line: `serve`, `config check|print`, `version`, and the `ctl` group that each
 * protocol fills with its client. Built from the service definitions `main.ts` passes in.
 * `runCli` starts a plain `serve` without commander; `buildProgram` (commander) is loaded from
 * `program.ts` only by the commands that need it.
 *
 * @module
 */
export type { CliOptions } from "./program.ts";
export { plainServeArgs, runCli } from "./run.ts";
export { serve, type ServeOptions } from "./serve.ts";
