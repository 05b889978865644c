/**
 * The command line: `serve`, `config check|print`, `version`, and the `ctl` group that each
 * protocol fills with its client. Built from the service definitions `main.ts` passes in.
 *
 * @module
 */
export { buildProgram, type CliOptions, runCli } from "./program.ts";
export { serve, type ServeOptions } from "./serve.ts";
