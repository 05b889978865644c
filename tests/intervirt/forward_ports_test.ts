/**
 * AddPortForwarding over the real WebSocket never takes a port the host serves on: a reserved
 * port (`intervirt.reserved_ports`, default 22), one of the agent's own listeners, or any port a
 * host socket listens on for that protocol (read with the real `ss` through the agent's runner).
 * Each is code 8 naming the port; nothing is stored and the nft table does not change.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { runCommand } from "../../lib/core/mod.ts";
import { HostCommands } from "../../lib/backends/intervirt_host/mod.ts";
import { IntervirtClient } from "../../lib/protocols/intervirt/mod.ts";
import { backendTest, tempDir } from "../_helpers/mod.ts";
import { startOnFakes } from "./_fakes.ts";

/** A UDP socket bound on loopback (node:dgram: Deno's own needs --unstable-net). */
async function udpSocket(): Promise<{ port: number } & AsyncDisposable> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    [Symbol.asyncDispose]: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

backendTest("intervirt AddPortForwarding refuses reserved, agent and in-use ports with code 8", {
  tools: ["ss"],
}, async () => {
  await using dir = await tempDir("piv");
  const host = new HostCommands(runCommand);
  await using agent = await startOnFakes(dir.path, { reserved_ports: [22, 2222] }, {
    listeners: (protocol, port) => host.listeners(protocol, port),
  });
  const agentPort = Number(new URL(agent.url).port);
  using tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await using udp = await udpSocket();
  const client = await IntervirtClient.connect(agent.url);
  const forward = (externalPort: number, protocol = "tcp") =>
    client.call({ type: "AddPortForwarding", id: "c1", internalPort: 80, externalPort, protocol });
  try {
    const added = await client.call({
      type: "AddContainer",
      id: "c1",
      ipv4: "10.93.0.11",
      ipv6: "fd93::11",
      mac: "02:00:0a:5d:00:11",
      image: "local",
    });
    assert.equal(added.code, undefined);
    const before = agent.tables.length;
    const refused: [number, string, RegExp][] = [
      [22, "tcp", /^Invalid field "externalPort": port 22 is reserved on this host/],
      [22, "udp", /port 22 is reserved on this host \(intervirt\.reserved_ports\)$/],
      [2222, "tcp", /port 2222 is reserved/],
      [agentPort, "tcp", new RegExp(`tcp port ${agentPort} is a listener of the agent itself`)],
      [
        tcp.addr.port,
        "tcp",
        new RegExp(
          `tcp port ${tcp.addr.port} is in use on the host \\(listening: 127\\.0\\.0\\.1:`,
        ),
      ],
      [
        udp.port,
        "udp",
        new RegExp(`udp port ${udp.port} is in use on the host .*127\\.0\\.0\\.1:`),
      ],
    ];
    for (const [port, protocol, message] of refused) {
      const f = await forward(port, protocol);
      assert.equal(f.code, 8, `${protocol}/${port} -> ${JSON.stringify(f)}`);
      assert.match(f.error!, message);
    }
    assert.equal(agent.tables.length, before, "a refused forward changed the nft table");
    const forwards = () =>
      agent.service.manager!.state.forwards.map((f) => `${f.protocol}/${f.externalPort}`);
    assert.deepEqual(forwards(), []);
    // The other protocol on a held port is free; so is a port nothing listens on.
    assert.equal((await forward(tcp.addr.port, "udp")).code, undefined);
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const freePort = free.addr.port;
    free.close();
    assert.equal((await forward(freePort, "tcp")).code, undefined);
    assert.deepEqual(forwards(), [`udp/${tcp.addr.port}`, `tcp/${freePort}`]);
    // Checks stay in their order: unknown container (6), then an existing forward (3).
    const unknown = await client.call({
      type: "AddPortForwarding",
      id: "nobody",
      internalPort: 80,
      externalPort: 22,
      protocol: "tcp",
    });
    assert.equal(unknown.code, 6);
    assert.equal((await forward(freePort, "tcp")).code, 3);
  } finally {
    await client.close();
  }
});

Deno.test("intervirt reserved_ports defaults to 22 and is checked as a port list", async () => {
  const { intervirtConfigSchema } = await import("../../lib/protocols/intervirt/mod.ts");
  assert.deepEqual(intervirtConfigSchema().parse({}).reserved_ports, [22]);
  assert.equal(intervirtConfigSchema().safeParse({ reserved_ports: [0] }).success, false);
  assert.equal(intervirtConfigSchema().safeParse({ reserved_ports: "22" }).success, false);
});
