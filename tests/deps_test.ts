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
    // deno.json (the version) is data outside lib/, not a layer.
    for (const target of localImports(file).filter((t) => t.startsWith(LIB))) {
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

/**
 * Calls that touch the file system or run programs. Listening and connecting (`Deno.listen`,
 * `Deno.connect`, `Deno.serve`, WebSocket) stay allowed in protocols: that is their transport.
 */
const SYSTEM_CALL = new RegExp(
  String.raw`\bDeno\.(?:` +
    [
      "readFile",
      "readTextFile",
      "writeFile",
      "writeTextFile",
      "open",
      "create",
      "readDir",
      "mkdir",
      "remove",
      "rename",
      "stat",
      "lstat",
      "chmod",
      "chown",
      "truncate",
      "copyFile",
      "link",
      "symlink",
      "readLink",
      "realPath",
      "makeTempDir",
      "makeTempFile",
      "utime",
      "watchFs",
      "Command",
      "run",
      "kill",
    ].join("|") + String.raw`)(?:Sync)?\b`,
  "g",
);
/** The runner and its helpers (a type-only import of `CommandRunner` to pass it on is fine). */
const RUNNER_USE =
  /\b(?:runCommand|killGroup|readCapped|withDefaults|writeFileAtomic)\b|\brunner\s*\(/g;
const NODE_SYSTEM_IMPORT = /from\s+["']node:(?:fs|fs\/promises|child_process|os|process)["']/g;

Deno.test("lib/protocols make no system calls: no file, process or command call, no runner use", () => {
  const found: string[] = [];
  for (const file of files.filter((f) => layer(f).startsWith("protocols/"))) {
    // The command-line client may read the files its user names on the command line.
    if (file.endsWith("/ctl.ts")) continue;
    const lines = Deno.readTextFileSync(file).split("\n");
    lines.forEach((line, i) => {
      if (/^\s*(\*|\/\/)/.test(line)) return; // comments
      for (const re of [SYSTEM_CALL, RUNNER_USE, NODE_SYSTEM_IMPORT]) {
        for (const m of line.matchAll(re)) found.push(`${relative(ROOT, file)}:${i + 1}: ${m[0]}`);
      }
    });
  }
  assert.deepEqual(found, [], `system calls under lib/protocols:\n${found.join("\n")}`);
});

/** The files every protocol folder has (style.md §7); admin is plain HTTP and has its own. */
const SKELETON = [
  "mod.ts",
  "config.ts",
  "schemas.ts",
  "handlers.ts",
  "errors.ts",
  "server.ts",
  "connection.ts",
  "service.ts",
  "definition.ts",
  "ctl.ts",
];

Deno.test("every protocol folder has the same skeleton", () => {
  const missing: string[] = [];
  for (const name of ["cryptoded", "sozu", "intervirt", "masq", "quix"]) {
    for (const file of SKELETON) {
      try {
        Deno.statSync(join(LIB, "protocols", name, file));
      } catch {
        missing.push(`lib/protocols/${name}/${file}`);
      }
    }
  }
  assert.deepEqual(missing, [], `missing skeleton files:\n${missing.join("\n")}`);
});

Deno.test("no two exported types or classes under lib/ share a name", () => {
  const owners = new Map<string, string[]>();
  const EXPORTED_TYPE = /^export (?:declare )?(?:abstract )?(?:class|interface|type|enum) (\w+)/gm;
  for (const file of files) {
    for (const m of Deno.readTextFileSync(file).matchAll(EXPORTED_TYPE)) {
      owners.set(m[1]!, [...(owners.get(m[1]!) ?? []), relative(ROOT, file)]);
    }
  }
  const shared = [...owners].filter(([, where]) => where.length > 1)
    .map(([name, where]) => `${name}: ${where.join(", ")}`);
  assert.deepEqual(shared, [], `exported names used twice:\n${shared.join("\n")}`);
});
