/**
 * Backend tools that hang or fail, for real: fake `lxc-*`, `nft`, `ip`, `sysctl`, `nsenter` and
 * `tar` first on the agent's PATH either hang (a shell waiting on its own `sleep 3600` child) or
 * exit 1 with garbage on stderr. Intervirt requests that need them must get their error frame
 * within the configured `intervirt.tool_timeout_ms`, the service must stay up, `/healthz` must
 * show the backend degraded with the last error, and no process a hanging tool started may
 * survive its timeout.
 */
import assert from "node:assert/strict";
import { backendTest } from "../_helpers/mod.ts";
import { type FaultAgent, startFaultAgent } from "./fault_agent.ts";
import { IntervirtClient } from "../../lib/protocols/intervirt/mod.ts";
import { type FakeMode, fakeTools, INTERVIRT_TOOLS, NETWORK_TOOLS } from "./fake_tools.ts";

const addContainer = {
  type: "AddContainer",
  id: "fault1",
  ipv4: "10.93.0.10",
  ipv6: "fd93::10",
  mac: "02:00:0a:5d:00:0a",
  image: "debian/13",
};

async function withFakeTools(
  mode: FakeMode,
  runtime: "lxc" | "incus",
  fn: (fault: FaultAgent, client: IntervirtClient) => Promise<void>,
): Promise<{ started: string[]; alive: string[] }> {
  const names = runtime === "lxc" ? INTERVIRT_TOOLS : [...NETWORK_TOOLS, "incus", "tar"];
  await using tools = await fakeTools(names, mode);
  await using fault = await startFaultAgent({
    label: "tools",
    toolsDir: tools.dir,
    overrides: ["intervirt.tool_timeout_ms=500", `intervirt.runtime=${runtime}`],
  });
  const client = await IntervirtClient.connect(fault.agent.endpoints.intervirt);
  try {
    await fn(fault, client);
  } finally {
    await client.close();
  }
  // while the agent runs, only its long-lived `nft -i` session (and its sleep) may be alive:
  // whatever a timed-out call started is gone; once the agent stopped, nothing at all
  const running = await tools.settled((line) => !line.includes("nft -i"));
  await fault.agent.stop();
  return { started: tools.started(), alive: [...running, ...await tools.settled()] };
}

/** Requests that reach the runtime or the network tools, each answered with an error frame. */
async function requestsFail(fault: FaultAgent, client: IntervirtClient): Promise<string[]> {
  const errors: string[] = [];
  for (let i = 0; i < 3; i++) {
    const reply = await client.call({ ...addContainer, uuid: `add-${i}` }, { timeoutMs: 30_000 });
    assert.equal(reply.type, "General", JSON.stringify(reply));
    assert.ok(typeof reply.code === "number" && reply.code !== 0, JSON.stringify(reply));
    errors.push(String(reply.error));
  }
  const version = await client.call({ type: "Command", command: "version" });
  assert.equal(version.type, "Version", "the service stopped answering");
  assert.equal(await fault.agent.health(), null);
  return errors;
}

backendTest(
  "faults: hanging lxc/nft/ip tools time out, the request gets its error frame, /healthz shows the backend degraded, no child survives",
  { root: true },
  async () => {
    const result = await withFakeTools("hang", "lxc", async (fault, client) => {
      const errors = await requestsFail(fault, client);
      for (const e of errors) assert.match(e, /timed out after 500 ms/, e);
      const detail = await fault.detail("intervirt");
      const backend = detail.backend as { state: string; lastError?: string };
      assert.equal(backend.state, "degraded", JSON.stringify(detail));
      assert.match(backend.lastError ?? "", /timed out after 500 ms/);
    });
    assert.ok(result.started.length > 0, "no fake tool ran");
    assert.deepEqual(result.alive, [], `processes a timed-out tool started are still alive`);
  },
);

backendTest(
  "faults: failing lxc/nft/ip tools give the request its error frame naming the failure, and /healthz keeps the last error",
  { root: true },
  async () => {
    await withFakeTools("fail", "lxc", async (fault, client) => {
      const errors = await requestsFail(fault, client);
      for (const e of errors) assert.match(e, /status 1|failed/i, e);
      const detail = await fault.detail("intervirt");
      const backend = detail.backend as { state: string; lastError?: string };
      assert.match(backend.lastError ?? "", /garbage|status 1/, JSON.stringify(detail));
    });
  },
);

backendTest(
  "faults: a hanging incus times out, the request gets its error frame, /healthz shows the backend degraded, no child survives",
  { root: true },
  async () => {
    const result = await withFakeTools("hang", "incus", async (fault, client) => {
      const errors = await requestsFail(fault, client);
      for (const e of errors) assert.match(e, /timed out after 500 ms/, e);
      const detail = await fault.detail("intervirt");
      assert.equal((detail.backend as { state: string }).state, "degraded", JSON.stringify(detail));
    });
    assert.ok(result.started.some((l) => l.includes("incus")), "incus never ran");
    assert.deepEqual(result.alive, [], `processes a timed-out incus started are still alive`);
  },
);
