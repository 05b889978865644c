/**
 * The PROXY protocol: the parser (v1, v2, incomplete and malformed headers) and the v2 encoder,
 * then on real sockets: `expect_proxy` on HTTP and TCP listeners (the carried client address is
 * what X-Forwarded-For and Forwarded show; a connection without a header, or with a malformed
 * one, is closed) and `send_proxy` (SEND_HEADER) towards HTTP and TCP backends, which parse it.
 */
import assert from "node:assert/strict";
import {
  encodeProxyV2,
  parseProxyHeader,
  PROXY_V2_SIGNATURE,
  ProxyHeaderError,
} from "../../lib/backends/http_proxy/proxy_protocol.ts";
import { bytesOf, latin1, rawExchange, statusLines } from "./_helpers.ts";
import { startHttpBackend, startProxy, startRawBackend } from "./_helpers.ts";
import { roundTrip, roundTripText, startEofBackend, startTcpProxy } from "./_tcp.ts";

const V1 = "PROXY TCP4 192.168.7.7 127.0.0.1 40000 80\r\n";

function v2(family: number, body: number[], command = 0x21): Uint8Array {
  return new Uint8Array([
    ...PROXY_V2_SIGNATURE,
    command,
    family,
    body.length >> 8,
    body.length & 255,
    ...body,
  ]);
}

Deno.test("parseProxyHeader() reads v1 TCP4, TCP6 and UNKNOWN headers", () => {
  const h = parseProxyHeader(bytesOf(V1 + "GET"), V1.length + 3)!;
  assert.deepEqual(h, {
    version: 1,
    source: { ip: "192.168.7.7", port: 40000 },
    destination: { ip: "127.0.0.1", port: 80 },
    length: V1.length,
  });
  const six = "PROXY TCP6 2001:db8::7 ::1 5 6\r\n";
  assert.equal(parseProxyHeader(bytesOf(six), six.length)!.source!.ip, "2001:db8::7");
  const unknown = "PROXY UNKNOWN\r\n";
  assert.equal(parseProxyHeader(bytesOf(unknown), unknown.length)!.source, null);
});

Deno.test("parseProxyHeader() waits for more bytes, and refuses malformed headers", () => {
  assert.equal(parseProxyHeader(bytesOf(V1), 10), null);
  assert.equal(parseProxyHeader(PROXY_V2_SIGNATURE, 12), null);
  const bad = [
    "GET / HTTP/1.1\r\n",
    "PROXY TCP4 300.1.1.1 127.0.0.1 1 2\r\n",
    "PROXY TCP4 1.1.1.1 127.0.0.1 1 70000\r\n",
    "PROXY TCP4 1.1.1.1 127.0.0.1 1\r\n",
    "PROXY TCP4 1.1.1.1 127.0.0.1 1 2\n",
    "PROXY TCP4 " + "1".repeat(120),
  ];
  for (const text of bad) {
    assert.throws(() => parseProxyHeader(bytesOf(text), text.length), ProxyHeaderError, text);
  }
  assert.throws(() => parseProxyHeader(v2(0x11, [1, 2, 3], 0x31), 19), ProxyHeaderError);
  assert.throws(() => parseProxyHeader(v2(0x11, [1, 2, 3]), 19), ProxyHeaderError);
  assert.throws(() => parseProxyHeader(v2(0x31, new Array(216).fill(0)), 232), ProxyHeaderError);
});

Deno.test("parseProxyHeader() reads v2 IPv4, IPv6 and LOCAL headers with TLVs", () => {
  const four = v2(0x11, [192, 168, 7, 7, 127, 0, 0, 1, 0x9c, 0x40, 0, 80, 0x04, 0, 1, 9]);
  const h = parseProxyHeader(four, four.length)!;
  assert.deepEqual(h.source, { ip: "192.168.7.7", port: 40000 });
  assert.deepEqual(h.destination, { ip: "127.0.0.1", port: 80 });
  assert.equal(h.length, four.length);
  const ip6 = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 7];
  const six = v2(0x21, [...ip6, ...new Array(15).fill(0), 1, 0, 5, 0, 6]);
  assert.equal(parseProxyHeader(six, six.length)!.source!.ip, "2001:db8::7");
  const local = v2(0x00, [], 0x20);
  assert.equal(parseProxyHeader(local, local.length)!.source, null);
});

Deno.test("encodeProxyV2() round-trips through the parser", () => {
  for (
    const [src, dst] of [
      [{ ip: "192.168.7.7", port: 1 }, { ip: "127.0.0.1", port: 2 }],
      [{ ip: "2001:db8::7", port: 3 }, { ip: "::1", port: 4 }],
      [{ ip: "192.168.7.7", port: 5 }, { ip: "::1", port: 6 }],
    ]
  ) {
    const bytes = encodeProxyV2(src!, dst!);
    const h = parseProxyHeader(bytes, bytes.length)!;
    assert.equal(h.length, bytes.length);
    assert.equal(h.source!.port, src!.port);
    assert.equal(h.destination!.port, dst!.port);
    if (!src!.ip.includes(":") && dst!.ip.includes(":")) {
      assert.equal(h.source!.ip, "::ffff:c0a8:707");
    } else assert.equal(h.source!.ip, src!.ip);
  }
});

Deno.test("expect_proxy on an HTTP listener: the carried address is the client's", async () => {
  await using backend = startHttpBackend((req) =>
    new Response(`xff=${req.headers.get("x-forwarded-for")} fwd=${req.headers.get("forwarded")}`)
  );
  await using proxy = await startProxy({
    listener: { expectProxy: true },
    clusters: { app: [backend.address] },
    fronts: [["example.com", "", "app"]],
  });
  const request = "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n";
  const one = await rawExchange(proxy.port, V1 + request);
  assert.match(one, /xff=192\.168\.7\.7 fwd=proto=http;for=192\.168\.7\.7:40000;by=127\.0\.0\.1/);
  const header = encodeProxyV2({ ip: "2001:db8::9", port: 1234 }, { ip: "::1", port: 80 });
  const two = await rawExchange(proxy.port, latin1(header) + request);
  assert.match(two, /xff=2001:db8::9 fwd=proto=http;for="\[2001:db8::9\]:1234"/);
  // Without a header, or with a malformed one, the connection is closed unanswered.
  assert.equal(await rawExchange(proxy.port, request), "");
  assert.equal(await rawExchange(proxy.port, "PROXY TCP4 x\r\n" + request), "");
  assert.equal(backend.requests, 2);
});

Deno.test("send_proxy on HTTP: each backend connection starts with a v2 header, unpooled", async () => {
  await using backend = startRawBackend((received) => {
    const bytes = bytesOf(received);
    const h = parseProxyHeader(bytes, bytes.length);
    if (h === null || !received.slice(h.length).includes("\r\n\r\n")) return null;
    return { send: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" };
  });
  await using proxy = await startProxy({ listener: { expectProxy: true } });
  await proxy.apply({ op: "add_cluster", cluster: { id: "app", proxyProtocol: "SEND_HEADER" } });
  await proxy.apply({
    op: "add_backend",
    backend: { clusterId: "app", backendId: "b", address: backend.address },
  });
  await proxy.apply({
    op: "add_front",
    front: { listener: proxy.address, clusterId: "app", hostname: "example.com", pathBegin: "" },
  });
  const request = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
  const text = await rawExchange(proxy.port, V1 + request + request, {
    until: (t) => statusLines(t).length === 2,
  });
  assert.deepEqual(statusLines(text), ["200", "200"]);
  // A v2 header names one client: every exchange got a fresh backend connection and a header.
  assert.equal(backend.connections, 2);
  for (const received of backend.received) {
    const got = bytesOf(received);
    const h = parseProxyHeader(got, got.length)!;
    assert.equal(h.version, 2);
    assert.deepEqual(h.source, { ip: "192.168.7.7", port: 40000 });
    assert.deepEqual(h.destination, { ip: "127.0.0.1", port: 80 });
    assert.match(received.slice(h.length), /^GET \/ HTTP\/1\.1\r\n/);
  }
});

Deno.test("TCP listener: expect_proxy in, send_proxy v2 out, RELAY_HEADER passes it on", async () => {
  await using backend = startEofBackend("t");
  {
    await using proxy = await startTcpProxy([backend.address], {
      expectProxy: true,
      proxyProtocol: "SEND_HEADER",
    });
    const answer = await roundTrip(proxy.port, bytesOf(V1 + "payload"));
    assert.match(latin1(answer), /payload$/);
    const got = backend.received[0]!;
    const h = parseProxyHeader(got, got.length)!;
    assert.equal(h.version, 2);
    assert.deepEqual(h.source, { ip: "192.168.7.7", port: 40000 });
    assert.equal(latin1(got.subarray(h.length)), "payload");
    assert.equal(await roundTripText(proxy.port, "no header"), "");
  }
  {
    await using proxy = await startTcpProxy([backend.address], { proxyProtocol: "RELAY_HEADER" });
    await roundTrip(proxy.port, bytesOf(V1 + "relayed"));
    assert.equal(latin1(backend.received.at(-1)!), V1 + "relayed");
  }
  {
    await using proxy = await startTcpProxy([backend.address], { proxyProtocol: "EXPECT_HEADER" });
    await roundTrip(proxy.port, bytesOf(V1 + "expected"));
    assert.equal(latin1(backend.received.at(-1)!), "expected");
  }
});
