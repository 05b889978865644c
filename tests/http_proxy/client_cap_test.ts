/**
 * The proxy's per-client-address connection cap on real sockets (HTTP and TCP listeners): past
 * `maxConnectionsPerClient` a new connection from the same address is closed at accept without a
 * byte, the ones already open keep working, a closed one gives its slot back, 0 turns the cap
 * off; and the refusals and timeouts are counted by reason in the workers' figures (admin
 * /metrics: `polyagent_sozu_proxy_closed_total`).
 */
import assert from "node:assert/strict";
import { waitFor } from "../_helpers/mod.ts";
import { startHttpBackend, startProxy } from "./_helpers.ts";
import { closeQuietly, openSession, startEofBackend } from "./_tcp.ts";
import { closedSeries } from "../../lib/protocols/sozu/traffic_cache.ts";
import { sozuConfigSchema, trafficOptions } from "../../lib/protocols/sozu/config.ts";
import type { WorkerDataPlane } from "../../lib/backends/http_proxy/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One keep-alive request on `conn`; resolves to the answer (up to the body "ok"). */
async function keepAlive(conn: Deno.Conn): Promise<string> {
  await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: cap.test\r\n\r\n"));
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.endsWith("\r\n\r\nok")) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
  }
  return text;
}

/** Reads until EOF (or a reset): the bytes the proxy sent. */
async function untilClosed(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      text += dec.decode(buf.subarray(0, n));
    }
  } catch {
    // reset: closed too
  }
  return text;
}

async function closedCounts(dp: WorkerDataPlane): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (const w of await dp.metrics()) {
    for (const [k, n] of Object.entries(w.closed ?? {})) sums[k] = (sums[k] ?? 0) + n;
  }
  return sums;
}

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** An HTTP proxy with `maxConnectionsPerClient` in front of a backend answering "ok". */
async function capProxy(backend: { address: string }, maxConnectionsPerClient: number) {
  return await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["cap.test", "/", "app"]],
    engine: { maxConnectionsPerClient },
  });
}

/** Opens `n` keep-alive connections (pushed to `open`), each served one request. */
async function openServed(port: number, n: number, open: Deno.Conn[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const conn = await connect(port);
    open.push(conn);
    assert.match(await keepAlive(conn), /^HTTP\/1\.1 200 /);
  }
}

Deno.test("proxy client cap: an HTTP client past the cap is closed at accept, a freed slot is reused", async () => {
  await using backend = startHttpBackend(() => new Response("ok"));
  await using proxy = await capProxy(backend, 3);
  const open: Deno.Conn[] = [];
  try {
    await openServed(proxy.port, 3, open);
    const extra = await connect(proxy.port);
    await extra.write(enc.encode("GET / HTTP/1.1\r\nHost: cap.test\r\n\r\n")).catch(() => 0);
    assert.equal(await untilClosed(extra), "", "the fourth connection is closed without a byte");
    closeQuietly(extra);
    // the three admitted connections still work
    for (const conn of open) assert.match(await keepAlive(conn), /^HTTP\/1\.1 200 /);
    assert.equal((await closedCounts(proxy.dp)).per_client, 1);
    // one leaves: its slot is given back, and a new connection is served
    closeQuietly(open.shift()!);
    let served = "";
    await waitFor(async () => {
      const conn = await connect(proxy.port);
      served = await keepAlive(conn).catch(() => "");
      if (served !== "") open.push(conn);
      else closeQuietly(conn);
      return served !== "";
    }, { what: "a new connection to be served once a slot is free" });
    assert.match(served, /^HTTP\/1\.1 200 /);
  } finally {
    for (const conn of open) closeQuietly(conn);
  }
});

Deno.test("proxy client cap: 0 turns it off", async () => {
  await using backend = startHttpBackend(() => new Response("ok"));
  await using proxy = await capProxy(backend, 0);
  const open: Deno.Conn[] = [];
  try {
    await openServed(proxy.port, 8, open);
    assert.equal((await closedCounts(proxy.dp)).per_client, undefined);
  } finally {
    for (const conn of open) closeQuietly(conn);
  }
});

Deno.test("proxy client cap: a TCP listener caps too", async () => {
  await using backend = startEofBackend("c");
  await using proxy = await startProxy({
    listener: { protocol: "tcp" },
    engine: { maxConnectionsPerClient: 2 },
  });
  await proxy.apply({ op: "add_cluster", cluster: { id: "tcp" } });
  await proxy.apply({
    op: "add_backend",
    backend: { clusterId: "tcp", backendId: "tcp-0", address: backend.address },
  });
  await proxy.apply({ op: "add_tcp_front", front: { listener: proxy.address, clusterId: "tcp" } });
  const open = [await openSession(proxy.port, "a"), await openSession(proxy.port, "b")];
  try {
    const extra = await connect(proxy.port);
    await extra.write(enc.encode("c")).catch(() => 0);
    assert.equal(await untilClosed(extra), "");
    closeQuietly(extra);
    await waitFor(async () => (await closedCounts(proxy.dp)).per_client === 1, {
      what: "the refusal to be counted",
    });
  } finally {
    for (const conn of open) closeQuietly(conn);
  }
});

Deno.test("proxy closed counts: a head that never completes is counted as head_timeout", async () => {
  await using backend = startHttpBackend(() => new Response("ok"));
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["cap.test", "/", "app"]],
    listener: { requestTimeoutMs: 200 },
  });
  const conn = await connect(proxy.port);
  try {
    await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: cap"));
    assert.match(await untilClosed(conn), /^HTTP\/1\.1 408 /);
    await waitFor(async () => (await closedCounts(proxy.dp)).head_timeout === 1, {
      what: "the head timeout to be counted",
    });
  } finally {
    closeQuietly(conn);
  }
});

Deno.test("closedSeries sums the workers and shows every reason", () => {
  const text = closedSeries([
    { closed: { per_client: 2, head_timeout: 1 } },
    { closed: { per_client: 3 } },
    {},
  ] as never);
  assert.match(text, /^# TYPE polyagent_sozu_proxy_closed_total counter$/m);
  assert.match(text, /^polyagent_sozu_proxy_closed_total\{reason="per_client"\} 5$/m);
  assert.match(text, /^polyagent_sozu_proxy_closed_total\{reason="head_timeout"\} 1$/m);
  assert.match(text, /^polyagent_sozu_proxy_closed_total\{reason="max_connections"\} 0$/m);
});

Deno.test("sozu max_connections_per_client: 256 by default, 0 allowed, passed to the data plane", () => {
  const parsed = sozuConfigSchema().parse({});
  assert.equal(parsed.max_connections_per_client, 256);
  const off = sozuConfigSchema().parse({ max_connections_per_client: 0 });
  assert.equal(trafficOptions(off, "/tmp").maxConnectionsPerClient, 0);
  assert.throws(() => sozuConfigSchema().parse({ max_connections_per_client: -1 }));
});
