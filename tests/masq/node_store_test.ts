/** The built-in Node's data store in a real directory. */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/mod.ts";
import { NodeStore } from "../../lib/protocols/masq/node_store.ts";

Deno.test("NodeStore keeps only a password hash, durably, and survives a damaged file", async () => {
  await using dir = await tempDir("masq-store");
  const store = await NodeStore.open(`${dir.path}/chain`);
  assert.equal(await store.passwordMatches(null), true);
  await store.setPassword("s3cret");
  await store.setConfig("gas-price", "4");
  const again = await NodeStore.open(`${dir.path}/chain`);
  assert.equal(await again.passwordMatches("s3cret"), true);
  assert.equal(await again.passwordMatches("other"), false);
  assert.equal(await again.passwordMatches(null), false);
  assert.equal(again.data.config["gas-price"], "4");
  assert.equal(again.data.publicKey, store.data.publicKey);
  const text = await Deno.readTextFile(again.path);
  assert.ok(!text.includes("s3cret"));
  assert.equal((await Deno.stat(again.path)).mode! & 0o777, 0o600);
  await Deno.writeTextFile(again.path, "{broken");
  const fresh = await NodeStore.open(`${dir.path}/chain`);
  assert.equal(fresh.hasPassword, false);
  const names = [...Deno.readDirSync(`${dir.path}/chain`)].map((e) => e.name);
  assert.ok(names.some((n) => n.includes(".corrupt-")));
});
