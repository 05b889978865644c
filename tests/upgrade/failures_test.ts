/**
 * Upgrades that cannot happen: a successor that is not an agent, one that does not exist, one
 * that hangs, one whose config needs a port someone else holds, and a second upgrade while one
 * runs. Each leaves exactly one agent: the old one, serving, its state intact and changeable.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { waitFor } from "../_helpers/mod.ts";
import {
  alive,
  dumpState,
  healthz,
  pidFromFile,
  runUpgrade,
  sozu,
  type UpgradeWorld,
} from "./_agent.ts";
import { proxiedAgent } from "./_proxied.ts";

/** The status of one GET through the proxy (fetch cannot set Host). */
async function proxied(world: UpgradeWorld): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: world.proxyPort });
  try {
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n"),
    );
    const text = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  } finally {
    try {
      conn.close();
    } catch {
      // closed by reading to the end
    }
  }
}

/** The successor pid a failed run announced, if it got that far. */
function startedPid(stdout: string): number | null {
  const m = /successor started \(pid (\d+)\)/.exec(stdout);
  return m ? Number(m[1]) : null;
}

/** The old agent still serves, with its state, and still takes changes. */
async function stillServing(world: UpgradeWorld, pid: number, state: unknown): Promise<void> {
  assert.equal((await healthz(world) as { agent: { pid: number } }).agent.pid, pid);
  assert.equal(await pidFromFile(world), pid);
  assert.equal(await proxied(world), 200);
  assert.deepEqual(await dumpState(world), state);
  const add = await sozu(world, {
    type: "PROXY",
    data: { type: "ADD_APPLICATION", data: { app_id: `probe-${Date.now()}` } },
  });
  assert.equal(add.status, "OK", add.message);
}

Deno.test("a successor that fails, is missing or hangs leaves the old agent serving", async () => {
  await using agent = await proxiedAgent("upgrade-fail", { agent: { upgrade_timeout_ms: 2000 } });
  const { world, generations } = agent;
  const pid = generations.first.pid;
  let state = agent.state;
  const fails = await runUpgrade(world, generations, ["--binary", "/bin/false"]);
  assert.equal(fails.code, 1);
  assert.match(fails.stdout, /^ERROR\s+.*the successor exited with status 1 before taking over/m);
  await stillServing(world, pid, state);

  state = await dumpState(world);
  const missing = await runUpgrade(world, generations, ["--binary", join(world.dir, "nope")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /^ERROR\s+.*Cannot start ".*nope".*No such file/m);
  await stillServing(world, pid, state);

  const hang = join(world.dir, "hang.sh");
  await Deno.writeTextFile(hang, "#!/bin/sh\nexec sleep 60\n");
  await Deno.chmod(hang, 0o755);
  state = await dumpState(world);
  const hung = await runUpgrade(world, generations, ["--binary", hang]);
  assert.equal(hung.code, 1);
  assert.match(hung.stdout, /^ERROR\s+.*No connection from the successor within 2000 ms/m);
  const hungPid = startedPid(hung.stdout);
  assert.ok(hungPid !== null);
  await waitFor(() => !alive(hungPid), { what: "the hung successor to be killed" });
  await stillServing(world, pid, state);
  assert.equal(generations.successors.length, 0);
});

Deno.test("a successor that cannot bind a port its config needs leaves the old agent serving", async () => {
  await using agent = await proxiedAgent("upgrade-port");
  const { world, generations, state } = agent;
  const pid = generations.first.pid;
  // someone else takes a port; the new config wants a proxy listener on it
  const thief = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const stolen = (thief.addr as Deno.NetAddr).port;
    const text = await Deno.readTextFile(world.config);
    await Deno.writeTextFile(
      world.config,
      text.replace(
        `listeners = ["127.0.0.1:${world.proxyPort}"]`,
        `listeners = ["127.0.0.1:${world.proxyPort}", "127.0.0.1:${stolen}"]`,
      ),
    );
    const run = await runUpgrade(world, generations);
    assert.equal(run.code, 1, run.stdout);
    assert.match(
      run.stdout,
      new RegExp(`^ERROR\\s+.*cannot listen on "127\\.0\\.0\\.1:${stolen}"`, "m"),
    );
    const successor = startedPid(run.stdout);
    assert.ok(successor !== null);
    await waitFor(() => !alive(successor), { what: "the failed successor to exit" });
    await stillServing(world, pid, state);
    // its sockets are back in place: nothing of the successor is left in the run dir
    const names = [...Deno.readDirSync(world.runDir)].map((e) => e.name).sort();
    assert.deepEqual(names, ["polyagent.pid", "polyagent.sock", "sozu.sock"]);
  } finally {
    thief.close();
  }
});

Deno.test("two upgrades at once: one takes over, the other is refused", async () => {
  await using agent = await proxiedAgent("upgrade-twice");
  const { world, generations, state } = agent;
  const runs = await Promise.all([
    runUpgrade(world, generations),
    runUpgrade(world, generations),
  ]);
  const ok = runs.filter((r) => r.code === 0);
  const refused = runs.filter((r) => r.code === 1);
  assert.equal(ok.length, 1, runs.map((r) => r.stdout).join("\n---\n"));
  assert.equal(refused.length, 1);
  assert.match(
    refused[0]!.stdout,
    /^ERROR\s+(an upgrade is already in progress|the previous agent is still finishing)/m,
  );
  const successor = ok[0]!.pid!;
  await generations.first.child.status;
  assert.equal(await pidFromFile(world), successor);
  assert.equal((await healthz(world) as { agent: { pid: number } }).agent.pid, successor);
  assert.deepEqual(await dumpState(world), state);
  assert.equal(await proxied(world), 200);
});
