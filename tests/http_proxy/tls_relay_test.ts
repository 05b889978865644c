/**
 * The response relay over TLS on both engines when the backend sends a response head and its
 * body in separate writes: the native engine's connections cannot turn Nagle's algorithm off,
 * so there the relay reads a small Content-Length body whole before writing (session.ts
 * `coalesce`). The answers must be the same as on a connection that writes as it reads: the full
 * response and a reusable connection, or, when the backend dies mid-body, the bytes it sent and
 * then the end of the client connection (a POST; a GET is tried again, and with no backend
 * left gets 503).
 */
import assert from "node:assert/strict";
import type { TlsEngineChoice } from "../../lib/backends/http_proxy/mod.ts";
import { backendTest } from "../_helpers/mod.ts";
import { startCa } from "../sozu/_certs.ts";
import { startProxy, startRawBackend } from "./_helpers.ts";
import { readUntil, responses, send, specOf, tlsConnect } from "./_tls.ts";

const HEAD = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";

/** A backend answering each GET with HEAD, then `body` 30 ms later (then closing: `cut`). */
function splitBackend(body: string, cut: boolean) {
  return startRawBackend((received, conn) => {
    if (!received.includes("\r\n\r\n")) return null;
    setTimeout(() => {
      conn.write(new TextEncoder().encode(body)).then(() => {
        if (cut) conn.close();
      }).catch(() => {});
    }, 30);
    return { send: HEAD, rest: received.slice(received.indexOf("\r\n\r\n") + 4) };
  });
}

/** A TLS client connected through an `engine` proxy to {@linkcode splitBackend}. */
async function through(engine: TlsEngineChoice, body: string, cut: boolean) {
  const backend = splitBackend(body, cut);
  const ca = await startCa();
  const cert = await ca.issue({ cn: "a.test" });
  const proxy = await startProxy({
    listener: { protocol: "https" },
    engine: { tlsEngine: engine },
    clusters: { c: [backend.address] },
    fronts: [["a.test", "", "c"]],
    certificates: [specOf(cert, ["a.test"])],
  });
  const conn = await tlsConnect(proxy.port, "a.test", ca.caCertificate);
  return {
    backend,
    conn,
    async [Symbol.asyncDispose]() {
      try {
        conn.close();
      } catch {
        // closed by the proxy
      }
      await proxy[Symbol.asyncDispose]();
      await ca[Symbol.asyncDispose]();
      await backend[Symbol.asyncDispose]();
    },
  };
}

const GET = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
const POST = "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n";
const NEEDS = { tools: ["openssl"] };

for (const engine of ["native", "node"] as TlsEngineChoice[]) {
  backendTest(`${engine}: a body sent after its head arrives whole, twice`, NEEDS, async () => {
    await using t = await through(engine, "0123456789", false);
    for (let i = 0; i < 2; i++) {
      await send(t.conn, GET);
      const text = await readUntil(t.conn, responses(1));
      assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n0123456789$/, text);
    }
    assert.equal(t.backend.connections, 1, "the backend connection was reused");
  });

  backendTest(`${engine}: a backend dying mid-body ends the client connection`, NEEDS, async () => {
    await using t = await through(engine, "01234", true);
    await send(t.conn, POST);
    const text = await readUntil(t.conn, () => false);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 10\r\n[\s\S]*01234$/, text);
    // Ended by the proxy (a read after the end gives null), not by readUntil's timer.
    assert.equal(await t.conn.read(new Uint8Array(1)).catch(() => "closed by the timer"), null);
  });

  backendTest(
    `${engine}: a GET whose every backend dies mid-body gets 503, not a cut answer`,
    NEEDS,
    async () => {
      await using t = await through(engine, "01234", true);
      await send(t.conn, GET);
      const text = await readUntil(t.conn, responses(1));
      assert.match(text, /^HTTP\/1\.1 503 /, text);
      assert.ok(!text.includes("01234"), text);
    },
  );
}
