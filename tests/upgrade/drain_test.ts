/**
 * The drain an upgrade uses: a soft stop with an idle grace lets an idle keep-alive connection
 * send one more request (answered with `Connection: close`) instead of closing it under a
 * client that may be sending just then; after the grace, idle connections are closed.
 */
import assert from "node:assert/strict";
import { startHttpBackend, startProxy } from "../http_proxy/_helpers.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function readAnswer(conn: Deno.Conn): Promise<string | null> {
  const buf = new Uint8Array(4096);
  const n = await conn.read(buf).catch(() => null);
  return n === null ? null : dec.decode(buf.subarray(0, n));
}

Deno.test("soft stop with an idle grace: one more request on an idle connection, told to close", async () => {
  await using backend = startHttpBackend(() => new Response("ok"));
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["grace.test", "", "app"]],
  });
  const request = enc.encode("GET / HTTP/1.1\r\nHost: grace.test\r\n\r\n");
  const reused = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const idle = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  for (const conn of [reused, idle]) {
    await conn.write(request);
    assert.match((await readAnswer(conn)) ?? "", /^HTTP\/1\.1 200 OK\r\n(?![^]*Connection: close)/);
  }
  const t0 = performance.now();
  const stopping = proxy.dp.softStop({ idleGraceMs: 400 });
  await new Promise((r) => setTimeout(r, 100));
  // the client that reuses its connection during the grace gets an answer and is told to close
  await reused.write(request);
  const last = (await readAnswer(reused)) ?? "";
  assert.match(last, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(last, /\r\nConnection: close\r\n/);
  assert.equal(await readAnswer(reused), null);
  reused.close();
  // the one that stays idle is closed once the grace is over
  assert.equal(await readAnswer(idle), null);
  assert.ok(performance.now() - t0 >= 350, "not before the grace");
  idle.close();
  await stopping;
});
