/**
 * The built-in Node from a checkout only root can read (a clone in /root or `mktemp -d`): started
 * as root it loads its code, then switches to its real-user and still serves.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  backendTest,
  freePort,
  ROOT,
  sh,
  spawnAgent,
  threadIdentities,
  worldTempDir,
} from "../_helpers/mod.ts";
import { Ui, writeMasqConfig } from "./_harness.ts";

backendTest(
  "masq: from a checkout in a 0700 folder, the Node loads its code as root, then runs as nobody",
  { tools: ["cp", "grep", "setpriv"], root: true },
  async () => {
    // A copy of the program that only root can read, like a clone in /root or `mktemp -d`.
    const hidden = await Deno.makeTempDir({ prefix: "polyagent-checkout-" });
    await using world = await worldTempDir("masq-checkout");
    try {
      await Deno.chmod(hidden, 0o700);
      for (const name of ["main.ts", "deno.json", "deno.lock", "lib"]) {
        await sh(["cp", "-r", join(ROOT, name), join(hidden, name)]);
      }
      const port = freePort();
      const file = await writeMasqConfig(world.path, { port });
      await using agent = spawnAgent({ args: ["serve", "--config", file], checkout: hidden });
      await agent.waitForLine(/^masq /, 30_000);
      const unreadable = await sh(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", `${hidden}/main.ts`],
        { check: false },
      );
      assert.notEqual(unreadable.code, 0, "nobody must not read the checkout");
      const ui = await Ui.connect(port);
      let pid = 0;
      try {
        const reply = await ui.transact("start", {}, 30_000);
        const payload = reply.json.payload as { newProcessId: number; redirectUiPort: number };
        assert.ok(payload, `start failed: ${reply.text}\n${agent.stderr()}`);
        pid = payload.newProcessId;
        assert.deepEqual(await threadIdentities(pid), [
          "Uid: 65534 65534 65534 65534",
          "Gid: 65534 65534 65534 65534",
          "Groups:",
        ]);
        const cmdline = await sh(["sh", "-c", `tr '\\0' ' ' < /proc/${pid}/cmdline`]);
        assert.ok(cmdline.stdout.includes(`${hidden}/main.ts masq-node`), cmdline.stdout);
        // The Node serves after the switch (nothing it needs is loaded late from the checkout).
        const node = await Ui.connect(payload.redirectUiPort);
        const status = await node.transact("connectionStatus", {});
        assert.deepEqual(status.json.payload, { stage: "NotConnected" });
        await node.transact("shutdown", {});
        await node.closed;
      } finally {
        await ui.close();
        if (pid) await sh(["kill", "-9", String(pid)], { check: false });
      }
    } finally {
      await Deno.remove(hidden, { recursive: true });
    }
  },
);
