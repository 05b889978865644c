import assert from "node:assert/strict";
import { join } from "node:path";
import { silentLogger, StateStore } from "../../lib/core/mod.ts";
import { ROOT, tempDir } from "../_helpers/mod.ts";

Deno.test("StateStore.open() returns the empty value, then what was written", async () => {
  await using dir = await tempDir("store");
  const store = new StateStore(dir.path, silentLogger());
  const doc = await store.open("svc", { version: 1, empty: () => ({ items: [] as string[] }) });
  assert.deepEqual(doc.value, { items: [] });
  await doc.write({ items: ["a"] });
  const again = await new StateStore(dir.path, silentLogger()).open("svc", {
    version: 1,
    empty: () => ({ items: [] as string[] }),
  });
  assert.deepEqual(again.value, { items: ["a"] });
  const mode = (await Deno.stat(join(dir.path, "svc.json"))).mode! & 0o777;
  assert.equal(mode, 0o600);
});

Deno.test("StateStore.open() moves a corrupt document aside and starts empty", async () => {
  await using dir = await tempDir("store");
  await Deno.writeTextFile(join(dir.path, "svc.json"), '{"version":1,"data":{"items":["a"');
  const lines: string[] = [];
  const { createLogger } = await import("../../lib/core/mod.ts");
  const log = createLogger("t", { format: "json", sink: (l) => lines.push(l) });
  const doc = await new StateStore(dir.path, log).open("svc", {
    version: 1,
    empty: () => ({ items: [] as string[] }),
  });
  assert.deepEqual(doc.value, { items: [] });
  const names = [...Deno.readDirSync(dir.path)].map((e) => e.name);
  assert.ok(names.some((n) => /^svc\.corrupt-\d{4}-/.test(n)), `moved aside: ${names}`);
  assert.ok(!names.includes("svc.json"));
  assert.match(lines.join("\n"), /state document unreadable/);
});

Deno.test("StateStore.open() treats a failing parse() and a newer version as corrupt", async () => {
  await using dir = await tempDir("store");
  await Deno.writeTextFile(join(dir.path, "a.json"), '{"version":9,"data":1}');
  await Deno.writeTextFile(join(dir.path, "b.json"), '{"version":1,"data":"nope"}');
  const store = new StateStore(dir.path, silentLogger());
  assert.equal((await store.open("a", { version: 1, empty: () => 0 })).value, 0);
  const b = await store.open("b", {
    version: 1,
    empty: () => 0,
    parse: (d) => {
      if (typeof d !== "number") throw new TypeError("not a number");
      return d;
    },
  });
  assert.equal(b.value, 0);
});

Deno.test("JsonDocument.write() coalesces concurrent writes and keeps the last value", async () => {
  await using dir = await tempDir("store");
  const doc = await new StateStore(dir.path, silentLogger()).open("c", {
    version: 1,
    empty: () => 0,
  });
  await Promise.all(Array.from({ length: 200 }, (_, i) => doc.write(i + 1)));
  const stored = JSON.parse(await Deno.readTextFile(join(dir.path, "c.json")));
  assert.equal(stored.data, 200);
  assert.equal(stored.version, 1);
});

Deno.test("StateStore survives SIGKILL of a writer at random moments: never a torn document", async () => {
  await using dir = await tempDir("torture");
  let lastN = 0;
  for (let round = 0; round < 25; round++) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-q", "-P=agent", join(ROOT, "tests/core/_store_writer.ts"), dir.path],
      cwd: ROOT,
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.getReader();
    await reader.read(); // "ready"
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 60));
    child.kill("SIGKILL");
    await child.status;
    reader.releaseLock();
    await child.stdout.cancel().catch(() => {});
    const text = await Deno.readTextFile(join(dir.path, "torture.json")).catch(() => null);
    if (text === null) continue; // killed before the first write
    const { version, data } = JSON.parse(text) as {
      version: number;
      data: { n: number; body: string };
    };
    assert.equal(version, 1);
    assert.ok(data.n >= lastN, `document went back from ${lastN} to ${data.n}`);
    assert.equal(data.body, String(data.n % 10).repeat(20_000 + (data.n % 7) * 5000));
    lastN = data.n;
    const corrupt = [...Deno.readDirSync(dir.path)].filter((e) => e.name.includes(".corrupt-"));
    assert.deepEqual(corrupt, []);
  }
  assert.ok(lastN > 0, "the writer never completed a write");
  await new StateStore(dir.path, silentLogger()).open("torture", { version: 1, empty: () => null });
  const names = [...Deno.readDirSync(dir.path)].map((e) => e.name);
  assert.deepEqual(names, ["torture.json"], "stale temp files are removed on open");
});
