/** Starting the real Node, redirects, crashes and re-adoption, with real processes. */
import assert from "node:assert/strict";
import { backendTest, waitFor } from "../_helpers/mod.ts";
import { alive, type Daemon, startDaemon, Ui } from "./_harness.ts";

async function startNode(d: Daemon, ui: Ui): Promise<{ pid: number; port: number }> {
  await ui.transact("setup", { values: [{ name: "neighborhood-mode", value: "zero-hop" }] });
  const reply = await ui.transact("start", {}, 30_000);
  const payload = reply.json.payload as { newProcessId: number; redirectUiPort: number };
  assert.ok(payload, `start failed: ${reply.text}`);
  d.nodePids.add(payload.newProcessId);
  return { pid: payload.newProcessId, port: payload.redirectUiPort };
}

function crashedFrames(ui: Ui) {
  return ui.frames.filter((f) => f.json.opcode === "crashed");
}

Deno.test("masq: start, redirect, shutdown at the Node, one crashed for every client", async () => {
  await using d = await startDaemon();
  const a = await Ui.connect(d.port);
  const b = await Ui.connect(d.port);
  try {
    const node = await startNode(d, a);
    assert.ok(alive(node.pid));
    const again = await a.transact("start", {});
    assert.equal(
      again.text,
      `{"opcode":"start","contextId":${again.json.contextId},"error":{"code":9223372036854775811,"message":"Could not launch Node: already running"}}`,
    );

    const running = await a.transact("setup", { values: [{ name: "gas-price", value: "9" }] });
    const rp = running.json.payload as {
      running: boolean;
      values: { name: string; value: string }[];
    };
    assert.equal(rp.running, true);
    assert.equal(rp.values.find((v) => v.name === "gas-price")?.value, "1");

    const contextId = a.request("shutdown", {});
    const redirect = await a.next((f) => f.json.opcode === "redirect");
    assert.ok(!("contextId" in redirect.json));
    assert.deepEqual(redirect.json.payload, {
      port: node.port,
      opcode: "shutdown",
      contextId,
      payload: "{}",
    });
    a.send(`{"opcode":"descriptor","payload":{}}`);
    const oneWayRedirect = await a.next((f) => f.json.opcode === "redirect");
    assert.equal((oneWayRedirect.json.payload as { contextId: unknown }).contextId, null);

    const n = await Ui.connect(node.port);
    assert.equal(n.ws.protocol, "MASQNode-UIv2");
    const bye = await n.transact("shutdown", {});
    assert.equal(bye.text, `{"opcode":"shutdown","contextId":1,"payload":{}}`);
    await n.closed;
    for (const ui of [a, b]) {
      const crashed = await ui.next((f) => f.json.opcode === "crashed");
      assert.ok(!("contextId" in crashed.json));
      assert.deepEqual(crashed.json.payload, {
        processId: node.pid,
        crashReason: { Unrecognized: "" },
      });
    }
    await waitFor(() => !alive(node.pid), { what: "node exit" });
    const after = await a.transact("shutdown", {});
    assert.match(after.text, /9223372036854775810/);
    assert.equal(crashedFrames(a).length + crashedFrames(b).length, 0, "exactly one crashed each");
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("masq: kill -9 of the Node broadcasts crashed NoInformation", async () => {
  await using d = await startDaemon();
  const ui = await Ui.connect(d.port);
  try {
    const node = await startNode(d, ui);
    Deno.kill(node.pid, "SIGKILL");
    const crashed = await ui.next((f) => f.json.opcode === "crashed");
    assert.deepEqual(crashed.json.payload, { processId: node.pid, crashReason: "NoInformation" });
    const setup = await ui.transact("setup", { values: [] });
    assert.equal((setup.json.payload as { running: boolean }).running, false);
  } finally {
    await ui.close();
  }
});

// Re-adoption reads the Node's start time with `ps` (Deno refuses /proc/<pid> without -A).
backendTest("masq: an agent restart keeps the setup and re-adopts the running Node", {
  tools: ["ps"],
}, async () => {
  await using d = await startDaemon();
  let ui = await Ui.connect(d.port);
  const node = await startNode(d, ui);
  await ui.close();
  await d.restart("SIGKILL");
  assert.ok(alive(node.pid), "the Node outlives the agent");
  ui = await Ui.connect(d.port);
  try {
    const setup = await ui.transact("setup", { values: [] });
    const payload = setup.json.payload as {
      running: boolean;
      values: { name: string; value: string; status: string }[];
    };
    assert.equal(payload.running, true);
    assert.deepEqual(payload.values.find((v) => v.name === "neighborhood-mode"), {
      name: "neighborhood-mode",
      value: "zero-hop",
      status: "Set",
    });
    const start = await ui.transact("start", {});
    assert.match(start.text, /9223372036854775811/);
    const contextId = ui.request("descriptor", {});
    const redirect = await ui.next((f) => f.json.opcode === "redirect");
    assert.deepEqual(redirect.json.payload, {
      port: node.port,
      opcode: "descriptor",
      contextId,
      payload: "{}",
    });
    await ui.close();
    // A graceful agent stop leaves the Node running too, and the next agent adopts it again.
    await d.restart("SIGTERM");
    assert.ok(alive(node.pid));
    ui = await Ui.connect(d.port);
    const again = await ui.transact("setup", { values: [] });
    assert.equal((again.json.payload as { running: boolean }).running, true);
    // The re-adopted Node's death is still noticed, by event.
    Deno.kill(node.pid, "SIGKILL");
    const crashed = await ui.next((f) => f.json.opcode === "crashed");
    assert.equal((crashed.json.payload as { processId: number }).processId, node.pid);
  } finally {
    await ui.close();
  }
});

Deno.test("masq: a Node that dies at launch, or cannot be spawned, is a NODE_LAUNCH_ERROR", async () => {
  await using d = await startDaemon(`node_command = ["/bin/false"]`);
  const ui = await Ui.connect(d.port);
  try {
    const died = await ui.transact("start", {});
    assert.match(
      died.text,
      /"code":9223372036854775809,"message":"Could not launch Node: Node started in process \d+, but died immediately\."/,
    );
  } finally {
    await ui.close();
  }
  await using e = await startDaemon(`node_command = ["/nonexistent/MASQNode"]`);
  const ui2 = await Ui.connect(e.port);
  try {
    const missing = await ui2.transact("start", {});
    assert.match(
      missing.text,
      /"code":9223372036854775809,"message":"Could not launch Node: Cannot run/,
    );
  } finally {
    await ui2.close();
  }
  // A Node that never listens: sh ignores the extra arguments and just sleeps.
  await using f = await startDaemon(
    `node_command = ["/bin/sh", "-c", "exec sleep 30"]\nlaunch_timeout_ms = 300`,
  );
  const ui3 = await Ui.connect(f.port);
  try {
    const hung = await ui3.transact("start", {});
    assert.match(hung.text, /but was unresponsive and was killed\./);
  } finally {
    await ui3.close();
  }
});
