/**
 * The dependency rule, checked mechanically: core imports nothing above it; backends import only
 * core (and the shared /proc reader in backends/procfs); protocols import core and backends, never another protocol or the CLI; and there are no
 * import cycles anywhere under lib/.
 */
import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";
import { ROOT } from "./_helpers/mod.ts";

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...walk(path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g;
const DYNAMIC = /import\(\s*["']([^"']+)["']\s*\)/g;

/** Relative imports of a file; `valuesOnly` leaves out `import type` (erased at run time). */
function localImports(file: string, valuesOnly = false): string[] {
  const text = Deno.readTextFileSync(file);
  const out: string[] = [];
  for (const re of [IMPORT, DYNAMIC]) {
    for (const m of text.matchAll(re)) {
      const spec = m[1]!;
      if (valuesOnly && /^\s*(import|export)\s+type\s/.test(m[0])) continue;
      if (spec.startsWith(".")) out.push(resolve(dirname(file), spec));
    }
  }
  return out;
}

const LIB = join(ROOT, "lib");
const files = walk(LIB);
const layer = (file: string): string => {
  const rel = relative(LIB, file).split("/");
  if (rel.length === 1) return "root";
  return rel[0] === "protocols" || rel[0] === "backends" ? `${rel[0]}/${rel[1]}` : rel[0]!;
};

Deno.test("lib/core imports nothing from protocols, backends or cli", () => {
  for (const file of files.filter((f) => layer(f) === "core")) {
    for (const target of localImports(file)) {
      assert.equal(
        layer(target),
        "core",
        `${relative(ROOT, file)} imports ${relative(ROOT, target)}`,
      );
    }
  }
});

Deno.test("lib/backends import only core, their own folder and the shared /proc reader", () => {
  for (const file of files.filter((f) => layer(f).startsWith("backends/"))) {
    for (const target of localImports(file)) {
      const l = layer(target);
      assert.ok(
        l === "core" || l === layer(file) || l === "backends/procfs",
        `${relative(ROOT, file)} imports ${relative(ROOT, target)}`,
      );
    }
  }
});

Deno.test("lib/protocols import core, backends and their own folder only", () => {
  for (const file of files.filter((f) => layer(f).startsWith("protocols/"))) {
    for (const target of localImports(file)) {
      const l = layer(target);
      assert.ok(
        l === "core" || l.startsWith("backends/") || l === layer(file),
        `${relative(ROOT, file)} imports ${relative(ROOT, target)}`,
      );
    }
  }
});

Deno.test("lib/ has no import cycles (type-only imports aside)", () => {
  const graph = new Map(
    files.map((f) => [f, localImports(f, true).filter((t) => t.startsWith(LIB))]),
  );
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (file: string) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "visiting") {
      const cycle = stack.slice(stack.indexOf(file)).concat(file).map((f) => relative(LIB, f));
      assert.fail(`import cycle: ${cycle.join(" -> ")}`);
    }
    state.set(file, "visiting");
    stack.push(file);
    for (const next of graph.get(file) ?? []) visit(next);
    stack.pop();
    state.set(file, "done");
  };
  for (const file of files) visit(file);
});

Deno.test("every lib/ folder has a mod.ts with an @module doc", () => {
  const dirs = new Set(files.map((f) => dirname(f)).filter((d) => d !== LIB));
  for (const dir of dirs) {
    const mod = join(dir, "mod.ts");
    let text = "";
    try {
      text = Deno.readTextFileSync(mod);
    } catch {
      assert.fail(`${relative(ROOT, dir)} has no mod.ts`);
    }
    assert.match(text, /@module/, `${relative(ROOT, mod)} lacks @module`);
  }
});
