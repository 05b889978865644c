/**
 * Regression tests for what the fuzzer found (each names the frame shape that showed it):
 * a MASQ frame whose bad field holds an integer beyond 2^53 (or nests very deep) killed the whole
 * agent; a cryptoded garbage line split by a read boundary was answered twice and ended the
 * connection with the requests after it unanswered; the proxy forwarded a chunk size followed by blanks and no extension, and
 * took the head of the next request as trailers when the last chunk lacked its final CRLF.
 */
import assert from "node:assert/strict";
import { decodeMessage } from "../../lib/protocols/masq/mod.ts";
import { JsonStreamParser } from "../../lib/protocols/cryptoded/mod.ts";
import { CHUNKED_ERROR, ChunkedScanner } from "../../lib/backends/http_proxy/chunked.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("decodeMessage() answers a bad field holding a u64 beyond 2^53 instead of throwing", () => {
  const decoded = decodeMessage('{"opcode":"setup","contextId":[12345678901234567890]}');
  assert.equal(decoded.kind, "critical");
  assert.match(
    (decoded as { message: string }).message,
    /contextId should have been of type u64, but was '\[12345678901234567890\]'/,
  );
  const opcode = decodeMessage('{"opcode":{"a":18446744073709551616},"payload":{}}');
  assert.equal(opcode.kind, "critical");
});

Deno.test("decodeMessage() answers a bad field nested 100,000 deep instead of throwing", () => {
  const deep = "[".repeat(100_000) + "]".repeat(100_000);
  const decoded = decodeMessage(`{"opcode":${deep},"payload":{}}`);
  assert.equal(decoded.kind, "critical");
});

Deno.test("JsonStreamParser answers a garbage line cut by a read boundary once", () => {
  const p = new JsonStreamParser(65_536);
  // the server reads 16 KiB at a time: the line and the requests after it come in pieces
  const line = '0{"cmd":5,"param":"' + "a".repeat(100);
  assert.deepEqual(p.push(enc(`{"cmd":8}\n${line}`)), [
    { kind: "value", text: '{"cmd":8}' },
    { kind: "bad", text: line },
  ]);
  assert.ok(p.pending > 0, "the rest of the line is awaited, so the connection stays open");
  assert.deepEqual(p.push(enc('aaa"}\n{"cmd":2,"param":"all"}\n')), [
    { kind: "value", text: '{"cmd":2,"param":"all"}' },
  ]);
  assert.equal(p.pending, 0);
  assert.deepEqual(p.push(enc("junk")), [{ kind: "bad", text: "junk" }]);
  assert.deepEqual(p.push(enc(" more")), []);
  assert.deepEqual(p.end(), []);
});

function scan(body: string): number {
  const bytes = enc(body);
  return new ChunkedScanner().feed(bytes, 0, bytes.length);
}

Deno.test("ChunkedScanner refuses blanks after a chunk size that no extension follows", () => {
  assert.equal(scan("5 \r\nhello\r\n0\r\n\r\n"), CHUNKED_ERROR);
  assert.equal(scan("5\t\r\nhello\r\n0\r\n\r\n"), CHUNKED_ERROR);
  assert.equal(scan("5 x\r\nhello\r\n0\r\n\r\n"), CHUNKED_ERROR);
  const ok = "5 ;a=b\r\nhello\r\n0\r\n\r\n";
  assert.equal(scan(ok), ok.length);
  const tab = "5\t ;a\r\nhello\r\n0\r\n\r\n";
  assert.equal(scan(tab), tab.length);
});

Deno.test("ChunkedScanner refuses a trailer that is not a field line", () => {
  // the last chunk without its final CRLF: the next request's head must not pass as trailers
  const body = "5\r\nhello\r\n0\r\nPATCH /next HTTP/1.1\r\nHost: a\r\n\r\n";
  assert.equal(scan(body), CHUNKED_ERROR);
  assert.equal(scan("0\r\n: x\r\n\r\n"), CHUNKED_ERROR);
  assert.equal(scan("0\r\nX T: 1\r\n\r\n"), CHUNKED_ERROR);
  const trailers = "0\r\nX-T: 1\r\nY:\r\n\r\n";
  assert.equal(scan(trailers), trailers.length);
});

Deno.test("a pipelined Expect: 100-continue request gets its whole answer after the first one (no 100 inside it); a lone one gets its 100 first", async () => {
  const { serveTcp } = await import("../../lib/core/mod.ts");
  const { server, addr } = await serveTcp(
    { hostname: "127.0.0.1", port: 0 },
    async (req) => new Response(`got ${(await req.text()).length}`, { status: 404 }),
  );
  const exchange = async (raw: string, wanted: number): Promise<string> => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: addr.port });
    await conn.write(new TextEncoder().encode(raw));
    const buf = new Uint8Array(65536);
    let out = "";
    while ((out.match(/got \d+/g) ?? []).length < wanted) {
      const n = await conn.read(buf);
      if (n === null) break;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
    return out.replace(/\r\ndate: [^\r]*/gi, "");
  };
  try {
    const piped = await exchange(
      "PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde" +
        "PUT /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n" +
        "5\r\nWnf_Z\r\n0\r\n\r\n",
      2,
    );
    const answers = piped.split("HTTP/1.1 ").filter((s) => s !== "");
    assert.deepEqual(answers.map((a) => a.slice(0, 3)), ["404", "404"], piped);
    assert.ok(answers.every((a) => /\r\n\r\ngot 5$/.test(a)), piped);
    const lone = await exchange(
      "PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nxyz",
      1,
    );
    assert.match(lone, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 404 /);
  } finally {
    await server.shutdown();
  }
});
