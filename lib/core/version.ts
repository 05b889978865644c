/** The agent's version, read from deno.json in this one place. */
import denoJson from "../../deno.json" with { type: "json" };

/** The polyagent version (deno.json `version`). */
export const VERSION: string = denoJson.version;
