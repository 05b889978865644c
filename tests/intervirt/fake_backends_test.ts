/**
 * The domain on fake backends (no root, no runtime, no nft): requests reach the runtime, bridge
 * and nft table only through `IntervirtBackends`, repeated requests are code 3, and the nft
 * table follows every committed change.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/mod.ts";
import { IntervirtClient, type IntervirtFrame } from "../../lib/protocols/intervirt/mod.ts";
import { startOnFakes } from "./_fakes.ts";

Deno.test("intervirt runs on fake backends: runtime, bridge and nft table only through them", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startOnFakes(dir.path);
  const { calls, tables } = agent;
  const client = await IntervirtClient.connect(agent.url);
  const call = (body: Record<string, unknown>): Promise<IntervirtFrame> => client.call(body);
  const add = (id: string, n: number) => ({
    type: "AddContainer",
    id,
    ipv4: `10.93.0.${n}`,
    ipv6: `fd93::${n}`,
    mac: `02:00:0a:5d:00:${n}`,
    image: "local",
  });
  try {
    assert.equal((await call(add("a", 11))).code, undefined);
    assert.equal((await call(add("b", 12))).code, undefined);
    const again = await call(add("a", 13));
    assert.deepEqual([again.code, again.error], [3, "Container a already exists"]);
    assert.equal((await call({ type: "StartContainer", id: "a" })).code, undefined);
    const twice = await call({ type: "StartContainer", id: "a" });
    assert.deepEqual([twice.code, twice.error], [3, "Container a is already running"]);
    assert.equal((await call({ type: "Connect", id1: "b", id2: "a" })).code, undefined);
    assert.deepEqual(tables.at(-1)?.pairs, [[
      { ipv4: "10.93.0.11", ipv6: "fd93::11" },
      { ipv4: "10.93.0.12", ipv6: "fd93::12" },
    ]]);
    const clash = await call(add("c", 12));
    assert.equal(clash.code, 8);
    assert.match(clash.error!, /already used by container b/);
    assert.equal((await call({ type: "Command", command: "wipe" })).code, undefined);
    assert.deepEqual(agent.service.manager?.state.containers, {});
    // Wipe removes the two containers side by side, then the table and the bridge.
    assert.deepEqual(calls.slice(0, 3), [
      "bridge up",
      "create pivu-a 10.93.0.11 tarball",
      "create pivu-b 10.93.0.12 tarball",
    ]);
    assert.deepEqual(calls.slice(3, 5).sort(), ["destroy pivu-a", "destroy pivu-b"]);
    assert.deepEqual(calls.slice(5), ["nft delete", "bridge down"]);
  } finally {
    await client.close();
  }
});
