/** The argv that runs this same program in another mode (`polyagent <sub> …`). */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The argv prefix for `polyagent <subcommand>`: from source, `deno run -q -P=agent --config
 * <repo>/deno.json <repo>/main.ts <subcommand>`; compiled, `<execPath> <subcommand>`.
 */
export function selfCommand(subcommand: string): string[] {
  const exec = Deno.execPath();
  if (basename(exec) !== "deno") return [exec, subcommand];
  let main = Deno.mainModule.startsWith("file:") ? fileURLToPath(Deno.mainModule) : "";
  if (basename(main) !== "main.ts") {
    main = fileURLToPath(new URL("../../../main.ts", import.meta.url));
  }
  const config = join(dirname(main), "deno.json");
  return [exec, "run", "-q", "-P=agent", "--config", config, main, subcommand];
}
