/**
 * Routing and canned answers through a live proxy: exact host beats a one-label wildcard, the Host
 * port is ignored, the longest raw path prefix wins, unknown hosts get 404; 503 when no backend
 * can be reached (after trying others), 502 on an invalid backend reply, 504 on a backend
 * timeout; per-listener and per-cluster answer overrides; round robin.
 */
import assert from "node:assert/strict";
import { freePort } from "../_helpers/mod.ts";
import {
  rawExchange,
  startHttpBackend,
  startProxy,
  startRawBackend,
  statusLines,
} from "./_helpers.ts";

function get(port: number, host: string, path = "/"): Promise<string> {
  return rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
}

function bodyOf(answer: string): string {
  return answer.slice(answer.indexOf("\r\n\r\n") + 4);
}

Deno.test("routing: exact beats wildcard, port ignored, longest prefix, unknown host 404", async () => {
  const named = (name: string) => startHttpBackend(() => new Response(name));
  await using a = named("a");
  await using b = named("b");
  await using c = named("c");
  await using w = named("w");
  await using proxy = await startProxy({
    clusters: { a: [a.address], b: [b.address], c: [c.address], w: [w.address] },
    fronts: [
      ["example.com", "/", "a"],
      ["example.com", "/yolo", "b"],
      ["example.com", "/yolo/swag", "c"],
      ["*.example.com", "", "w"],
      ["www.example.com", "/api", "a"],
    ],
  });
  const cases: [string, string, string][] = [
    ["example.com", "/", "a"],
    ["example.com", "/test", "a"],
    ["example.com", "/yolo/test", "b"],
    ["example.com", "/yolox", "b"], // raw prefix, not segment-aware
    ["example.com", "/yolo/swag", "c"],
    ["example.com", "/yolo/swag/deeper?q=1", "c"],
    ["EXAMPLE.com:8080", "/yolo", "b"],
    ["example.com.", "/", "a"],
    ["foo.example.com", "/", "w"],
    ["foo.example.com:1234", "/x", "w"],
    ["www.example.com", "/api/v1", "a"], // exact host wins
    ["www.example.com", "/other", "w"], // exact host has no matching path: wildcard
  ];
  for (const [host, path, want] of cases) {
    const answer = await get(proxy.port, host, path);
    assert.equal(bodyOf(answer), want, `${host}${path}: ${answer.slice(0, 60)}`);
  }
  for (const host of ["a.b.example.com", "example.org", "xexample.com", "[::1]"]) {
    assert.deepEqual(statusLines(await get(proxy.port, host)), ["404"], host);
  }
});

Deno.test("routing: absolute-form target routes by its authority", async () => {
  await using a = startHttpBackend((req) => new Response(new URL(req.url).pathname));
  await using proxy = await startProxy({
    clusters: { a: [a.address] },
    fronts: [["abs.test", "/p", "a"]],
  });
  const answer = await rawExchange(
    proxy.port,
    `GET http://abs.test/p/q HTTP/1.1\r\nHost: ignored.test\r\nConnection: close\r\n\r\n`,
  );
  assert.deepEqual(statusLines(answer), ["200"]);
});

Deno.test("round robin spreads requests over the cluster's backends", async () => {
  await using a = startHttpBackend(() => new Response("a"));
  await using b = startHttpBackend(() => new Response("b"));
  await using c = startHttpBackend(() => new Response("c"));
  await using proxy = await startProxy({
    clusters: { app: [a.address, b.address, c.address] },
    fronts: [["rr.test", "", "app"]],
  });
  const seen: string[] = [];
  for (let i = 0; i < 6; i++) seen.push(bodyOf(await get(proxy.port, "rr.test")));
  assert.deepEqual(seen.slice(0, 3).sort(), ["a", "b", "c"]);
  assert.deepEqual(seen.slice(3), seen.slice(0, 3));
});

Deno.test("503 when no backend can be reached; a live one is tried after dead ones", async () => {
  const dead = [freePort(), freePort(), freePort()].map((p) => `127.0.0.1:${p}`);
  await using live = startHttpBackend(() => new Response("live"));
  await using proxy = await startProxy({
    clusters: { dead, mixed: [dead[0]!, dead[1]!, live.address], empty: [] },
    fronts: [["dead.test", "", "dead"], ["mixed.test", "", "mixed"], ["empty.test", "", "empty"], [
      "nocluster.test",
      "",
      "ghost",
    ]],
  });
  for (const host of ["dead.test", "empty.test", "nocluster.test"]) {
    const answer = await get(proxy.port, host);
    assert.deepEqual(statusLines(answer), ["503"], host);
  }
  for (let i = 0; i < 3; i++) {
    assert.equal(bodyOf(await get(proxy.port, "mixed.test")), "live");
  }
});

Deno.test("per-listener answer_404/answer_503 and per-cluster answer_503 overrides", async () => {
  const dead = `127.0.0.1:${freePort()}`;
  await using proxy = await startProxy({
    listener: {
      answer404: "HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\nConnection: close\r\n\r\nnowhere",
      answer503:
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy",
    },
    clusters: { plain: [dead], custom: [dead] },
    fronts: [["plain.test", "", "plain"], ["custom.test", "", "custom"]],
  });
  await proxy.apply({
    op: "add_cluster",
    cluster: {
      id: "custom",
      answer503:
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 6\r\nConnection: close\r\n\r\ncustom",
    },
  });
  assert.equal(bodyOf(await get(proxy.port, "unknown.test")), "nowhere");
  assert.equal(bodyOf(await get(proxy.port, "plain.test")), "busy");
  assert.equal(bodyOf(await get(proxy.port, "custom.test")), "custom");
});

Deno.test("502 on an invalid backend reply, 503 when the backend closes without answering", async () => {
  await using garbage = startRawBackend((received) =>
    received.includes("\r\n\r\n") ? { send: "SSH-2.0-OpenSSH\r\n\r\n", close: true } : null
  );
  await using silent = startRawBackend((received) =>
    received.includes("\r\n\r\n") ? { send: "", close: true } : null
  );
  await using badLength = startRawBackend((received) =>
    received.includes("\r\n\r\n")
      ? { send: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", close: true }
      : null
  );
  await using proxy = await startProxy({
    clusters: { g: [garbage.address], s: [silent.address], l: [badLength.address] },
    fronts: [["g.test", "", "g"], ["s.test", "", "s"], ["l.test", "", "l"]],
  });
  assert.deepEqual(statusLines(await get(proxy.port, "g.test")), ["502"]);
  assert.deepEqual(statusLines(await get(proxy.port, "s.test")), ["503"]);
  assert.deepEqual(statusLines(await get(proxy.port, "l.test")), ["502"]);
});

Deno.test("timeouts: backend response → 504, head read → 408, idle keep-alive → closed", async () => {
  await using slow = startRawBackend(() => null); // never answers
  await using ok = startRawBackend();
  await using proxy = await startProxy({
    listener: { backTimeoutMs: 300, requestTimeoutMs: 300, frontTimeoutMs: 400 },
    clusters: { slow: [slow.address], ok: [ok.address] },
    fronts: [["slow.test", "", "slow"], ["ok.test", "", "ok"]],
  });
  assert.deepEqual(statusLines(await get(proxy.port, "slow.test")), ["504"]);
  // A head that never completes.
  const partial = await rawExchange(proxy.port, "GET / HTTP/1.1\r\nHost: ok.test\r\n", {
    timeoutMs: 5000,
  });
  assert.deepEqual(statusLines(partial), ["408"]);
  // An idle keep-alive connection is closed by the proxy, not by our guard timer.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  let guardFired = false;
  const guard = setTimeout(() => {
    guardFired = true;
    conn.close();
  }, 10_000);
  try {
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: ok.test\r\n\r\n"));
    const buf = new Uint8Array(4096);
    let text = "";
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.deepEqual(statusLines(text), ["200"]);
    assert.equal(guardFired, false, "the proxy closed the idle connection");
  } finally {
    clearTimeout(guard);
    if (!guardFired) conn.close();
  }
});

Deno.test("backend connect timeout falls through to the next backend", async () => {
  // A loopback listener whose tiny backlog is full never completes new connections: a real
  // connect timeout without leaving the machine.
  const port = freePort();
  const full = Deno.listen({ hostname: "127.0.0.1", port, tcpBacklog: 1 });
  const fillers = [
    await Deno.connect({ hostname: "127.0.0.1", port }),
    await Deno.connect({ hostname: "127.0.0.1", port }),
  ];
  try {
    await using live = startHttpBackend(() => new Response("live"));
    await using proxy = await startProxy({
      listener: { connectTimeoutMs: 200 },
      clusters: { app: [`127.0.0.1:${port}`, live.address] },
      fronts: [["ct.test", "", "app"]],
    });
    for (let i = 0; i < 2; i++) assert.equal(bodyOf(await get(proxy.port, "ct.test")), "live");
  } finally {
    for (const c of fillers) c.close();
    full.close();
  }
});
