/**
 * The malformed and smuggling-style request corpus against a live proxy: every case gets the
 * proxy's own 400 (431 for an oversized head), the connection ends, and the backend receives
 * nothing — so nothing is ever forwarded as two requests.
 */
import assert from "node:assert/strict";
import { rawExchange, startProxy, startRawBackend, statusLines } from "./_helpers.ts";

const H = "Host: app.test\r\n";

/** [name, raw request, expected status]. */
const CORPUS: [string, string, string][] = [
  [
    "CL and TE together",
    `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    "400",
  ],
  [
    "TE and CL together",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n${H}\r\n`,
    "400",
  ],
  [
    "duplicate CL, different",
    `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 40\r\n\r\nabc`,
    "400",
  ],
  [
    "duplicate CL, same",
    `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc`,
    "400",
  ],
  ["CL list", `POST / HTTP/1.1\r\n${H}Content-Length: 3, 3\r\n\r\nabc`, "400"],
  ["CL negative", `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, "400"],
  ["CL with plus", `POST / HTTP/1.1\r\n${H}Content-Length: +3\r\n\r\nabc`, "400"],
  ["CL hex", `POST / HTTP/1.1\r\n${H}Content-Length: 0x3\r\n\r\nabc`, "400"],
  ["CL huge", `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, "400"],
  ["TE not chunked", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`, "400"],
  [
    "TE chunked twice",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    "400",
  ],
  ["TE obfuscated", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, "400"],
  [
    "TE with space before colon",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`,
    "400",
  ],
  ["TE list", `POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`, "400"],
  ["obs-fold", `GET / HTTP/1.1\r\n${H}X-A: b\r\n  folded\r\n\r\n`, "400"],
  ["obs-fold with tab", `GET / HTTP/1.1\r\n${H}X-A: b\r\n\tfolded\r\n\r\n`, "400"],
  ["bare LF in headers", `GET / HTTP/1.1\r\n${H}X-A: b\nX-B: c\r\n\r\n`, "400"],
  ["bare LF terminator", `GET / HTTP/1.1\n${H}\n`, "400"],
  ["bare CR in value", `GET / HTTP/1.1\r\n${H}X-A: b\rX-B: c\r\n\r\n`, "400"],
  ["NUL in value", `GET / HTTP/1.1\r\n${H}X-A: b\x00c\r\n\r\n`, "400"],
  ["control char in value", `GET / HTTP/1.1\r\n${H}X-A: b\x01c\r\n\r\n`, "400"],
  ["space in header name", `GET / HTTP/1.1\r\n${H}X A: b\r\n\r\n`, "400"],
  ["invalid char in header name", `GET / HTTP/1.1\r\n${H}X(A): b\r\n\r\n`, "400"],
  ["empty header name", `GET / HTTP/1.1\r\n${H}: b\r\n\r\n`, "400"],
  ["header without colon", `GET / HTTP/1.1\r\n${H}XA\r\n\r\n`, "400"],
  ["missing Host", `GET / HTTP/1.1\r\nX-A: b\r\n\r\n`, "400"],
  ["duplicate Host", `GET / HTTP/1.1\r\n${H}Host: other.test\r\n\r\n`, "400"],
  ["junk after Host", `GET / HTTP/1.1\r\nHost: app.test/evil\r\n\r\n`, "400"],
  ["empty Host", `GET / HTTP/1.1\r\nHost: \r\n\r\n`, "400"],
  ["bad Host port", `GET / HTTP/1.1\r\nHost: app.test:80x\r\n\r\n`, "400"],
  ["request line with extra space", `GET  / HTTP/1.1\r\n${H}\r\n`, "400"],
  ["request line with trailing space", `GET / HTTP/1.1 \r\n${H}\r\n`, "400"],
  ["space in target", `GET /a b HTTP/1.1\r\n${H}\r\n`, "400"],
  ["invalid method", `G(T / HTTP/1.1\r\n${H}\r\n`, "400"],
  ["bad version", `GET / HTTP/1.x\r\n${H}\r\n`, "400"],
  ["lower-case version", `GET / http/1.1\r\n${H}\r\n`, "400"],
  ["not http at all", `\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n`, "400"],
  [
    "chunk size not hex",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    "400",
  ],
  [
    "chunk size with bare LF",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n`,
    "400",
  ],
  [
    "chunk data too long",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n`,
    "400",
  ],
  [
    "chunk size overflow",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nabc\r\n0\r\n\r\n`,
    "400",
  ],
  [
    "negative chunk size",
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n`,
    "400",
  ],
  ["head over 64 KiB", `GET / HTTP/1.1\r\n${H}X-Big: ${"a".repeat(70 * 1024)}\r\n\r\n`, "431"],
  [
    "many headers over 64 KiB",
    `GET / HTTP/1.1\r\n${H}${"X-H: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(2100)}\r\n`,
    "431",
  ],
];

Deno.test("malformed and smuggling-style requests are refused and never forwarded", async () => {
  await using backend = startRawBackend();
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["app.test", "", "app"]],
  });
  const failures: string[] = [];
  for (const [name, request, expected] of CORPUS) {
    const answer = await rawExchange(proxy.port, request);
    const statuses = statusLines(answer);
    if (statuses.length !== 1 || statuses[0] !== expected) {
      failures.push(`${name}: got ${JSON.stringify(answer.slice(0, 80))}`);
    }
    if (!/\r\nConnection: close\r\n/i.test(answer)) failures.push(`${name}: connection kept`);
  }
  assert.deepEqual(failures, []);
  assert.equal(backend.all(), "", "the backend must receive nothing");
  // The listener is still up and serving after all that.
  const ok = await rawExchange(proxy.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.deepEqual(statusLines(ok), ["200"]);
});

Deno.test("a smuggled second request inside a valid body is forwarded as body bytes only", async () => {
  await using backend = startRawBackend((received) => {
    const end = received.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const length = Number(/content-length: (\d+)/i.exec(received)?.[1] ?? "0");
    if (received.length < end + 4 + length) return null;
    return { send: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false };
  });
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["app.test", "", "app"]],
  });
  const inner = `GET /admin HTTP/1.1\r\n${H}\r\n`;
  const answer = await rawExchange(
    proxy.port,
    `POST / HTTP/1.1\r\n${H}Content-Length: ${inner.length}\r\nConnection: close\r\n\r\n${inner}`,
  );
  assert.deepEqual(statusLines(answer), ["200"]);
  const seen = backend.all();
  assert.equal((seen.match(/^POST \/ HTTP\/1\.1\r\n/gm) ?? []).length, 1);
  assert.ok(seen.endsWith(`\r\n\r\n${inner}`), "the inner request arrived as the body");
});

Deno.test("a chunked body ends where its framing says; the rest is the next request", async () => {
  await using backend = startRawBackend();
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["app.test", "", "app"]],
  });
  // Two pipelined requests: a chunked POST with a trailer, then a GET.
  const answer = await rawExchange(
    proxy.port,
    `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n` +
      `GET /second HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    { until: (t) => statusLines(t).length >= 2 },
  );
  assert.deepEqual(statusLines(answer), ["200", "200"]);
  const seen = backend.all();
  assert.match(seen, /0\r\nX-Trailer: t\r\n\r\nGET \/second HTTP\/1\.1\r\n/);
});
