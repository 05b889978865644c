/**
 * The built-in Node drops to its `real-user` as the real Node does: started as root it loads its
 * code, creates its data directory below `masq.data_root` for that user and switches to it for
 * good (every thread, no supplementary groups). A data-directory outside the data root is refused
 * with MASQ's setup error, a root real-user makes the Node panic like the real one, and a data
 * root the real user cannot reach is named at start.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveAccount } from "../../lib/core/mod.ts";
import {
  backendTest,
  closedFolder,
  freePort,
  spawnAgent,
  threadIdentities,
  waitFor,
  worldTempDir,
} from "../_helpers/mod.ts";
import { type Daemon, startDaemon, Ui, writeMasqConfig } from "./_harness.ts";

function idLines(uid: number, gid: number): string[] {
  return [`Uid: ${uid} ${uid} ${uid} ${uid}`, `Gid: ${gid} ${gid} ${gid} ${gid}`, "Groups:"];
}

async function startNode(d: Daemon, ui: Ui): Promise<number> {
  const reply = await ui.transact("start", {}, 30_000);
  const payload = reply.json.payload as { newProcessId: number } | undefined;
  assert.ok(payload, `start failed: ${reply.text}`);
  d.nodePids.add(payload.newProcessId);
  return payload.newProcessId;
}

async function shutdownNode(d: Daemon, ui: Ui, pid: number): Promise<void> {
  ui.request("shutdown", {});
  const redirect = await ui.next((f) => f.json.opcode === "redirect");
  const node = await Ui.connect((redirect.json.payload as { port: number }).port);
  await node.transact("shutdown", {});
  await node.closed;
  await ui.next((f) => f.json.opcode === "crashed");
  d.nodePids.delete(pid);
}

async function owner(path: string): Promise<[number, number]> {
  const info = await Deno.lstat(path);
  return [info.uid!, info.gid!];
}

backendTest(
  "masq: the built-in Node runs as its real-user (nobody by default), and so do its files",
  { tools: ["grep"], root: true },
  async () => {
    const nobody = resolveAccount("nobody");
    await using d = await startDaemon();
    const ui = await Ui.connect(d.port);
    try {
      const setup = await ui.transact("setup", { values: [] });
      const values = (setup.json.payload as { values: { name: string; value: string }[] }).values;
      const realUser = `${nobody.uid}:${nobody.gid}:${nobody.home}`;
      assert.equal(values.find((v) => v.name === "real-user")?.value, realUser);

      let pid = await startNode(d, ui);
      assert.deepEqual(await threadIdentities(pid), idLines(nobody.uid, nobody.gid));
      const dataDir = join(d.dir, "masq", "base-mainnet");
      assert.deepEqual(await owner(join(d.dir, "masq")), [0, 0]);
      assert.deepEqual(await owner(dataDir), [nobody.uid, nobody.gid]);
      for (const name of ["polyagent-node.json", "polyagent-node.log"]) {
        assert.deepEqual(await owner(join(dataDir, name)), [nobody.uid, nobody.gid], name);
      }
      await shutdownNode(d, ui, pid);

      // Another real-user and a nested data directory: created root-owned on the way, the
      // user's at the end.
      const other = join(d.dir, "masq", "nested", "other");
      await ui.transact("setup", {
        values: [
          { name: "real-user", value: "4321:4322:/nonexistent" },
          { name: "data-directory", value: other },
        ],
      });
      pid = await startNode(d, ui);
      assert.deepEqual(await threadIdentities(pid), idLines(4321, 4322));
      assert.deepEqual(await owner(join(d.dir, "masq", "nested")), [0, 0]);
      assert.deepEqual(await owner(other), [4321, 4322]);
      assert.deepEqual(await owner(join(other, "polyagent-node.json")), [4321, 4322]);
      await shutdownNode(d, ui, pid);
    } finally {
      await ui.close();
    }
  },
);

backendTest(
  "masq: a data-directory outside masq.data_root is a setup error; a root real-user panics the Node",
  { root: true },
  async () => {
    await using d = await startDaemon();
    const ui = await Ui.connect(d.port);
    try {
      const outside = await ui.transact("setup", {
        values: [{ name: "data-directory", value: "/etc/polyagent-masq" }],
      });
      const payload = outside.json.payload as {
        values: { name: string; value: string; status: string }[];
        errors: [string, string][];
      };
      assert.deepEqual(payload.errors, [[
        "data-directory",
        `Invalid value: '/etc/polyagent-masq' is not below the data root '${d.dir}/masq' ` +
        "(masq.data_root)",
      ]]);
      assert.equal(payload.values.find((v) => v.name === "data-directory")?.status, "Default");

      await ui.transact("setup", { values: [{ name: "real-user", value: "0:0:/root" }] });
      const start = await ui.transact("start", {}, 30_000);
      assert.match(start.text, /"code":9223372036854775809/);
      await waitFor(
        () =>
          d.agent.stderr().includes(
            "panicked at 'Attempt to drop group privileges failed: still root'",
          ),
        { what: "the Node's panic in the agent log" },
      );
      await assert.rejects(Deno.lstat(join(d.dir, "masq", "base-mainnet")));
    } finally {
      await ui.close();
    }
  },
);

backendTest(
  "masq: a data_root the Node's real-user cannot reach is named at start and in /healthz",
  { root: true },
  async () => {
    const admin = freePort();
    await using dir = await worldTempDir("masq-closed");
    const closed = await closedFolder(dir.path);
    const file = await writeMasqConfig(dir.path, {
      port: freePort(),
      admin,
      dataRoot: `${closed}/masq`,
    });
    await using agent = spawnAgent({ args: ["serve", "--config", file] });
    await agent.waitForLine(/^masq /, 30_000);
    const why = `"${closed}" is mode 0700, owned by uid 0`;
    const line = agent.stderr().split("\n").find((l) => l.includes("masq.data_root"));
    assert.ok(line, agent.stderr());
    assert.equal(JSON.parse(line).level, "error");
    assert.match(line, new RegExp(`not reachable by the Node's real-user 65534:65534`));
    assert.ok(line.includes(why.replaceAll('"', '\\"')), line);
    const health = await (await fetch(`http://127.0.0.1:${admin}/healthz`)).json() as {
      services: { name: string; detail: { dataRootProblem?: string } }[];
    };
    assert.equal(health.services.find((s) => s.name === "masq")?.detail.dataRootProblem, why);
    await agent.stop();
  },
);
