/** The Daemon with fake backends: the launch and the node-not-running errors, without processes. */
import assert from "node:assert/strict";
import { type JsonDocument, silentLogger } from "../../lib/core/mod.ts";
import type { MasqNodeControl, NodeExit } from "../../lib/backends/masq_node/mod.ts";
import { LaunchError } from "../../lib/backends/masq_node/mod.ts";
import { DAEMON_DOCUMENT, type DaemonDocument } from "../../lib/protocols/masq/config.ts";
import { Daemon } from "../../lib/protocols/masq/daemon/daemon.ts";
import { decodeMessage } from "../../lib/protocols/masq/codec.ts";

function memoryDoc(): JsonDocument<DaemonDocument> {
  let value = DAEMON_DOCUMENT.empty();
  return {
    path: "memory",
    get value() {
      return value;
    },
    write: (v) => Promise.resolve(void (value = v)),
  };
}

function fakeNodes(fail: boolean): MasqNodeControl & { alive: Set<number> } {
  const alive = new Set<number>();
  return {
    alive,
    freePort: () => 40000,
    launch: (options) => {
      if (fail) return Promise.reject(new LaunchError("Node started in process 7, but died."));
      alive.add(4242);
      return Promise.resolve({
        pid: 4242,
        port: options.port,
        startTime: "ticks:1",
        exited: new Promise<NodeExit>(() => {}),
        detach() {},
      });
    },
    exists: (pid) => alive.has(pid),
    isAlive: (pid) => Promise.resolve(alive.has(pid)),
    watchAdopted: () => Promise.resolve(null),
  };
}

async function converse(daemon: Daemon, sent: string[], text: string): Promise<string> {
  const decoded = decodeMessage(text);
  assert.equal(decoded.kind, "ok");
  const before = sent.length;
  daemon.dispatch(0, (decoded as { message: Parameters<Daemon["dispatch"]>[1] }).message);
  for (let i = 0; i < 100 && sent.length === before; i++) await new Promise((r) => setTimeout(r));
  return sent[before]!;
}

function daemonWith(nodes: MasqNodeControl, sent: string[]): Daemon {
  return new Daemon({
    log: silentLogger(),
    doc: memoryDoc(),
    host: { dataRoot: "/data", dnsServers: [], realUser: "0:0:/root" },
    send: (_target, text) => sent.push(text),
    nodes,
    nodeCommand: ["node"],
    builtIn: true,
    nodeEnv: {},
    launchTimeoutMs: 1000,
  });
}

Deno.test("Daemon: start through fake backends, then already running, then redirect", async () => {
  const sent: string[] = [];
  const daemon = daemonWith(fakeNodes(false), sent);
  assert.equal(
    await converse(daemon, sent, `{"opcode":"start","contextId":1,"payload":{}}`),
    `{"opcode":"start","contextId":1,"payload":{"newProcessId":4242,"redirectUiPort":40000}}`,
  );
  assert.equal(
    await converse(daemon, sent, `{"opcode":"start","contextId":2,"payload":{}}`),
    `{"opcode":"start","contextId":2,"error":{"code":9223372036854775811,"message":"Could not launch Node: already running"}}`,
  );
  assert.equal(
    await converse(daemon, sent, `{"opcode":"descriptor","contextId":3,"payload":{}}`),
    `{"opcode":"redirect","payload":{"port":40000,"opcode":"descriptor","contextId":3,"payload":"{}"}}`,
  );
  daemon.close();
});

Deno.test("Daemon: launch failure, node not running and a bad payload map to the wire codes", async () => {
  const sent: string[] = [];
  const daemon = daemonWith(fakeNodes(true), sent);
  assert.equal(
    await converse(daemon, sent, `{"opcode":"start","contextId":1,"payload":{}}`),
    `{"opcode":"start","contextId":1,"error":{"code":9223372036854775809,"message":"Could not launch Node: Node started in process 7, but died."}}`,
  );
  assert.equal(
    await converse(daemon, sent, `{"opcode":"financials","contextId":2,"payload":{}}`),
    `{"opcode":"financials","contextId":2,"error":{"code":9223372036854775810,"message":"Cannot handle financials request: Node is not running"}}`,
  );
  assert.equal(
    await converse(daemon, sent, `{"opcode":"setup","contextId":3,"payload":{"values":5}}`),
    `{"opcode":"setup","contextId":3,"error":{"code":9223372036854775812,"message":"Bad setup payload: field values: Invalid input: expected array, received number"}}`,
  );
  daemon.close();
});
