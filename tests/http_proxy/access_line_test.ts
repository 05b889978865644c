/**
 * The access log's byte formatter (pure logic): every line is exactly `JSON.stringify` of the
 * record with the documented keys in order, for plain values and for values that need escaping
 * (quotes, backslashes, control characters, non-ASCII, lone surrogates), and the batch writer
 * writes every line whole.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { accessLine, type AccessRecord } from "../../lib/backends/http_proxy/access_line.ts";
import { AccessLog } from "../../lib/backends/http_proxy/access_log.ts";

function expected(r: AccessRecord): string {
  const ms = (v: number) => Math.round(v * 1000) / 1000;
  return JSON.stringify({
    time: new Date(Math.floor(r.time)).toISOString(),
    client: r.client,
    listener: r.listener,
    method: r.method,
    host: r.host,
    path: r.path,
    status: r.status,
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
    duration_ms: ms(r.durationMs),
    backend_ms: r.backendMs < 0 ? null : ms(r.backendMs),
    app: r.app,
    backend: r.backend,
    sozu_id: r.sozuId,
  }) + "\n";
}

function record(over: Partial<AccessRecord> = {}): AccessRecord {
  return {
    time: 1796490402412.25,
    client: "127.0.0.1:54321",
    listener: "127.0.0.1:8080",
    method: "GET",
    host: "example.com",
    path: "/a/b?c=d",
    status: 200,
    bytesIn: 120,
    bytesOut: 1300,
    durationMs: 0.4312,
    backendMs: 0.3,
    app: "app-1",
    backend: "b0",
    sozuId: "01JZ8K3N5QH4W2XRT7Y6M9P0AB",
    ...over,
  };
}

Deno.test("an access line is JSON.stringify of the record, keys in order", () => {
  const cases: Partial<AccessRecord>[] = [
    {},
    { host: null, app: null, backend: null, sozuId: null, backendMs: -1, status: 400 },
    { path: '/q?x="y"&z=\\w', host: "h\u0001st" },
    { path: "/caf\u00e9/\u65e5\u672c", method: "M\u00ff" },
    { path: "/\ud800x\udfff", client: "[::1]:1" },
    { durationMs: 0, backendMs: 0 },
    { durationMs: 12345.6789, backendMs: 1.0005, bytesIn: 0, bytesOut: 9_007_199_254 },
    { time: 1796490402000, durationMs: 2, backendMs: 0.0004 },
    { time: 1796490402999.9 },
    { time: 1796490402009 },
    { time: 1796490402090 },
  ];
  for (const c of cases) {
    const r = record(c);
    assert.equal(accessLine(r), expected(r), JSON.stringify(c));
    JSON.parse(accessLine(r));
  }
  for (let i = 0; i < 2000; i++) {
    const r = record({
      time: 1796490402412 + i * 7.31,
      durationMs: (i * 7919) % 100000 / 997,
      backendMs: i % 3 === 0 ? -1 : (i * 104729) % 1000 / 13,
      bytesIn: i * 31,
      bytesOut: i * i,
      status: 100 + i % 500,
    });
    assert.equal(accessLine(r), expected(r));
  }
});

Deno.test("the access log writes every queued line whole, across batches", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "logs", "access.log");
    let errors = 0;
    const log = new AccessLog(path, ["127.0.0.1:8080"], () => errors++);
    assert.equal(log.wants("127.0.0.1:8080"), true);
    assert.equal(log.wants("127.0.0.1:8081"), false);
    const long = "/" + "x".repeat(100_000);
    for (let i = 0; i < 1000; i++) log.add(record({ status: i, path: i === 500 ? long : "/p" }));
    await log.close();
    const lines = (await Deno.readTextFile(path)).split("\n");
    assert.equal(lines.pop(), "");
    assert.equal(lines.length, 1000);
    lines.forEach((line, i) => assert.equal(JSON.parse(line).status, i));
    assert.equal(JSON.parse(lines[500]!).path, long);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
    assert.equal(errors, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an access log that cannot be written says so once and drops lines", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "file"), "");
    const errors: unknown[] = [];
    const log = new AccessLog(join(dir, "file", "access.log"), ["*"], (e) => errors.push(e));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) log.add(record());
      await log.flush();
    }
    assert.equal(errors.length, 1);
    await log.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
