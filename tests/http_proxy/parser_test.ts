/**
 * Pure logic of the data plane, without sockets: the head parsers, the chunked scanner fed in
 * every possible split, the response-head framing rules, routing lookups and round robin.
 */
import assert from "node:assert/strict";
import {
  CHUNKED_ERROR,
  CHUNKED_MORE,
  ChunkedScanner,
} from "../../lib/backends/http_proxy/chunked.ts";
import { HeadError } from "../../lib/backends/http_proxy/head_bytes.ts";
import {
  findHeadEnd,
  HEAD_BARE_LF,
  HEAD_MORE,
  parseRequestHead,
} from "../../lib/backends/http_proxy/request_head.ts";
import { scanResponseHead } from "../../lib/backends/http_proxy/response_head.ts";
import { hostForLookup, RoutingTable } from "../../lib/backends/http_proxy/routing.ts";
import { bytesOf } from "./_helpers.ts";

function request(text: string) {
  const buf = bytesOf(text);
  const end = findHeadEnd(buf, 0, buf.length);
  assert.ok(end > 0, `no head end in ${JSON.stringify(text)}`);
  return parseRequestHead(buf, 0, end);
}

function response(text: string) {
  const buf = bytesOf(text);
  const head = scanResponseHead(buf, 0, buf.length);
  assert.ok(head !== null);
  return head;
}

Deno.test("findHeadEnd() finds CRLFCRLF incrementally and refuses bare LF", () => {
  const text = "GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
  const buf = bytesOf(text);
  const full = text.indexOf("\r\n\r\n") + 4;
  for (let cut = 0; cut < full; cut++) {
    assert.equal(findHeadEnd(buf, 0, cut), HEAD_MORE, `cut ${cut}`);
    assert.equal(findHeadEnd(buf, 0, buf.length, cut), full, `resume at ${cut}`);
  }
  assert.equal(findHeadEnd(bytesOf("GET / HTTP/1.1\nHost: a\r\n\r\n"), 0, 26), HEAD_BARE_LF);
  assert.equal(findHeadEnd(bytesOf("GET / HTTP/1.1\r\n\n"), 0, 17), HEAD_BARE_LF);
});

Deno.test("parseRequestHead() reads framing, keep-alive and forwarding facts", () => {
  const h = request(
    "POST /p?q HTTP/1.1\r\nHost: Example.COM:8080\r\ncontent-length: 12\r\n" +
      "X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-For: 5.6.7.8\r\nExpect: 100-continue\r\n\r\n",
  );
  assert.equal(h.method, "POST");
  assert.equal(h.path, "/p?q");
  assert.equal(h.host, "Example.COM:8080");
  assert.equal(h.contentLength, 12);
  assert.equal(h.chunked, false);
  assert.equal(h.close, false);
  assert.equal(h.expectContinue, true);
  assert.equal(h.xff, "1.2.3.4, 5.6.7.8");
  assert.equal(h.drops.length, 4);
  assert.equal(request("GET / HTTP/1.0\r\n\r\n").close, true);
  assert.equal(request("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").close, false);
  assert.equal(request("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").close, true);
  const up = request(
    "GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
  );
  assert.equal(up.upgrade, "websocket");
  assert.equal(request("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n").upgrade, null);
  assert.equal(
    request("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n").chunked,
    true,
  );
});

Deno.test("parseRequestHead() refuses ambiguous framing with the right status", () => {
  const cases: [string, number][] = [
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400],
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400],
    ["GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400],
    ["GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505],
    ["GET / HTTP/1.1\r\n\r\n", 400],
    ["CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400],
  ];
  for (const [text, status] of cases) {
    assert.throws(
      () => request(text),
      (e: unknown) => e instanceof HeadError && e.status === status,
      JSON.stringify(text),
    );
  }
});

Deno.test("scanResponseHead() reads status and framing; TE beats CL and forbids reuse", () => {
  const r = response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n");
  assert.deepEqual([r.status, r.contentLength, r.chunked, r.close], [200, 5, false, false]);
  assert.equal(r.drops.length, 2);
  const c = response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
  assert.deepEqual([c.chunked, c.contentLength, c.close], [true, -1, true]);
  assert.equal(response("HTTP/1.0 200 OK\r\n\r\n").close, true);
  assert.equal(response("HTTP/1.1 204 No Content\r\n\r\n").status, 204);
  assert.equal(
    response("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n").drops.length,
    0,
  );
  for (
    const bad of [
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/2 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
    ]
  ) {
    assert.throws(() => response(bad), (e: unknown) => e instanceof HeadError && e.status === 502);
  }
});

Deno.test("ChunkedScanner finds the same end for every split of the input", () => {
  const body = "4\r\nWiki\r\n6;x=y\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n";
  const buf = bytesOf(body + "NEXT");
  const s = new ChunkedScanner();
  assert.equal(s.feed(buf, 0, buf.length), body.length);
  for (let cut = 1; cut < body.length; cut++) {
    s.reset();
    assert.equal(s.feed(buf, 0, cut), CHUNKED_MORE, `cut ${cut}`);
    assert.equal(s.feed(buf, cut, buf.length), body.length, `cut ${cut}`);
  }
  // Byte by byte.
  s.reset();
  let end = CHUNKED_MORE;
  for (let i = 0; i < buf.length && end === CHUNKED_MORE; i++) end = s.feed(buf, i, i + 1);
  assert.equal(end, body.length);
});

Deno.test("ChunkedScanner refuses malformed framing", () => {
  for (
    const bad of [
      "x\r\n",
      "3\nabc\r\n",
      "3\r\nabcd\r\n",
      "3\r\nabc\n0\r\n\r\n",
      "0\r\n\n",
      "0\r\n folded\r\n\r\n",
      "fffffffffffffff\r\n",
      "3\r\nabc\r\n0\r\nT: \x00\r\n\r\n",
    ]
  ) {
    const s = new ChunkedScanner();
    const b = bytesOf(bad);
    assert.equal(s.feed(b, 0, b.length), CHUNKED_ERROR, JSON.stringify(bad));
  }
});

Deno.test("hostForLookup() lower-cases, strips the port and refuses junk", () => {
  assert.equal(hostForLookup("Example.COM:8080"), "example.com");
  assert.equal(hostForLookup("example.com."), "example.com");
  assert.equal(hostForLookup("[::1]:80"), "[::1]");
  assert.equal(hostForLookup("a/b"), null);
  assert.equal(hostForLookup("a:b"), null);
  assert.equal(hostForLookup(""), null);
  assert.equal(hostForLookup("[::1"), null);
});

Deno.test("RoutingTable: exact beats wildcard, longest prefix, one-label wildcard, removal", () => {
  const t = new RoutingTable();
  const L = "127.0.0.1:80";
  const front = (hostname: string, pathBegin: string, clusterId: string) => ({
    listener: L,
    hostname,
    pathBegin,
    clusterId,
  });
  t.addFront(front("example.com", "/", "app1"));
  t.addFront(front("example.com", "/yolo", "app2"));
  t.addFront(front("example.com", "/yolo/swag", "app3"));
  t.addFront(front("*.example.com", "", "wild"));
  const pick = (host: string, path: string) => t.lookup(L, host, path, "GET")?.clusterId ?? null;
  assert.equal(pick("example.com", "/"), "app1");
  assert.equal(pick("example.com", "/test"), "app1");
  assert.equal(pick("example.com", "/yolo/test"), "app2");
  assert.equal(pick("example.com", "/yolo/swag"), "app3");
  assert.equal(pick("www.example.com", "/"), "wild");
  assert.equal(pick("a.b.example.com", "/"), null);
  assert.equal(pick("domain", "/"), null);
  assert.equal(t.lookup("127.0.0.1:81", "example.com", "/", "GET"), null);
  assert.equal(t.frontCount, 4);
  t.addFront(front("example.com", "/yolo", "app2")); // idempotent
  assert.equal(t.frontCount, 4);
  t.removeFront(front("example.com", "/yolo/swag", "app3"));
  assert.equal(pick("example.com", "/yolo/swag"), "app2");
  assert.equal(t.frontCount, 3);
});

Deno.test("RoutingTable: round robin, backups once no primary is left, tried ones skipped", () => {
  const t = new RoutingTable();
  t.addCluster({ id: "c" });
  for (const id of ["a", "b", "c"]) {
    t.addBackend({ clusterId: "c", backendId: id, address: `127.0.0.1:${id.charCodeAt(0)}` });
  }
  t.addBackend({ clusterId: "c", backendId: "z", address: "127.0.0.1:9", backup: true });
  const cluster = t.cluster("c")!;
  const order = Array.from({ length: 6 }, () => t.pickBackend(cluster, null)!.backendId);
  assert.deepEqual(order, ["a", "b", "c", "a", "b", "c"]);
  const tried = [cluster.primary[0]!, cluster.primary[1]!];
  assert.equal(t.pickBackend(cluster, tried)!.backendId, "c");
  // every primary tried (refused): the backup
  assert.equal(t.pickBackend(cluster, [...cluster.primary])!.backendId, "z");
  assert.equal(t.pickBackend(cluster, [...cluster.primary, ...cluster.backups]), null);
  for (const b of [...cluster.primary]) t.removeBackend("c", b.backendId, b.address);
  assert.equal(t.pickBackend(cluster, null)!.backendId, "z");
  // Re-adding the same (id, address) updates in place.
  t.addBackend({ clusterId: "c", backendId: "z", address: "127.0.0.1:9", backup: true, weight: 5 });
  assert.equal(cluster.backups.length, 1);
  assert.equal(cluster.backups[0]!.weight, 5);
});

Deno.test("scanResponseHead() waits for every prefix of a valid head and refuses early on bad bytes", () => {
  const text = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  const buf = bytesOf(text);
  const full = text.indexOf("\r\n\r\n") + 4;
  for (let cut = 0; cut < full; cut++) {
    assert.equal(scanResponseHead(buf, 0, cut), null, `cut ${cut}`);
  }
  const head = scanResponseHead(buf, 0, buf.length)!;
  assert.deepEqual([head.length, head.contentLength, head.close], [full, 2, true]);
  assert.equal(scanResponseHead(bytesOf("HTTP/1.1 204\r\n\r\n"), 0, 16)!.status, 204);
  for (
    const bad of [
      "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n",
      "HTTP/1.1 200 OK\r\nX-A: a\nX-B",
      "HTTP/1.1 200 OK\r\nX-A: a\rX-B",
      "HTTP/1.1 200 OK\r\n\n",
      "HTTP/1.1 200 OK\n",
      "HTTP/1.1 2xx OK",
    ]
  ) {
    const b = bytesOf(bad);
    assert.throws(
      () => scanResponseHead(b, 0, b.length),
      (e: unknown) => e instanceof HeadError && e.status === 502,
      JSON.stringify(bad),
    );
  }
});
