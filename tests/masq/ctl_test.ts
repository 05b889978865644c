/** `polyagent ctl masq …` against a real Daemon and Node. */
import assert from "node:assert/strict";
import { freePort, ROOT, sh, waitFor } from "../_helpers/mod.ts";
import { MasqClient } from "../../lib/protocols/masq/mod.ts";
import { startDaemon, Ui } from "./_harness.ts";

function ctl(configFile: string, ...args: string[]) {
  return sh([
    Deno.execPath(),
    "run",
    "-q",
    "-P=agent",
    `${ROOT}main.ts`,
    "ctl",
    "--config",
    configFile,
    "masq",
    ...args,
  ], { check: false });
}

Deno.test("polyagent ctl masq: setup, start, descriptor, status, shutdown follow redirects", async () => {
  await using d = await startDaemon();
  const setup = await ctl(d.configFile, "setup", "neighborhood-mode=zero-hop", "gas-price=3");
  assert.equal(setup.code, 0, setup.stderr);
  assert.match(setup.stdout, /^neighborhood-mode\s+zero-hop\s+Set$/m);
  assert.match(setup.stdout, /^chain\s+base-mainnet\s+Default$/m);

  const bad = await ctl(d.configFile, "setup", "gas-price=lots");
  assert.equal(bad.code, 1);
  assert.match(bad.stdout, /^ERROR: gas-price: Invalid value/m);
  const usage = await ctl(d.configFile, "setup", "novalue");
  assert.equal(usage.code, 2);

  const start = await ctl(d.configFile, "start");
  assert.equal(start.code, 0, start.stderr);
  const m = /MASQNode successfully started in process (\d+) on port (\d+)/.exec(start.stdout);
  assert.ok(m, start.stdout);
  d.nodePids.add(Number(m[1]));

  const descriptor = await ctl(d.configFile, "descriptor");
  assert.equal(descriptor.code, 0, descriptor.stderr);
  assert.match(descriptor.stdout, /^masq:\/\/base-mainnet:[\w-]+@:$/m);

  const status = await ctl(d.configFile, "status");
  assert.match(status.stdout, /^Node is running$/m);
  assert.match(status.stdout, /^NOTE: the Node is running/m);

  const shutdown = await ctl(d.configFile, "shutdown");
  assert.equal(shutdown.code, 0, shutdown.stderr);
  assert.match(shutdown.stdout, /MASQNode was instructed to shut down/);

  const after = await ctl(d.configFile, "shutdown");
  assert.equal(after.code, 1);
  assert.match(
    after.stderr,
    /error 9223372036854775810: Cannot handle shutdown request: Node is not running/,
  );
  const down = await ctl(d.configFile, "status", "--ui-port", String(d.port));
  assert.match(down.stdout, /^Node is not running$/m);
});

Deno.test("polyagent ctl masq: an unreachable Daemon is exit status 1", async () => {
  await using d = await startDaemon();
  const result = await ctl(d.configFile, "status", "--ui-port", String(freePort()));
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Cannot reach the MASQ Daemon/);
});

Deno.test("MasqClient: broadcasts reach the callback and redirects are followed", async () => {
  await using d = await startDaemon();
  const broadcasts: string[] = [];
  const client = await MasqClient.connect(d.port, {
    onBroadcast: (m) => broadcasts.push(m.opcode),
  });
  const other = await Ui.connect(d.port);
  try {
    await other.transact("setup", { values: [{ name: "neighborhood-mode", value: "zero-hop" }] });
    await waitFor(() => broadcasts.includes("setup"), { what: "setup broadcast" });
    const start = await client.transact("start", {}, 30_000);
    assert.equal(start.kind, "payload");
    const { newProcessId, redirectUiPort } = (start as { payload: Record<string, number> }).payload;
    d.nodePids.add(newProcessId!);
    const status = await client.transact("connectionStatus", {});
    assert.deepEqual(status, {
      kind: "payload",
      opcode: "connectionStatus",
      payload: { stage: "NotConnected" },
    });
    assert.equal(client.port, redirectUiPort, "the client now talks to the Node");
    assert.ok(!broadcasts.includes("redirect"), "a followed redirect is not a broadcast");
    const error = await client.transact("financials", { statsRequired: true });
    assert.equal(error.kind, "error");
    assert.equal((error as { code: bigint }).code, 281474976710670n);
    const bye = await client.transact("shutdown", {});
    assert.notEqual(bye.kind, "error");
    await other.next((f) => f.json.opcode === "crashed");
  } finally {
    client.close();
    await other.close();
  }
});
