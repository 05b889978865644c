/** The Daemon's transport with real WebSocket clients against a real agent. */
import assert from "node:assert/strict";
import {
  agentSection,
  backendTest,
  freePort,
  spawnAgent,
  tempDir,
  waitFor,
} from "../_helpers/mod.ts";
import { startDaemon, Ui, upgradeStatus, writeMasqConfig } from "./_harness.ts";

Deno.test("masq daemon: subprotocol and Origin checks before the upgrade", async () => {
  await using d = await startDaemon(`allowed_origins = ["http://localhost:8080"]`);
  assert.equal(await upgradeStatus(d.port, { "Sec-WebSocket-Protocol": "MASQNode-UI" }), 400);
  assert.equal(await upgradeStatus(d.port, {}), 400);
  assert.equal(
    await upgradeStatus(d.port, { "Sec-WebSocket-Protocol": "foo, MASQNode-UIv2" }),
    101,
  );
  assert.equal(
    await upgradeStatus(d.port, {
      "Sec-WebSocket-Protocol": "MASQNode-UIv2",
      "Origin": "http://evil.example",
    }),
    403,
  );
  assert.equal(
    await upgradeStatus(d.port, {
      "Sec-WebSocket-Protocol": "MASQNode-UIv2",
      "Origin": "http://localhost:8080",
    }),
    101,
  );
  // Real clients: a wrong or missing subprotocol fails, the right one is selected.
  await assert.rejects(Ui.connect(d.port, ["MASQNode-UI"]));
  await assert.rejects(Ui.connect(d.port, []));
  const ui = await Ui.connect(d.port, ["other", "MASQNode-UIv2"]);
  assert.equal(ui.ws.protocol, "MASQNode-UIv2");
  await ui.close();
});

Deno.test("masq daemon: bad input gets the converter's errors and the client stays", async () => {
  await using d = await startDaemon();
  const ui = await Ui.connect(d.port);
  try {
    ui.send("{not json");
    const bad = await ui.next((f) => f.json.opcode === "unmarshalError");
    assert.ok(!("contextId" in bad.json), "one-way messages carry no contextId key");
    const payload = bad.json.payload as Record<string, string>;
    assert.equal(payload.badData, "{not json");
    assert.match(payload.message!, /^Couldn't parse text as JSON: /);

    ui.send("[1,2]");
    const root = await ui.next((f) => f.json.opcode === "unmarshalError");
    assert.match(
      (root.json.payload as Record<string, string>).message!,
      /^Root was not a JSON object/,
    );

    ui.send(`{"opcode":"setup","contextId":3333}`);
    const two = await ui.next((f) => f.json.contextId === 3333);
    assert.equal(
      two.text,
      `{"opcode":"setup","contextId":3333,"error":{"code":9223372036854775812,"message":"Required field was missing: payload, error"}}`,
    );

    ui.send(`{"opcode":"shutdown"}`);
    const one = await ui.next((f) => f.json.opcode === "unmarshalError");
    assert.equal((one.json.payload as Record<string, string>).badData, `{"opcode":"shutdown"}`);

    // A huge context id is echoed with its exact digits.
    ui.send(`{"opcode":"financials","contextId":18446744073709551615,"payload":{}}`);
    const big = await ui.next((f) => /"contextId":18446744073709551615/.test(f.text));
    assert.match(big.text, /"code":9223372036854775810/);

    // A binary frame is ignored; the connection still works.
    ui.ws.send(new Uint8Array([1, 2, 3]));
    const setup = await ui.transact("setup", { values: [] });
    assert.equal((setup.json.payload as Record<string, unknown>).running, false);

    // An oversized frame disconnects only that client.
    const other = await Ui.connect(d.port);
    other.send("x".repeat(2 << 20));
    await other.closed;
    const again = await ui.transact("setup", { values: [] });
    assert.ok(again.json.payload);
  } finally {
    await ui.close();
  }
});

Deno.test("masq daemon: refuses to start when its port is taken", async () => {
  const port = freePort();
  const blocker = Deno.listen({ hostname: "127.0.0.1", port });
  await using dir = await tempDir("masq-busy");
  const file = `${dir.path}/agent.toml`;
  await Deno.writeTextFile(
    file,
    [
      agentSection(dir.path, { log_format: "json", fail_fast: true }).trimEnd(),
      "[admin]",
      "enabled = false",
      "[masq]",
      "enabled = true",
      `ui_port = ${port}`,
      `data_root = "${dir.path}/masq"`,
    ].join("\n") + "\n",
  );
  await using agent = spawnAgent({ args: ["serve", "--config", file] });
  try {
    const status = await agent.child.status;
    assert.notEqual(status.code, 0);
    await waitFor(() => agent.stderr().includes("already seems to be listening"), {
      what: "port-busy message",
    });
    assert.ok(agent.stderr().includes(`held by \\"deno\\" (pid ${Deno.pid})`), agent.stderr());
  } finally {
    blocker.close();
  }
});

type Health = {
  services: { name: string; state: string; restarts: number; lastError: string | null }[];
};

backendTest(
  "masq daemon: a taken port fails the service for good, naming the port and its holder",
  { tools: ["ss"], root: true },
  async () => {
    const port = freePort();
    const admin = freePort();
    const blocker = Deno.listen({ hostname: "127.0.0.1", port });
    let blocked = true;
    await using dir = await tempDir("masq-held");
    const file = await writeMasqConfig(dir.path, { port, admin });
    await using agent = spawnAgent({ args: ["serve", "--config", file] });
    try {
      await agent.waitForLine(/^admin /, 30_000);
      const masq = async () => {
        const body = await (await fetch(`http://127.0.0.1:${admin}/healthz`)).json() as Health;
        return body.services.find((s) => s.name === "masq")!;
      };
      const failed = await waitFor(async () => {
        const m = await masq();
        return m.state === "failed" ? m : null;
      }, { what: "masq failed in /healthz" });
      assert.equal(
        failed.lastError,
        `masq.ui_port: Cannot listen on 127.0.0.1:${port}: a process already seems to be ` +
          `listening on that port (is a MASQ Daemon already running?); it is held by "deno" ` +
          `(pid ${Deno.pid})`,
      );
      // Freed, the port stays free: the service is not retried behind the operator's back (the
      // supervisor's first retry would come after 500 ms).
      blocker.close();
      blocked = false;
      await new Promise((r) => setTimeout(r, 1500));
      const after = await masq();
      assert.deepEqual([after.state, after.restarts], ["failed", 0]);
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      assert.equal(agent.stdoutLines.filter((l) => l.startsWith("masq")).length, 0);
    } finally {
      if (blocked) blocker.close();
    }
  },
);

Deno.test("masq daemon: a burst of garbage from one client leaves the others served", async () => {
  await using d = await startDaemon();
  const bad = await Ui.connect(d.port);
  const good = await Ui.connect(d.port);
  try {
    const samples = [
      "",
      "null",
      "42",
      `"str"`,
      "{}",
      `{"opcode":null}`,
      `{"opcode":"setup","contextId":1.5,"payload":{}}`,
      `{"opcode":"setup","contextId":1,"payload":{"values":[{"name":5}]}}`,
      `{"opcode":"setup","contextId":2,"error":{"code":"x","message":"m"}}`,
      `{"opcode":"setup","contextId":3,"error":{"code":1,"message":"m"}}`,
      `{"opcode":"start","contextId":4,"payload":[]}`,
      `{"opcode":"\u0000","contextId":5,"payload":{}}`,
      "{".repeat(5000),
    ];
    for (let i = 0; i < 200; i++) {
      const bytes = crypto.getRandomValues(new Uint8Array(1 + (i % 64)));
      samples.push(new TextDecoder().decode(bytes));
    }
    for (const text of samples) bad.send(text);
    // Every message is answered: one frame each (errors, unmarshalError or NODE_NOT_RUNNING).
    const ok = await good.transact("setup", { values: [] });
    assert.equal((ok.json.payload as { running: boolean }).running, false);
    await waitFor(() => bad.frames.length >= samples.length, { what: "an answer to every frame" });
    for (const f of bad.frames) assert.ok(f.json.opcode, f.text);
  } finally {
    await bad.close();
    await good.close();
  }
});
