/** The built-in Node's data store in a real directory. */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/mod.ts";
import { silentLogger } from "../../lib/core/mod.ts";
import { openNodeDocument } from "../../lib/backends/masq_node/mod.ts";
import { NodeStore } from "../../lib/protocols/masq/node/node_store.ts";

function openStore(dir: string): Promise<NodeStore> {
  return NodeStore.open((options) => openNodeDocument(dir, options, silentLogger()));
}

Deno.test("NodeStore keeps only a password hash, durably, and survives a damaged file", async () => {
  await using dir = await tempDir("masq-store");
  const store = await openStore(`${dir.path}/chain`);
  assert.equal(await store.passwordMatches(null), true);
  await store.setPassword("s3cret");
  await store.setConfig("gas-price", "4");
  const again = await openStore(`${dir.path}/chain`);
  assert.equal(await again.passwordMatches("s3cret"), true);
  assert.equal(await again.passwordMatches("other"), false);
  assert.equal(await again.passwordMatches(null), false);
  assert.equal(again.data.config["gas-price"], "4");
  assert.equal(again.data.publicKey, store.data.publicKey);
  assert.equal(again.path, `${dir.path}/chain/polyagent-node.json`);
  const text = await Deno.readTextFile(again.path);
  assert.ok(!text.includes("s3cret"));
  assert.equal((await Deno.stat(again.path)).mode! & 0o777, 0o600);
  await Deno.writeTextFile(again.path, "{broken");
  const fresh = await openStore(`${dir.path}/chain`);
  assert.equal(fresh.hasPassword, false);
  const names = [...Deno.readDirSync(`${dir.path}/chain`)].map((e) => e.name);
  assert.ok(names.some((n) => n.includes(".corrupt-")));
});

Deno.test("NodeStore reads the bare file earlier versions wrote", async () => {
  await using dir = await tempDir("masq-store");
  const first = await openStore(`${dir.path}/chain`);
  await first.setPassword("s3cret");
  // What earlier versions wrote: the data itself, without the state store's envelope.
  const envelope = JSON.parse(await Deno.readTextFile(first.path));
  await Deno.writeTextFile(first.path, JSON.stringify(envelope.data) + "\n", { mode: 0o600 });
  const again = await openStore(`${dir.path}/chain`);
  assert.equal(await again.passwordMatches("s3cret"), true);
  assert.equal(again.data.publicKey, first.data.publicKey);
  const names = [...Deno.readDirSync(`${dir.path}/chain`)].map((e) => e.name);
  assert.ok(!names.some((n) => n.includes(".corrupt-")));
});
