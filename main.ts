/**
 * polyagent: one agent behind five control protocols. This file only wires: it hands the
 * compiled-in service definitions and the version to the command line.
 *
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import { runCli } from "./lib/cli/mod.ts";
import { SERVICE_DEFINITIONS } from "./lib/services.ts";

/** The polyagent version, from deno.json. */
export const VERSION: string = denoJson.version;

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, { definitions: SERVICE_DEFINITIONS, version: VERSION }));
}
