/** The Daemon's setup conversation and broadcast with real clients. */
import assert from "node:assert/strict";
import { startDaemon, Ui } from "./_harness.ts";

type Value = { name: string; value: string; status: string };

Deno.test("masq daemon: setup lists every parameter, changes are broadcast to the others", async () => {
  await using d = await startDaemon();
  const a = await Ui.connect(d.port);
  const b = await Ui.connect(d.port);
  try {
    const empty = await a.transact("setup", { values: [] });
    const payload = empty.json.payload as { running: boolean; values: Value[]; errors: unknown[] };
    assert.equal(payload.running, false);
    assert.deepEqual(payload.errors, []);
    const names = payload.values.map((v) => v.name);
    assert.deepEqual(names, [...names].sort());
    assert.equal(names.length, 23);
    const byName = new Map(payload.values.map((v) => [v.name, v]));
    assert.deepEqual(byName.get("chain"), {
      name: "chain",
      value: "base-mainnet",
      status: "Default",
    });
    assert.deepEqual(byName.get("data-directory"), {
      name: "data-directory",
      value: `${d.dir}/masq/base-mainnet`,
      status: "Default",
    });
    assert.equal(byName.get("db-password")?.status, "Required");
    assert.equal(byName.get("clandestine-port")?.status, "Configured");
    assert.equal(byName.get("crash-point")?.status, "Blank");
    // Unchanged setup: nobody else hears about it.
    assert.equal(b.frames.length, 0);

    // The first change is broadcast too (the real Daemon's GH-438 bug is not copied).
    const changed = await a.transact("setup", {
      values: [
        { name: "neighborhood-mode", value: "zero-hop" },
        { name: "db-password", value: "secret" },
        { name: "consuming-private-key", value: "ab".repeat(32) },
      ],
    });
    const reply = changed.json.payload as { values: Value[]; errors: unknown[] };
    const replied = new Map(reply.values.map((v) => [v.name, v]));
    assert.deepEqual(replied.get("db-password"), {
      name: "db-password",
      value: "*".repeat(16),
      status: "Set",
    });
    assert.equal(replied.get("consuming-private-key")?.value, "*".repeat(64));
    assert.equal(replied.get("blockchain-service-url")?.status, "Blank");
    assert.equal(replied.get("rate-pack")?.status, "Blank");
    const broadcast = await b.next((f) => f.json.opcode === "setup");
    assert.ok(!("contextId" in broadcast.json), "a broadcast has no contextId key");
    assert.deepEqual(broadcast.json.payload, changed.json.payload);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!a.frames.some((f) => f.json.opcode === "setup"), "the sender gets no broadcast");

    // Bad values come back as [name, reason]; null clears; unknown names are reported.
    const bad = await a.transact("setup", {
      values: [
        { name: "gas-price", value: "cheap" },
        { name: "colour", value: "blue" },
        { name: "db-password", value: null },
      ],
    });
    const badPayload = bad.json.payload as { values: Value[]; errors: [string, string][] };
    assert.equal(badPayload.errors.length, 2);
    assert.equal(badPayload.errors[0]![0], "gas-price");
    assert.match(badPayload.errors[0]![1], /^Invalid value/);
    assert.equal(badPayload.errors[1]![0], "<unknown>");
    // With errors, the blanked value is restored.
    assert.equal(badPayload.values.find((v) => v.name === "db-password")?.status, "Set");
    const cleared = await a.transact("setup", { values: [{ name: "db-password" }] });
    const clearedValues = (cleared.json.payload as { values: Value[] }).values;
    // Censored even when blank, like the real Daemon.
    assert.deepEqual(clearedValues.find((v) => v.name === "db-password"), {
      name: "db-password",
      value: "*".repeat(16),
      status: "Blank",
    });
    // A bad payload names the field.
    const wrong = await a.transact("setup", { values: "all" });
    assert.match(wrong.text, /"code":9223372036854775812/);
    assert.match(wrong.text, /values/);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("masq daemon: requests for the Node before start get the real errors", async () => {
  await using d = await startDaemon();
  const ui = await Ui.connect(d.port);
  try {
    const shutdown = await ui.transact("shutdown", {});
    assert.equal(
      shutdown.text,
      `{"opcode":"shutdown","contextId":1,"error":{"code":9223372036854775810,"message":"Cannot handle shutdown request: Node is not running"}}`,
    );
    const fin = await ui.transact("financials", { statsRequired: true });
    assert.match(fin.text, /"message":"Cannot handle financials request: Node is not running"/);
    ui.send(`{"opcode":"crash","payload":{"actor":"DISPATCHER","panicMessage":"x"}}`);
    const undelivered = await ui.next((f) => f.json.opcode === "undelivered");
    assert.equal(undelivered.text, `{"opcode":"undelivered","payload":{"opcode":"crash"}}`);
    // setup sent one-way is not a setup conversation: it is undeliverable too.
    ui.send(`{"opcode":"setup","payload":{"values":[]}}`);
    const oneWaySetup = await ui.next((f) => f.json.opcode === "undelivered");
    assert.deepEqual(oneWaySetup.json.payload, { opcode: "setup" });
  } finally {
    await ui.close();
  }
});

Deno.test("masq daemon: the setup survives an agent restart", async () => {
  await using d = await startDaemon();
  let ui = await Ui.connect(d.port);
  await ui.transact("setup", { values: [{ name: "gas-price", value: "7" }] });
  await ui.close();
  await d.restart("SIGKILL");
  ui = await Ui.connect(d.port);
  try {
    const setup = await ui.transact("setup", { values: [] });
    const values = (setup.json.payload as { values: Value[] }).values;
    assert.deepEqual(values.find((v) => v.name === "gas-price"), {
      name: "gas-price",
      value: "7",
      status: "Set",
    });
  } finally {
    await ui.close();
  }
});
