/**
 * The domain on fake backends (no root, no runtime, no nft): requests reach the runtime, bridge
 * and nft table only through `IntervirtBackends`, repeated requests are code 3, and the nft
 * table follows every committed change.
 */
import assert from "node:assert/strict";
import type { RunResult } from "../../lib/core/mod.ts";
import { tempDir } from "../_helpers/mod.ts";
import {
  type IntervirtBackends,
  IntervirtClient,
  type IntervirtFrame,
} from "../../lib/protocols/intervirt/mod.ts";
import type { NetfilterState } from "../../lib/backends/netfilter/mod.ts";
import { startWithBackends } from "./_harness.ts";

/** Backends that remember what they were asked and keep containers in a map. */
function fakeBackends(calls: string[], tables: NetfilterState[]): IntervirtBackends {
  const running = new Map<string, boolean>();
  const record = (call: string) => {
    calls.push(call);
    return Promise.resolve();
  };
  return {
    runtime: {
      kind: "fake",
      configuresAddresses: true,
      requiredTools: () => [],
      prepare: () => Promise.resolve(),
      create: (spec, image) => {
        running.set(spec.name, false);
        return record(`create ${spec.name} ${spec.ipv4.address} ${image.kind}`);
      },
      setNetwork: (spec) => record(`network ${spec.name}`),
      start: (name) => {
        const was = running.get(name);
        running.set(name, true);
        return Promise.resolve(was === false);
      },
      stop: (name) => {
        const was = running.get(name);
        if (was !== undefined) running.set(name, false);
        return Promise.resolve(was === true);
      },
      destroy: (name) => {
        running.delete(name);
        return record(`destroy ${name}`);
      },
      state: (name) =>
        Promise.resolve(
          running.has(name) ? (running.get(name) ? "running" : "stopped") : "missing",
        ),
      pid: () => Promise.resolve(null),
      list: () => Promise.resolve([...running.keys()]),
      exec: () => Promise.resolve({ code: 0 } as RunResult),
    },
    bridge: {
      setUp: () => record("bridge up"),
      remove: () => record("bridge down"),
      addHostRoute: (ip) => record(`route ${ip}`),
      deleteHostRoute: (ip) => record(`unroute ${ip}`),
      attachPort: () => Promise.resolve(false),
      changeAddress: () => Promise.resolve(),
    },
    netfilter: {
      apply: (state) => {
        tables.push(structuredClone(state));
        return Promise.resolve(false);
      },
      delete: () => record("nft delete"),
      warm: () => {},
      close: () => Promise.resolve(),
    },
    images: {
      dir: "/images",
      find: (name) =>
        Promise.resolve(name === "local" ? { kind: "tarball", path: "/images/local.tar" } : null),
    },
    host: { missing: () => [], run: (argv) => record(`host ${argv.join(" ")}`) },
  };
}

Deno.test("intervirt runs on fake backends: runtime, bridge and nft table only through them", async () => {
  await using dir = await tempDir("piv");
  const calls: string[] = [];
  const tables: NetfilterState[] = [];
  await using agent = await startWithBackends(
    dir.path,
    {},
    () => Promise.resolve(fakeBackends(calls, tables)),
  );
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
