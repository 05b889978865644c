/**
 * The TCP proxy (sozu TCP listeners) on real sockets: an HTTP exchange and raw bytes both ways
 * with half-close, balancing over two backends, a dead backend retried on another, soft stop
 * waiting for open TCP sessions, and hard stop dropping them.
 */
import assert from "node:assert/strict";
import { freePort, waitFor } from "../_helpers/mod.ts";
import { bytesOf, latin1, startHttpBackend } from "./_helpers.ts";
import {
  closeQuietly,
  openSession,
  readAll,
  roundTrip,
  roundTripText,
  startEofBackend,
  startTcpProxy,
  writeFull,
} from "./_tcp.ts";

Deno.test("TCP proxy: an HTTP exchange passes through unchanged", async () => {
  await using backend = startHttpBackend((req) =>
    new Response(`path=${new URL(req.url).pathname} xff=${req.headers.get("x-forwarded-for")}`)
  );
  await using proxy = await startTcpProxy([backend.address]);
  const answer = await roundTripText(
    proxy.port,
    "GET /hello HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
  );
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  // L4: no header is added (no X-Forwarded-For).
  assert.match(answer, /path=\/hello xff=null$/);
});

Deno.test("TCP proxy: bytes both ways, and the half-close passed on", async () => {
  await using backend = startEofBackend("b");
  await using proxy = await startTcpProxy([backend.address]);
  const data = new Uint8Array(200_000).map((_, i) => (i * 7919) & 0xff);
  // The backend answers only once it has seen the client's half-close.
  const answer = await roundTrip(proxy.port, data);
  const prefix = "b:200000:";
  assert.equal(latin1(answer.subarray(0, prefix.length)), prefix);
  assert.deepEqual(answer.subarray(prefix.length), data);
  assert.deepEqual(backend.received[0], data);
});

Deno.test("TCP proxy: connections are balanced over two backends", async () => {
  await using a = startEofBackend("a");
  await using b = startEofBackend("b");
  await using proxy = await startTcpProxy([a.address, b.address]);
  const names: string[] = [];
  for (let i = 0; i < 6; i++) names.push((await roundTripText(proxy.port, "x")).slice(0, 1));
  assert.equal(names.filter((n) => n === "a").length, 3);
  assert.equal(names.filter((n) => n === "b").length, 3);
});

Deno.test("TCP proxy: a dead backend is retried on another one", async () => {
  await using live = startEofBackend("live");
  const dead = `127.0.0.1:${freePort()}`;
  await using proxy = await startTcpProxy([dead, live.address]);
  for (let i = 0; i < 4; i++) {
    assert.equal(await roundTripText(proxy.port, "ping"), "live:4:ping");
  }
  const figures = await proxy.dp.backendStats();
  const deadFigures = figures.find((f) => f.address === dead);
  assert.ok(deadFigures && deadFigures.failures >= 1, "the dead backend's failures are counted");
  assert.equal(figures.find((f) => f.address === live.address)?.requests, 4);
});

Deno.test("TCP proxy: no usable backend closes the client", async () => {
  await using proxy = await startTcpProxy([`127.0.0.1:${freePort()}`]);
  assert.equal((await roundTrip(proxy.port, bytesOf("x"))).byteLength, 0);
});

Deno.test("TCP proxy: soft stop waits for an open session, which keeps working", async () => {
  await using backend = startEofBackend("s");
  await using proxy = await startTcpProxy([backend.address]);
  const conn = await openSession(proxy.port, "before ");
  try {
    // Let the session reach the backend before stopping.
    await new Promise((r) => setTimeout(r, 200));
    let stopped = false;
    const stopping = proxy.dp.softStop().then(() => stopped = true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(stopped, false, "soft stop waits for the TCP session");
    await writeFull(conn, bytesOf("after"));
    await conn.closeWrite();
    assert.equal(latin1(await readAll(conn)), "s:12:before after");
    await stopping;
    assert.equal(stopped, true);
  } finally {
    closeQuietly(conn);
  }
});

Deno.test("TCP proxy: a session idle past the front timeout is closed", async () => {
  await using backend = startEofBackend("i");
  await using proxy = await startTcpProxy([backend.address], { frontTimeoutMs: 300 });
  const conn = await openSession(proxy.port, "x");
  try {
    // The backend answers only after a half-close that never comes: the idle timeout ends it.
    const rest = await readAll(conn).catch(() => new Uint8Array(0));
    assert.equal(rest.byteLength, 0);
    await waitFor(() => backend.received.length === 1, { what: "the backend side to close" });
  } finally {
    closeQuietly(conn);
  }
});

Deno.test("TCP proxy: hard stop drops open sessions", async () => {
  await using backend = startEofBackend("h");
  await using proxy = await startTcpProxy([backend.address]);
  const conn = await openSession(proxy.port, "x");
  try {
    await new Promise((r) => setTimeout(r, 200));
    await proxy.dp.hardStop();
    const rest = await readAll(conn).catch(() => new Uint8Array(0));
    assert.equal(rest.byteLength, 0);
  } finally {
    closeQuietly(conn);
  }
});
