/**
 * `deno task bench <name> [args…]`: runs bench/<name>.ts, which prints its figures and the
 * ratios against the reference (nginx, haproxy, raw commands) measured in the same run.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const benchDir = fileURLToPath(new URL("../bench/", import.meta.url));
const available = [...Deno.readDirSync(benchDir)]
  .filter((e) => e.isFile && e.name.endsWith(".ts") && !e.name.startsWith("_"))
  .map((e) => e.name.slice(0, -3))
  .sort();

const [name, ...rest] = Deno.args;
if (!name || !available.includes(name)) {
  console.error(`usage: deno task bench <${available.join("|")}> [args…]`);
  Deno.exit(2);
}
const mod = await import(new URL(`../bench/${name}.ts`, import.meta.url).href) as {
  run(args: string[]): Promise<void>;
};
await mod.run(rest);
