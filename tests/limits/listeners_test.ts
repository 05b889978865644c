/**
 * The listener limits on a running agent (admin, sozu, cryptoded, MASQ) with short deadlines and
 * small caps: a silent client and a client that leaves a frame unfinished are closed in the
 * protocol's form, the cap refuses the N+1th in the protocol's form and lets a later one in once
 * one leaves, oversize frames are refused, and the counters show in /metrics. Functional only:
 * no timing targets.
 */
import assert from "node:assert/strict";
import { tempDir, waitFor } from "../_helpers/mod.ts";
import { closeCode, connect, limitsAgent, openWebSocket, untilClosed } from "./_clients.ts";

const HTTP_HEAD = "GET /metrics HTTP/1.1\r\nHost: x\r\n";

/** Asserts that each service counted at least one refusal for `reason` in the /metrics text. */
function assertCounted(metrics: string, reason: string): void {
  for (const service of ["admin", "masq", "sozu", "cryptoded"]) {
    const line = new RegExp(
      `^polyagent_listener_refused_total\\{service="${service}",.*reason="${reason}"\\} [1-9]`,
      "m",
    );
    assert.match(metrics, line, `${service} ${reason}`);
  }
}

function sozuReplies(text: string): { status: string; message: string }[] {
  return text.replace(/\(still open\)$/, "").split("\0").filter((f) => f.trim() !== "")
    .map((f) => JSON.parse(f));
}

Deno.test("limits: silent and slow clients are closed in each protocol's form", async () => {
  await using dir = await tempDir("limits-deadline");
  await using a = await limitsAgent(dir.path, { frame_timeout_ms: 300, idle_timeout_ms: 0 });

  // admin and the MASQ UI port: 408 for a head never started or never finished
  for (const port of [a.admin, a.masq]) {
    assert.match(await untilClosed(await connect(port), null), /^HTTP\/1\.1 408 /, `${port}`);
    assert.match(await untilClosed(await connect(port), HTTP_HEAD), /^HTTP\/1\.1 408 /);
  }
  // sozu: an ERROR reply, then the close
  for (const bytes of [null, '{"id":"x","version":0,"type":"DUMP_STATE"']) {
    const replies = sozuReplies(await untilClosed(await connect(a.sozu), bytes));
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.status, "ERROR");
    assert.match(replies[0]!.message, /not complete after the deadline/);
  }
  // cryptoded: its JSON error form, then the close
  for (const bytes of [null, '{"cmd": 4, "param": ']) {
    const reply = JSON.parse(await untilClosed(await connect(a.cryptoded), bytes));
    assert.equal(typeof reply.code, "number");
    assert.match(reply.data, /request not complete after the deadline/);
  }
  // a normal request still works, and the closes were counted
  const metrics = await a.metrics();
  assert.match(metrics, /^HTTP\/1\.1 200 /);
  assertCounted(metrics, "frame_timeout");
});

Deno.test("limits: the cap refuses the N+1th in each protocol's form, then lets one in", async () => {
  await using dir = await tempDir("limits-cap");
  await using a = await limitsAgent(dir.path, {
    max_connections: 2,
    frame_timeout_ms: 0,
    idle_timeout_ms: 0,
    evict_idle: false,
  });
  const targets: [string, number | string, RegExp, string][] = [
    ["admin", a.admin, /^HTTP\/1\.1 503 [\s\S]*too many connections/, HTTP_HEAD + "\r\n"],
    ["masq", a.masq, /^HTTP\/1\.1 503 /, HTTP_HEAD + "\r\n"],
    [
      "sozu",
      a.sozu,
      /"status":"ERROR".*too many clients/,
      '{"id":"1","version":0,"type":"DUMP_STATE"}\0',
    ],
    ["cryptoded", a.cryptoded, /too many clients/, '{"cmd": 99}'],
  ];
  for (const [name, to, refused, request] of targets) {
    const held = [await connect(to), await connect(to)];
    await waitFor(async () => {
      const text = await untilClosed(await connect(to), null, 2000);
      return refused.test(text) ? text : null;
    }, { what: `${name} refusing a third client` });
    held[0]!.close();
    const served = await waitFor(async () => {
      const text = await untilClosed(await connect(to), request, 2000);
      return refused.test(text) || text === "" ? null : text;
    }, { what: `${name} serving once a client left` });
    assert.doesNotMatch(served, refused, name);
    held[1]!.close();
    await new Promise((r) => setTimeout(r, 100)); // the agent sees them gone before the next
  }
  const metrics = await waitFor(async () => {
    const text = await a.metrics();
    return /^HTTP\/1\.1 200 /.test(text) ? text : null;
  }, { what: "metrics once the held connections are gone" });
  assertCounted(metrics, "connections");
  // the proxy's own refusals (per-client cap, timeouts) are a series of the sozu service
  assert.match(metrics, /^polyagent_sozu_proxy_closed_total\{reason="per_client"\} \d+\r?$/m);
});

Deno.test("limits: oversize frames are refused in each protocol's form", async () => {
  await using dir = await tempDir("limits-oversize");
  await using a = await limitsAgent(dir.path, {});
  const sozu = sozuReplies(await untilClosed(await connect(a.sozu), "x".repeat(2000) + "\0", 1000));
  assert.equal(sozu[0]?.status, "ERROR");
  assert.match(sozu[0]!.message, /message too large/);
  const crypt = JSON.parse(await untilClosed(await connect(a.cryptoded), "{" + " ".repeat(600)));
  assert.match(crypt.data, /larger than 512 bytes/);
  const big = "x".repeat((1 << 20) + 10);
  const admin = await untilClosed(
    await connect(a.admin),
    `POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n${big}`,
  );
  assert.match(admin, /^HTTP\/1\.1 413 /);
  const ws = await openWebSocket(`ws://127.0.0.1:${a.masq}/`, "MASQNode-UIv2");
  const code = closeCode(ws);
  ws.send("x".repeat(2000));
  assert.equal(await code, 1009);
  const metrics = await a.metrics();
  assertCounted(metrics, "oversize");
});

Deno.test("limits: at the cap an idle WebSocket makes room (1013) for a new client", async () => {
  await using dir = await tempDir("limits-evict");
  await using a = await limitsAgent(dir.path, { max_connections: 2, frame_timeout_ms: 0 });
  const url = `ws://127.0.0.1:${a.masq}/`;
  const first = await openWebSocket(url, "MASQNode-UIv2");
  const firstClosed = closeCode(first);
  await new Promise((r) => setTimeout(r, 50));
  const second = await openWebSocket(url, "MASQNode-UIv2");
  const third = await openWebSocket(url, "MASQNode-UIv2");
  assert.equal(await firstClosed, 1013);
  second.close();
  third.close();
});
