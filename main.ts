/**
 * polyagent: one agent behind five control protocols. This file only wires: it hands the
 * compiled-in service definitions, their command-line extensions and the version to the CLI.
 *
 * @module
 */
import { runCli } from "./lib/cli/mod.ts";
import { VERSION } from "./lib/core/mod.ts";
import { CLI_EXTENSIONS, SERVICE_DEFINITIONS } from "./lib/services.ts";

export { VERSION };

if (import.meta.main) {
  Deno.exit(
    await runCli(Deno.args, {
      definitions: SERVICE_DEFINITIONS,
      extensions: CLI_EXTENSIONS,
      version: VERSION,
    }),
  );
}
