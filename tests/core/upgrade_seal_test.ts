/** At an upgrade the old agent seals its state documents: writes in flight finish, later ones fail. */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/mod.ts";
import { sealDocuments, silentLogger, StateStore, unsealDocuments } from "../../lib/core/mod.ts";

Deno.test("sealDocuments waits for writes in flight and refuses later ones until unsealed", async () => {
  await using dir = await tempDir("seal");
  const store = new StateStore(dir.path, silentLogger("test"));
  const doc = await store.open<number>("counter", { version: 1, empty: () => 0 });
  const inFlight = doc.write(1);
  try {
    await sealDocuments("handed over");
    await inFlight;
    const text = await Deno.readTextFile(doc.path);
    assert.equal(JSON.parse(text).data, 1, "the write in flight reached the disk");
    await assert.rejects(doc.write(2), /State not written: handed over/);
    assert.equal(JSON.parse(await Deno.readTextFile(doc.path)).data, 1);
  } finally {
    unsealDocuments();
  }
  await doc.write(3);
  assert.equal(JSON.parse(await Deno.readTextFile(doc.path)).data, 3);
});
