/** The built-in Node's own messages, against a Node the Daemon started. */
import assert from "node:assert/strict";
import { backendTest, ROOT } from "../_helpers/mod.ts";
import { alive, startDaemon, Ui, upgradeStatus } from "./_harness.ts";

Deno.test("masq node: passwords, configuration, log broadcasts and unsupported opcodes", async () => {
  await using d = await startDaemon();
  const ui = await Ui.connect(d.port);
  try {
    await ui.transact("setup", { values: [{ name: "neighborhood-mode", value: "zero-hop" }] });
    const start = await ui.transact("start", {}, 30_000);
    const { newProcessId: pid, redirectUiPort: port } = start.json.payload as {
      newProcessId: number;
      redirectUiPort: number;
    };
    d.nodePids.add(pid);
    // The Node applies the Daemon's Origin allow-list and subprotocol check too.
    assert.equal(
      await upgradeStatus(port, {
        "Sec-WebSocket-Protocol": "MASQNode-UIv2",
        Origin: "http://evil.example",
      }),
      403,
    );
    assert.equal(await upgradeStatus(port, { "Sec-WebSocket-Protocol": "MASQNode-UI" }), 400);
    const a = await Ui.connect(port);
    const b = await Ui.connect(port);
    try {
      const fresh = await a.transact("checkPassword", { dbPasswordOpt: null });
      assert.deepEqual(fresh.json.payload, { matches: true });
      const set = await a.transact("changePassword", { newPassword: "booga" });
      assert.deepEqual(set.json.payload, {});
      const np = await b.next((f) => f.json.opcode === "newPassword");
      assert.ok(!("contextId" in np.json));
      assert.ok(!a.frames.some((f) => f.json.opcode === "newPassword"));
      assert.deepEqual(
        (await a.transact("checkPassword", { dbPasswordOpt: "booga" })).json.payload,
        {
          matches: true,
        },
      );
      assert.deepEqual(
        (await a.transact("checkPassword", { dbPasswordOpt: "nope" })).json.payload,
        {
          matches: false,
        },
      );
      // The password is kept hashed in the data directory.
      const stored = await Deno.readTextFile(`${d.dir}/masq/base-mainnet/polyagent-node.json`);
      assert.ok(!stored.includes("booga"));
      assert.match(stored, /"hash":/);

      // A failed change is an error and a Warn logBroadcast to every client.
      const again = await a.transact("changePassword", { newPassword: "x" });
      assert.match(again.text, /"code":281474976710658,/);
      for (const ui of [a, b]) {
        const log = await ui.next((f) => f.json.opcode === "logBroadcast");
        assert.equal((log.json.payload as { logLevel: string }).logLevel, "Warn");
      }

      const conf = await a.transact("configuration", { dbPasswordOpt: null });
      const c = conf.json.payload as Record<string, unknown>;
      assert.equal(c.chainName, "base-mainnet");
      assert.equal(c.neighborhoodMode, "zero-hop");
      assert.equal(c.gasPrice, 1);
      assert.equal(typeof c.clandestinePort, "number");
      const badConf = await a.transact("configuration", { dbPasswordOpt: "wrong" });
      assert.match(badConf.text, /"code":281474976710657,/);

      assert.deepEqual(
        (await a.transact("setConfiguration", { name: "gas-price", value: "5" })).json.payload,
        {},
      );
      const c2 = (await a.transact("configuration", {})).json.payload as Record<string, unknown>;
      assert.equal(c2.gasPrice, 5);
      const unknownParam = await a.transact("setConfiguration", { name: "colour", value: "1" });
      assert.match(unknownParam.text, /"code":281474976710667,/);
      const badValue = await a.transact("setConfiguration", { name: "min-hops", value: "9" });
      assert.match(badValue.text, /"code":281474976710668,/);

      assert.deepEqual((await a.transact("connectionStatus", {})).json.payload, {
        stage: "NotConnected",
      });
      const descriptor = (await a.transact("descriptor", {})).json.payload as {
        nodeDescriptorOpt: string;
      };
      assert.match(descriptor.nodeDescriptorOpt, /^masq:\/\/base-mainnet:[\w-]+@:$/);

      const fin = await a.transact("financials", { statsRequired: true });
      assert.match(
        fin.text,
        /"code":281474976710670,"message":"The built-in node does not provide financials/,
      );
      const bad = await a.transact("checkPassword", { dbPasswordOpt: 5 });
      assert.match(bad.text, /"code":9223372036854775812,.*dbPasswordOpt/);

      // Without --crash-point message, crash is ignored.
      a.send(`{"opcode":"crash","payload":{"actor":"DISPATCHER","panicMessage":"boom"}}`);
      assert.deepEqual((await a.transact("connectionStatus", {})).json.payload, {
        stage: "NotConnected",
      });
      assert.ok(alive(pid));
    } finally {
      await a.close();
      await b.close();
    }
  } finally {
    await ui.close();
  }
});

Deno.test("masq node: crash with --crash-point message ends the Node; the Daemon reports it", async () => {
  await using d = await startDaemon();
  const ui = await Ui.connect(d.port);
  try {
    await ui.transact("setup", {
      values: [
        { name: "neighborhood-mode", value: "zero-hop" },
        { name: "crash-point", value: "message" },
      ],
    });
    const start = await ui.transact("start", {}, 30_000);
    const { newProcessId: pid, redirectUiPort: port } = start.json.payload as {
      newProcessId: number;
      redirectUiPort: number;
    };
    d.nodePids.add(pid);
    const n = await Ui.connect(port);
    n.send(
      `{"opcode":"crash","payload":{"actor":"DISPATCHER","panicMessage":"Intentional crash"}}`,
    );
    const crashed = await ui.next((f) => f.json.opcode === "crashed");
    const reason = (crashed.json.payload as { crashReason: { Unrecognized: string } }).crashReason;
    assert.match(reason.Unrecognized, /thread 'DISPATCHER' panicked at 'Intentional crash'/);
    await n.closed;
  } finally {
    await ui.close();
  }
});

backendTest("masq: a configured node command is launched with sorted arguments and probed", {
  tools: ["ps"],
}, async () => {
  const argv = [
    Deno.execPath(),
    "run",
    "-q",
    "-P=agent",
    "--config",
    `${ROOT}deno.json`,
    `${ROOT}main.ts`,
    "masq-node",
  ];
  await using d = await startDaemon(`node_command = ${JSON.stringify(argv)}`);
  const ui = await Ui.connect(d.port);
  try {
    await ui.transact("setup", {
      values: [
        { name: "neighborhood-mode", value: "zero-hop" },
        { name: "log-level", value: "info" },
      ],
    });
    const start = await ui.transact("start", {}, 30_000);
    const { newProcessId: pid, redirectUiPort: port } = start.json.payload as {
      newProcessId: number;
      redirectUiPort: number;
    };
    d.nodePids.add(pid);
    const cmdline =
      (await new Deno.Command("ps", { args: ["-o", "args=", "-p", String(pid)] }).output()).stdout;
    const args = new TextDecoder().decode(cmdline).trim();
    assert.match(
      args,
      /masq-node --clandestine-port \d+ --log-level info --neighborhood-mode zero-hop --ui-port \d+$/,
    );
    const n = await Ui.connect(port);
    assert.deepEqual((await n.transact("shutdown", {})).json.payload, {});
    await ui.next((f) => f.json.opcode === "crashed");
  } finally {
    await ui.close();
  }
});
