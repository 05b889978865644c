/**
 * The bad-input matrix: each bad frame gets an ERROR reply naming the problem (with the request id
 * when it can be read), the state stays as it was, and the same connection keeps working.
 */
import assert from "node:assert/strict";
import type { CommandResponse, SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { startHarness } from "./_harness.ts";

const encoder = new TextEncoder();

async function raw(client: SozuClient, text: string | Uint8Array, expectId: string) {
  const waiting = client.expect(expectId, 5000);
  await client.sendRaw(
    typeof text === "string" ? encoder.encode(text + "\0") : new Uint8Array([...text, 0]),
  );
  return await waiting;
}

async function dumpText(client: SozuClient): Promise<string> {
  const r = await client.request({ type: "DUMP_STATE" }, { timeoutMs: 5000 });
  assert.equal(r.status, "OK");
  return JSON.stringify(r.data);
}

function order(id: string, type: string, data?: unknown, extra: Record<string, unknown> = {}) {
  return JSON.stringify({ id, version: 0, type: "PROXY", data: { type, data }, ...extra });
}

Deno.test("bad input gets ERROR replies, leaves the state alone and keeps the connection", async () => {
  await using h = await startHarness({ config: { listeners: ["127.0.0.1:18081"] } });
  const c = await h.client();
  const setup = [
    order("s1", "ADD_APPLICATION", { app_id: "app" }),
    order("s2", "ADD_HTTP_FRONT", {
      app_id: "app",
      address: "127.0.0.1:18081",
      hostname: "a.test",
    }),
    order("s3", "ADD_BACKEND", { app_id: "app", backend_id: "b", address: "127.0.0.1:9999" }),
    order("s4", "ADD_APPLICATION", { app_id: "app2" }),
  ];
  for (const [i, text] of setup.entries()) {
    assert.equal((await raw(c, text, `s${i + 1}`)).status, "OK");
  }
  const before = await dumpText(c);

  const cases: [string, string | Uint8Array, string, RegExp][] = [
    ["invalid JSON with a readable id", '{"id":"j1","type":"DUMP_STATE",', "j1", /invalid JSON/],
    ["invalid JSON without an id", "{nope", "", /invalid JSON/],
    ["not an object", "[1,2,3]", "", /expected a JSON object/],
    ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "", /not valid UTF-8/],
    ["id of the wrong type", '{"id":5,"version":0,"type":"DUMP_STATE"}', "", /id/],
    [
      "unknown type",
      '{"id":"u1","version":0,"type":"FROBNICATE"}',
      "u1",
      /unknown request type "FROBNICATE"/,
    ],
    ["unknown order", order("u2", "FROBNICATE", {}), "u2", /unknown order type "FROBNICATE"/],
    ["version > 0", '{"id":"v1","version":1,"type":"DUMP_STATE"}', "v1", /version mismatch/],
    [
      "wrong field type",
      order("w1", "ADD_BACKEND", { app_id: "app", backend_id: "b2", address: 42 }),
      "w1",
      /data\.address/,
    ],
    [
      "bad address",
      order("w2", "ADD_BACKEND", { app_id: "app", backend_id: "b2", address: "nowhere" }),
      "w2",
      /data\.address: expected an address/,
    ],
    [
      "bad hostname",
      order("w3", "ADD_HTTP_FRONT", {
        app_id: "app",
        address: "127.0.0.1:18081",
        hostname: "bad host",
      }),
      "w3",
      /data\.hostname/,
    ],
    ["missing field", order("w4", "ADD_APPLICATION", {}), "w4", /data\.app_id/],
    [
      "front on a missing listener",
      order("f1", "ADD_HTTP_FRONT", { app_id: "app", address: "127.0.0.1:1", hostname: "b.test" }),
      "f1",
      /no HTTP listener at 127\.0\.0\.1:1/,
    ],
    [
      "front for a missing application",
      order("f2", "ADD_HTTP_FRONT", {
        app_id: "ghost",
        address: "127.0.0.1:18081",
        hostname: "b.test",
      }),
      "f2",
      /application "ghost" does not exist/,
    ],
    [
      "front taken by another application",
      order("f3", "ADD_HTTP_FRONT", {
        app_id: "app2",
        address: "127.0.0.1:18081",
        hostname: "a.test",
      }),
      "f3",
      /a\.test on 127\.0\.0\.1:18081 already routes to application "app"/,
    ],
    [
      "remove an unknown backend",
      order("r1", "REMOVE_BACKEND", { app_id: "app", backend_id: "zz", address: "127.0.0.1:1" }),
      "r1",
      /cannot remove backend/,
    ],
    [
      "remove an unknown front",
      order("r2", "REMOVE_HTTP_FRONT", {
        app_id: "app",
        address: "127.0.0.1:18081",
        hostname: "zz.test",
      }),
      "r2",
      /no HTTP front/,
    ],
    [
      "remove an unknown application",
      order("r3", "REMOVE_APPLICATION", "zz"),
      "r3",
      /application "zz" does not exist/,
    ],
    [
      "remove an application still in use",
      order("r4", "REMOVE_APPLICATION", "app"),
      "r4",
      /still has 1 front and 1 backend/,
    ],
    [
      "remove an unknown listener",
      order("r5", "REMOVE_LISTENER", { front: "127.0.0.1:2", proxy: "http" }),
      "r5",
      /no HTTP listener at 127\.0\.0\.1:2/,
    ],
    [
      "remove a listener in use",
      order("r6", "REMOVE_LISTENER", { front: "127.0.0.1:18081", proxy: "http" }),
      "r6",
      /still has 1 front/,
    ],
    [
      "remove an unknown certificate",
      order("r7", "REMOVE_CERTIFICATE", "a".repeat(64)),
      "r7",
      /no certificate with fingerprint/,
    ],
    [
      "a TCP front on no TCP listener",
      order("t1", "ADD_TCP_FRONT", { app_id: "app", address: "127.0.0.1:5" }),
      "t1",
      /no TCP listener at 127\.0\.0\.1:5/,
    ],
    [
      "state path escaping the state dir",
      '{"id":"p1","version":0,"type":"SAVE_STATE","data":{"path":"../x"}}',
      "p1",
      /leaves the state directory/,
    ],
    [
      "absolute state path",
      '{"id":"p2","version":0,"type":"LOAD_STATE","data":{"path":"/etc/passwd"}}',
      "p2",
      /absolute state paths are not allowed/,
    ],
    [
      "a listener that exists differently",
      order("l1", "ADD_HTTP_LISTENER", { front: "127.0.0.1:18081", front_timeout: 5 }),
      "l1",
      /already exists/,
    ],
  ];
  for (const [what, text, id, message] of cases) {
    const reply: CommandResponse = await raw(c, text, id);
    assert.equal(reply.status, "ERROR", what);
    assert.equal(reply.id, id, what);
    assert.match(reply.message, message, `${what}: ${reply.message}`);
  }

  // a frame over 1 MB, then the connection still works
  const big = JSON.stringify({
    id: "big",
    version: 0,
    type: "DUMP_STATE",
    data: "x".repeat(1_100_000),
  });
  const tooBig = await raw(c, big, "");
  assert.equal(tooBig.status, "ERROR");
  assert.match(tooBig.message, /too large/);

  assert.equal(await dumpText(c), before, "state unchanged");
  // another client was never affected
  const other = await h.client();
  assert.equal(await dumpText(other), before);
});

Deno.test("a LOAD_STATE file with a damaged record is refused before anything is applied", async () => {
  await using h = await startHarness();
  const c = await h.client();
  await Deno.mkdir(`${h.stateDir}/sozu`, { recursive: true });
  await Deno.writeTextFile(
    `${h.stateDir}/sozu/damaged`,
    order("a", "ADD_APPLICATION", { app_id: "one" }) + "\n\0{broken\n\0",
  );
  const r = await c.request({ type: "LOAD_STATE", data: { path: "damaged" } }, { timeoutMs: 5000 });
  assert.equal(r.status, "ERROR");
  assert.match(r.message, /record 2 is not valid JSON/);
  const d = await c.request({ type: "DUMP_STATE" }, { timeoutMs: 5000 });
  assert.deepEqual((d.data?.data as { applications: object }).applications, {});
  // a file whose records are valid but one is inconsistent: the others apply, the count says so
  await Deno.writeTextFile(
    `${h.stateDir}/sozu/partial`,
    order("a", "ADD_APPLICATION", { app_id: "one" }) + "\n\0" +
      order("b", "ADD_BACKEND", { app_id: "ghost", backend_id: "x", address: "127.0.0.1:1" }) +
      "\n\0",
  );
  const p = await c.request({ type: "LOAD_STATE", data: { path: "partial" } }, { timeoutMs: 5000 });
  assert.equal(p.status, "ERROR");
  assert.match(p.message, /^ok: 1 messages, error: 1/);
});

Deno.test("a client that never reads its replies does not hold up the others", async () => {
  await using h = await startHarness({ config: { max_in_flight: 50 } });
  const good = await h.client();
  for (let i = 0; i < 300; i++) {
    const r = await good.request(
      {
        type: "PROXY",
        data: { type: "ADD_APPLICATION", data: { app_id: `app-${i}-${"x".repeat(200)}` } },
      },
      { timeoutMs: 5000 },
    );
    assert.equal(r.status, "OK");
  }
  // the rude client floods large DUMP_STATE replies and never reads them
  const rude = await Deno.connect({ transport: "unix", path: h.socket });
  try {
    const flood = new TextEncoder().encode(
      '{"id":"d","version":0,"type":"DUMP_STATE"}\0'.repeat(2000),
    );
    const writing = rude.write(flood).catch(() => 0);
    for (let i = 0; i < 20; i++) {
      const r = await good.request(
        { type: "PROXY", data: { type: "ADD_APPLICATION", data: { app_id: `later-${i}` } } },
        { timeoutMs: 5000 },
      );
      assert.equal(r.status, "OK");
    }
    rude.close();
    await writing;
  } catch (error) {
    rude.close();
    throw error;
  }
});
