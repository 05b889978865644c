/**
 * AddContainer (and the address changes) over the real WebSocket refuse, with code 8 naming the
 * field, addresses that cannot work: the bridge's gateway, network and broadcast address (from
 * the configured bridge subnets), loopback, unspecified and multicast addresses, and an address
 * another container has, in IPv4 and IPv6. Nothing reaches the runtime for a refused request.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/mod.ts";
import { IntervirtClient } from "../../lib/protocols/intervirt/mod.ts";
import { startOnFakes } from "./_fakes.ts";

const BRIDGE = { bridge_ipv4: "10.93.5.1/24", bridge_ipv6: "fd93:5::1/64" };

const add = (id: string, n: number, extra: Record<string, unknown> = {}) => ({
  type: "AddContainer",
  id,
  ipv4: `10.93.5.${n}`,
  ipv6: `fd93:5::${n}`,
  mac: `02:00:0a:5d:05:${n}`,
  image: "local",
  ...extra,
});

Deno.test("intervirt AddContainer refuses gateway, network, broadcast, loopback and taken addresses", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startOnFakes(dir.path, BRIDGE);
  const client = await IntervirtClient.connect(agent.url);
  const of4 = "of bridge pivubr0 (10.93.5.1/24)";
  const of6 = "of bridge pivubr0 (fd93:5::1/64)";
  const out4 = "of its /24 (outside the bridge subnet a container gets a /24)";
  const out6 = "of its /64 (outside the bridge subnet a container gets a /64)";
  const refused: [Record<string, unknown>, string][] = [
    [{ ipv4: "10.93.5.1" }, `"ipv4": 10.93.5.1 is the gateway address ${of4}`],
    [{ ipv4: "10.93.5.0" }, `"ipv4": 10.93.5.0 is the network address ${of4}`],
    [{ ipv4: "10.93.5.255" }, `"ipv4": 10.93.5.255 is the broadcast address ${of4}`],
    [{ ipv4: "127.0.0.1" }, `"ipv4": 127.0.0.1 is a loopback address`],
    [{ ipv4: "127.9.9.9" }, `"ipv4": 127.9.9.9 is a loopback address`],
    [{ ipv4: "0.0.0.0" }, `"ipv4": 0.0.0.0 is an unspecified ("this network") address`],
    [{ ipv4: "224.0.0.5" }, `"ipv4": 224.0.0.5 is a multicast address`],
    [{ ipv4: "255.255.255.255" }, `"ipv4": 255.255.255.255 is the limited broadcast address`],
    [{ ipv6: "fd93:5::1" }, `"ipv6": fd93:5::1 is the gateway address ${of6}`],
    [{ ipv6: "FD93:5:0::1" }, `"ipv6": FD93:5:0::1 is the gateway address ${of6}`],
    [{ ipv6: "fd93:5::" }, `"ipv6": fd93:5:: is the network address ${of6}`],
    [{ ipv6: "::1" }, `"ipv6": ::1 is the loopback address`],
    [{ ipv6: "::" }, `"ipv6": :: is the unspecified address`],
    [{ ipv6: "ff02::1" }, `"ipv6": ff02::1 is a multicast address`],
    [{ ipv4: "10.94.5.0" }, `"ipv4": 10.94.5.0 is the network address ${out4}`],
    [{ ipv4: "10.94.5.255" }, `"ipv4": 10.94.5.255 is the broadcast address ${out4}`],
    [{ ipv6: "fd94:5::" }, `"ipv6": fd94:5:: is the network address ${out6}`],
    [{ ipv4: "10.93.5.11" }, `"ipv4": 10.93.5.11 is already used by container a`],
    [{ ipv6: "FD93:5:0::11" }, `"ipv6": FD93:5:0::11 is already used by container a`],
  ];
  try {
    assert.equal((await client.call(add("a", 11))).code, undefined);
    for (const [fields, message] of refused) {
      const f = await client.call(add("b", 12, fields));
      assert.equal(f.code, 8, `${JSON.stringify(fields)} -> ${JSON.stringify(f)}`);
      assert.equal(f.error, `Invalid field ${message}`);
    }
    assert.deepEqual(agent.calls.filter((c) => c.startsWith("create")), [
      "create pivu-a 10.93.5.11 tarball",
    ]);
    // The last usable addresses of the subnets, and addresses outside them (the client picks its
    // own; they get a host route) are accepted.
    assert.equal((await client.call(add("b", 12, { ipv4: "10.93.5.254" }))).code, undefined);
    const outside = add("c", 13, { ipv4: "10.94.5.13", ipv6: "fd94:5::13" });
    assert.equal((await client.call(outside)).code, undefined);
    assert.deepEqual(Object.keys(agent.service.manager!.state.containers).sort(), ["a", "b", "c"]);
  } finally {
    await client.close();
  }
});

Deno.test("intervirt address changes refuse the same addresses, naming the request's field", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startOnFakes(dir.path, BRIDGE);
  const client = await IntervirtClient.connect(agent.url);
  try {
    assert.equal((await client.call(add("a", 11))).code, undefined);
    const cases: [Record<string, unknown>, string][] = [
      [
        { type: "IDWithNewIpv4", id: "a", newIpv4: "10.93.5.1" },
        'Invalid field "newIpv4": 10.93.5.1 is the gateway address of bridge pivubr0 (10.93.5.1/24)',
      ],
      [
        { type: "IDWithNewIpv4", id: "a", newIP: "10.93.5.255" },
        'Invalid field "newIP": 10.93.5.255 is the broadcast address of bridge pivubr0 (10.93.5.1/24)',
      ],
      [
        { type: "IDWithNewIpv6", id: "a", newIpv6: "::1" },
        'Invalid field "newIpv6": ::1 is the loopback address',
      ],
    ];
    for (const [body, message] of cases) {
      const f = await client.call(body);
      assert.deepEqual([f.code, f.error], [8, message]);
    }
    const moved = await client.call({ type: "IDWithNewIpv4", id: "a", newIpv4: "10.93.5.21" });
    assert.equal(moved.code, undefined);
    assert.equal(agent.service.manager!.state.containers.a!.ipv4, "10.93.5.21");
  } finally {
    await client.close();
  }
});
