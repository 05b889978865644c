/**
 * The wire protocol against a real listener: replies carry type and refID, the bad-input matrix
 * gets the right codes and the connection stays open, unknown ids are code 6, a host without
 * root or runtime answers code 4 naming what is missing, host commands are code 7 unless enabled,
 * and the token / allow-list checks refuse clients before the upgrade.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, sh, tempDir } from "../_helpers/mod.ts";
import { IntervirtClient } from "../../lib/protocols/intervirt/mod.ts";
import { startInProcess } from "./_harness.ts";

const ready = () => [];

Deno.test("intervirt replies carry type and refID; version answers Version", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startInProcess(dir.path, {}, ready);
  const client = await IntervirtClient.connect(agent.url);
  try {
    const frames = await client.request({ type: "Command", command: "version", uuid: "u-1" });
    assert.deepEqual(frames, [{ type: "Version", refID: "u-1", version: "0.1.0" }]);
  } finally {
    await client.close();
  }
});

Deno.test("intervirt bad-input matrix answers codes 6/7/8 and keeps the connection", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startInProcess(dir.path, {}, ready);
  const client = await IntervirtClient.connect(agent.url);
  const good = {
    type: "AddContainer",
    id: "c1",
    ipv4: "10.93.9.2",
    ipv6: "fd93:9::2",
    mac: "02:00:0a:5d:09:02",
    internet: false,
    image: "busybox",
  };
  const cases: [Record<string, unknown>, number, RegExp][] = [
    [{ type: "NoSuchThing" }, 7, /Unsupported request type "NoSuchThing"/],
    [{ type: 42 }, 8, /"type"/],
    [{ command: "wipe" }, 8, /Missing field "type"/],
    [{ type: "AddContainer", id: "c1" }, 8, /Missing field "ipv4"/],
    [{ ...good, ipv4: "10.93.9.300" }, 8, /"ipv4"/],
    [{ ...good, ipv6: "fd93:::1:2" }, 8, /"ipv6"/],
    [{ ...good, mac: "zz:00:0a:5d:09:02" }, 8, /"mac"/],
    [{ ...good, mac: "03:00:0a:5d:09:02" }, 8, /unicast/],
    [{ ...good, id: "../etc" }, 8, /"id"/],
    [{ ...good, image: "../../etc/passwd" }, 8, /"image"/],
    [{ ...good, internet: "yes" }, 8, /"internet"/],
    [
      { type: "AddPortForwarding", id: "c1", internalPort: 80, externalPort: 0, protocol: "tcp" },
      8,
      /"externalPort"/,
    ],
    [
      {
        type: "AddPortForwarding",
        id: "c1",
        internalPort: 80.5,
        externalPort: 80,
        protocol: "tcp",
      },
      8,
      /"internalPort"/,
    ],
    [
      {
        type: "AddPortForwarding",
        id: "c1",
        internalPort: 80,
        externalPort: 8080,
        protocol: "sctp",
      },
      8,
      /"protocol"/,
    ],
    [{ type: "RemovePortForwarding", externalPort: 8080 }, 8, /Missing field "protocol"/],
    [{ type: "IDWithNewIpv4", id: "c1" }, 8, /"newIpv4"/],
    [{ type: "IDWithNewIpv6", id: "c1", newIP: "10.0.0.1" }, 8, /"newIP"/],
    [{ type: "SetInternetAccess", id: "c1" }, 8, /Missing field "enabled"/],
    [{ type: "Connect", id1: "c1", id2: "c1" }, 8, /same container/],
    [{ type: "Command", command: "fly" }, 7, /Unsupported command "fly"/],
    [{ type: "StartContainer", id: "nobody" }, 6, /Container nobody doesn't exist/],
    [{ type: "StopContainer", id: "nobody" }, 6, /doesn't exist/],
    [{ type: "RemoveContainer", id: "nobody" }, 6, /doesn't exist/],
    [{ type: "IDWithNewIpv4", id: "nobody", newIpv4: "10.93.9.3" }, 6, /doesn't exist/],
    [{ type: "IDWithNewIpv6", id: "nobody", newIP: "fd93:9::3" }, 6, /doesn't exist/],
    [{ type: "Connect", id1: "x1", id2: "x2" }, 6, /Container x1 and x2 don't exist/],
    [{ type: "Disconnect", id1: "x1", id2: "x2" }, 6, /don't exist/],
    [{ type: "SetInternetAccess", id: "nobody", enabled: true }, 6, /doesn't exist/],
    [
      {
        type: "AddPortForwarding",
        id: "nobody",
        internalPort: 80,
        externalPort: 8080,
        protocol: "tcp",
      },
      6,
      /doesn't exist/,
    ],
    [
      { type: "RemovePortForwarding", externalPort: 8080, protocol: "udp" },
      6,
      /udp\/8080 doesn't exist/,
    ],
    [{ ...good, image: "no-such-image" }, 6, /Image no-such-image not found/],
    [{ type: "Command", command: "update" }, 7, /allow_host_commands = true/],
    [{ type: "Command", command: "shutdown" }, 7, /allow_host_commands = true/],
    [{ type: "Command", command: "reboot" }, 7, /allow_host_commands = true/],
  ];
  try {
    for (const [body, code, message] of cases) {
      const uuid = crypto.randomUUID();
      const frames = await client.request({ ...body, uuid });
      assert.equal(frames.length, 1, JSON.stringify(body));
      const f = frames[0]!;
      assert.equal(f.type, "General");
      assert.equal(f.refID, uuid);
      assert.equal(f.code, code, `${JSON.stringify(body)} -> ${JSON.stringify(f)}`);
      assert.match(f.error ?? "", message, JSON.stringify(body));
    }
    // Malformed frames: no uuid to refer to, code 8, connection still open.
    client.sendRaw("{not json");
    client.sendRaw("[1,2]");
    client.sendRaw("x".repeat(70_000));
    const version = await client.call({ type: "Command", command: "version" });
    assert.equal(version.type, "Version");
    const orphans = client.takeOrphans();
    assert.deepEqual(orphans.map((o) => [o.refID, o.code]), [[null, 8], [null, 8], [null, 8]]);
    assert.match(orphans[0]!.error!, /Invalid JSON/);
    assert.match(orphans[2]!.error!, /Message too large/);
  } finally {
    await client.close();
  }
});

Deno.test("intervirt without root or runtime answers code 4 naming what is missing", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startInProcess(
    dir.path,
    {},
    () => ["root privileges (the agent runs as uid 1000)", 'the "lxc-start" command'],
  );
  const client = await IntervirtClient.connect(agent.url);
  try {
    for (
      const body of [
        {
          type: "AddContainer",
          id: "c1",
          ipv4: "10.93.9.2",
          ipv6: "fd93:9::2",
          mac: "02:00:0a:5d:09:02",
          image: "busybox",
        },
        { type: "StartContainer", id: "c1" },
        { type: "Connect", id1: "a", id2: "b" },
        { type: "Command", command: "wipe" },
        { type: "RemovePortForwarding", externalPort: 80, protocol: "tcp" },
      ]
    ) {
      const f = await client.call(body);
      assert.equal(f.code, 4, JSON.stringify(f));
      assert.match(f.error!, /root privileges.*"lxc-start" command/);
    }
    assert.equal((await client.call({ type: "Command", command: "version" })).type, "Version");
    assert.equal(agent.details.at(-1)?.unavailable !== undefined, true);
  } finally {
    await client.close();
  }
});

Deno.test("intervirt overlapping requests from several clients are each answered by refID", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startInProcess(dir.path, {}, ready);
  const clients = await Promise.all([1, 2, 3].map(() => IntervirtClient.connect(agent.url)));
  try {
    const all = await Promise.all(
      clients.flatMap((c, i) =>
        Array.from(
          { length: 10 },
          (_, j) =>
            c.call({ type: "StartContainer", id: `n${i}-${j}`, uuid: `r-${i}-${j}` }).then((f) => [
              f.refID,
              f.error,
            ]),
        )
      ),
    );
    for (const [refID, error] of all) {
      const m = /^r-(\d)-(\d+)$/.exec(String(refID));
      assert.ok(m);
      assert.equal(error, `Container n${m[1]}-${m[2]} doesn't exist`);
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
});

Deno.test("intervirt token and allow-list refuse clients before the upgrade", async () => {
  await using dir = await tempDir("piv");
  {
    await using agent = await startInProcess(dir.path, { token: "s3cret" }, ready);
    await assert.rejects(IntervirtClient.connect(agent.url));
    const bad = await fetch(agent.url.replace("ws:", "http:") + "?token=nope");
    assert.equal(bad.status, 401);
    await bad.body?.cancel();
    const client = await IntervirtClient.connect(agent.url + "?token=s3cret");
    assert.equal((await client.call({ type: "Command", command: "version" })).version, "0.1.0");
    await client.close();
  }
  {
    await using agent = await startInProcess(dir.path, { allow: ["10.1.2.0/24", "::1"] }, ready);
    const refused = await fetch(agent.url.replace("ws:", "http:"));
    assert.equal(refused.status, 403);
    await refused.body?.cancel();
  }
  {
    // A web page (any Origin header) cannot drive the agent unless its origin is listed.
    await using agent = await startInProcess(dir.path, {
      allowed_origins: ["http://intervirt.local"],
    }, ready);
    const http = agent.url.replace("ws:", "http:");
    const upgrade = { upgrade: "websocket", connection: "Upgrade" };
    const evil = await fetch(http, { headers: { ...upgrade, origin: "http://evil.example" } });
    assert.equal(evil.status, 403);
    await evil.body?.cancel();
    const listed = await fetch(http, { headers: { origin: "http://intervirt.local" } });
    assert.equal(listed.status, 426);
    await listed.body?.cancel();
  }
  {
    await using agent = await startInProcess(dir.path, { allow: ["127.0.0.0/8"] }, ready);
    const client = await IntervirtClient.connect(agent.url);
    assert.equal((await client.call({ type: "Command", command: "version" })).type, "Version");
    await client.close();
  }
});

Deno.test("intervirt update streams a progress frame per step when host commands are enabled", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startInProcess(dir.path, {
    allow_host_commands: true,
    update_steps: ["true", "echo updated"],
    shutdown_command: "true",
  }, ready);
  const client = await IntervirtClient.connect(agent.url);
  try {
    const frames = await client.request({ type: "Command", command: "update", uuid: "up-1" });
    assert.deepEqual(frames, [
      { type: "General", refID: "up-1", progress: 0, output: "Running true...", status: -1 },
      {
        type: "General",
        refID: "up-1",
        progress: 0.5,
        output: "Running echo updated...",
        status: -1,
      },
      { type: "General", refID: "up-1" },
    ]);
    const down = await client.call({ type: "Command", command: "shutdown" });
    assert.deepEqual(down, { type: "General", refID: down.refID });
  } finally {
    await client.close();
  }
  // ctl shows streamed commands as a progress bar and exits 0.
  const ctl = await sh([
    Deno.execPath(),
    "run",
    "-q",
    "-P=agent",
    join(ROOT, "main.ts"),
    "ctl",
    "intervirt",
    "--url",
    agent.url,
    "update",
  ]);
  assert.match(ctl.stderr, /\[#{10} {10}\] {2}50% Running echo updated\.\.\./);
  assert.equal(ctl.stdout.trim(), "ok");
});

Deno.test("intervirt failed commands answer 2 (no reason) or 5 (with stderr); overload answers 1", async () => {
  await using dir = await tempDir("piv");
  {
    await using agent = await startInProcess(dir.path, {
      allow_host_commands: true,
      update_steps: ["false"],
    }, ready);
    const client = await IntervirtClient.connect(agent.url);
    const f = await client.call({ type: "Command", command: "update" });
    assert.equal(f.code, 2, JSON.stringify(f));
    await client.close();
  }
  {
    await using agent = await startInProcess(dir.path, {
      allow_host_commands: true,
      update_steps: ["ls /nonexistent-piv"],
      max_in_flight: 1,
    }, ready);
    const client = await IntervirtClient.connect(agent.url);
    const [update, version] = await Promise.all([
      client.call({ type: "Command", command: "update" }),
      client.call({ type: "Command", command: "version" }),
    ]);
    assert.equal(update.code, 5, JSON.stringify(update));
    assert.match(update.error!, /nonexistent-piv/);
    assert.equal(version.code, 1);
    assert.match(version.error!, /Too many requests in flight/);
    await client.close();
  }
});

Deno.test("intervirt exposes its figures as Prometheus gauges", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startInProcess(dir.path, {}, ready);
  const client = await IntervirtClient.connect(agent.url);
  try {
    await client.call({ type: "Command", command: "version" });
    const text = agent.service.metrics();
    assert.match(text, /^polyagent_intervirt_containers 0$/m);
    assert.match(text, /^polyagent_intervirt_clients 1$/m);
  } finally {
    await client.close();
  }
});
