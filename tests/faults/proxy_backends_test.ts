/**
 * Proxy backends that misbehave, for real (a raw TCP backend per case behind a real data plane):
 * a reset or a half-close before any answer (503: nothing came back, as sozu answers), a close in
 * the middle of the head, an oversized head and a malformed head (502), an answer sent byte by
 * byte (slow but whole: 200 intact) and one that stalls past the listener's backend timeout (504).
 * Afterwards the worker holds no session, no lent buffer and no pooled connection to the broken
 * backend.
 */
import assert from "node:assert/strict";
import type { EngineStats } from "../../lib/backends/http_proxy/mod.ts";
import { freePort, waitFor } from "../_helpers/mod.ts";
import { rawExchange, startProxy, statusLines } from "../http_proxy/_helpers.ts";

const enc = new TextEncoder();
const HOST = "faults.test";
const REQUEST = `GET /x HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`;
const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/** Reads from `conn` until a request head ended; false when the peer closed first. */
async function readHead(conn: Deno.Conn): Promise<boolean> {
  const buf = new Uint8Array(65536);
  let text = "";
  while (!text.includes("\r\n\r\n")) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return false;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return true;
}

/** Closes `conn`, which the behaviour may have closed already. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed already
  }
}

/** A backend that runs `behave` on every accepted connection. */
function faultyBackend(behave: (conn: Deno.Conn) => Promise<void>) {
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      behave(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        closeQuietly(conn);
      });
    }
  })().catch(() => {});
  return {
    address: `127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      conns.forEach(closeQuietly);
      await accepting;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cases: the backend's behaviour and the status the client must get. */
const CASES: [string, (conn: Deno.Conn) => Promise<void>, string][] = [
  ["resets the connection after the request", async (conn) => {
    await readHead(conn);
    conn.close();
  }, "503"],
  ["half-closes before answering", async (conn) => {
    await readHead(conn);
    await conn.closeWrite();
    await sleep(3_000);
  }, "503"],
  ["closes in the middle of its head", async (conn) => {
    await readHead(conn);
    await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Le"));
    conn.close();
  }, "502"],
  ["answers byte by byte", async (conn) => {
    await readHead(conn);
    for (const byte of enc.encode(OK)) {
      await conn.write(Uint8Array.of(byte));
      await sleep(10);
    }
    await sleep(3_000);
  }, "200"],
  ["stalls after one byte of its head", async (conn) => {
    await readHead(conn);
    await conn.write(enc.encode("H"));
    await sleep(5_000);
  }, "504"],
  ["sends an oversized head", async (conn) => {
    await readHead(conn);
    const filler = `X-Filler: ${"a".repeat(1000)}\r\n`.repeat(200);
    await conn.write(enc.encode(`HTTP/1.1 200 OK\r\n${filler}Content-Length: 2\r\n\r\nok`))
      .catch(() => {});
    await sleep(1_000);
  }, "502"],
  ["sends a malformed head", async (conn) => {
    await readHead(conn);
    await conn.write(enc.encode("HTTP/1.1 2x0 OK\r\nContent-Length 2\r\n\r\nok"));
    await sleep(1_000);
  }, "502"],
];

/** The one worker's counters. */
async function stats(dp: { stats(): Promise<unknown[]> }): Promise<EngineStats> {
  return (await dp.stats())[0] as EngineStats;
}

for (const [what, behave, status] of CASES) {
  Deno.test(`faults: a proxy backend that ${what} gets ${status}, and nothing leaks`, async () => {
    await using backend = faultyBackend(behave);
    await using proxy = await startProxy({
      clusters: { c: [backend.address] },
      fronts: [[HOST, "/", "c"]],
      listener: { backTimeoutMs: 1_000 },
    });
    // the quick faults many times over, so a leak per exchange would show
    const rounds = status === "200" || status === "504" ? 1 : 20;
    for (let i = 0; i < rounds; i++) {
      const answer = await rawExchange(proxy.port, REQUEST, {
        until: (t) => t.includes("\r\n\r\n") && (status !== "200" || t.endsWith("ok")),
        timeoutMs: 10_000,
      });
      assert.deepEqual(statusLines(answer), [status], `round ${i}: ${answer.slice(0, 300)}`);
      if (status === "200") assert.ok(answer.endsWith("ok"), answer);
    }
    const settled = await waitFor(async () => {
      const s = await stats(proxy.dp);
      const clean = s.sessions === 0 && s.buffersInUse.request === 0 && s.buffersInUse.io === 0;
      return clean ? s : null;
    }, { what: "the worker to hold no session or buffer" });
    // a broken backend connection is never kept for reuse
    if (status !== "200") assert.equal(settled.idleBackendConnections, 0);
  });
}

/** A backend that answers the head and half of a 10-byte body, then dies. */
const diesMidBody = async (conn: Deno.Conn) => {
  await readHead(conn);
  await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"));
  await sleep(20);
  await conn.write(enc.encode("dead-"));
  await sleep(20);
  conn.close();
};

Deno.test("faults: a backend dying in the middle of a small answer costs a GET nothing: another backend answers", async () => {
  await using dying = faultyBackend(diesMidBody);
  await using healthy = faultyBackend(async (conn) => {
    while (await readHead(conn)) {
      await conn.write(enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfrom-other"));
    }
  });
  await using proxy = await startProxy({
    clusters: { c: [dying.address, healthy.address] },
    fronts: [[HOST, "/", "c"]],
  });
  for (let i = 0; i < 6; i++) {
    const answer = await rawExchange(proxy.port, REQUEST, {
      until: (t) => t.endsWith("from-other"),
      timeoutMs: 5_000,
    });
    assert.deepEqual(statusLines(answer), ["200"], `round ${i}: ${answer}`);
    assert.ok(answer.endsWith("\r\n\r\nfrom-other"), `round ${i}: ${answer}`);
  }
});

Deno.test("faults: a POST whose backend dies in the middle of its answer is never sent again", async () => {
  let requests = 0;
  await using dying = faultyBackend((conn) => (requests++, diesMidBody(conn)));
  await using proxy = await startProxy({
    clusters: { c: [dying.address] },
    fronts: [[HOST, "/", "c"]],
  });
  const answer = await rawExchange(
    proxy.port,
    `POST /x HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 2\r\n\r\nhi`,
    { timeoutMs: 5_000 },
  );
  // the head went out as it came; the client sees the answer cut short
  assert.deepEqual(statusLines(answer), ["200"], answer);
  assert.ok(answer.endsWith("\r\n\r\ndead-"), answer);
  assert.equal(requests, 1);
});
