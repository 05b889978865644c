import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, RUNTIME_FLAGS, tempDir } from "../_helpers/mod.ts";

// deno compile cannot download its runtime here, so CI proves what it can: with DENORT_BIN pointed
// at the deno binary the compile step embeds the whole module graph (the file is not a runnable
// app: that needs the real denort runtime).
Deno.test("build.sh compiles the whole module graph for the host with DENORT_BIN and writes SHA256SUMS", async () => {
  await using dir = await tempDir("build");
  const out = join(dir.path, "dist");
  const r = await new Deno.Command("bash", {
    args: [join(ROOT, "scripts/build.sh"), "--out", out],
    env: { DENORT_BIN: Deno.execPath() },
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, stderr);
  const sums = await Deno.readTextFile(join(out, "SHA256SUMS"));
  const [line] = sums.trim().split("\n");
  const [hash, file] = line!.split(/\s+/);
  assert.match(hash!, /^[0-9a-f]{64}$/);
  assert.equal(
    file,
    `polyagent-${
      JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json"))).version
    }-${Deno.build.target}`,
  );
  const size = (await Deno.stat(join(out, file!))).size;
  assert.ok(size > 50_000_000, `executable embeds the runtime and the graph (${size} bytes)`);
  const verify = await new Deno.Command("sha256sum", {
    args: ["-c", "SHA256SUMS"],
    cwd: out,
    stdout: "piped",
  }).output();
  assert.equal(verify.code, 0);
});

Deno.test("build.sh refuses a foreign target with a host DENORT_BIN", async () => {
  const r = await new Deno.Command("bash", {
    args: [
      join(ROOT, "scripts/build.sh"),
      "--targets",
      "aarch64-apple-darwin",
      "--out",
      "/nonexistent",
    ],
    env: { DENORT_BIN: Deno.execPath() },
    cwd: ROOT,
    stderr: "piped",
  }).output();
  assert.equal(r.code, 2);
  assert.match(new TextDecoder().decode(r.stderr), /cannot build aarch64-apple-darwin/);
});

Deno.test("deno check passes on the whole program", async () => {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["check", "-q", "main.ts"],
    cwd: ROOT,
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
});

Deno.test("the agent runs with the same runtime flags everywhere it is started", async () => {
  const flags = ` ${RUNTIME_FLAGS.join(" ")} `;
  const denoJson = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  for (const task of ["start", "agent"]) {
    assert.ok(denoJson.tasks[task].includes(flags), `deno task ${task}`);
  }
  for (const script of ["scripts/build.sh", "scripts/install.sh"]) {
    assert.ok((await Deno.readTextFile(join(ROOT, script))).includes(flags), script);
  }
});
