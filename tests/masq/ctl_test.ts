/** `polyagent ctl masq …` against a real Daemon and Node. */
import assert from "node:assert/strict";
import { freePort, ROOT, sh } from "../_helpers/mod.ts";
import { startDaemon } from "./_harness.ts";

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
