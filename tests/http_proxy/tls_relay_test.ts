/**
 * The response relay over TLS on both engines when the backend sends a response head and its
 * body in separate writes: the native engine's connections cannot turn Nagle's algorithm off,
 * so there the relay reads a small Content-Length body whole before writing (session.ts
 * `coalesce`). The answers must be the same as on a connection that writes as it reads: the full
 * response and a reusable connection, or, when the backend dies mid-body, the bytes it sent and
 * then the end of the client connection.
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
    return { send: HEAD, rest: received.slice(received.indexOf("\r\n\r\n") + 4) } as {
      send: string;
    };
  });
}

async function proxyTo(engine: TlsEngineChoice, backend: string) {
  const ca = await startCa();
  const cert = await ca.issue({ cn: "a.test" });
  const proxy = await startProxy({
    listener: { protocol: "https" },
    engine: { tlsEngine: engine },
    clusters: { c: [backend] },
    fronts: [["a.test", "", "c"]],
    certificates: [specOf(cert, ["a.test"])],
  });
  return {
    proxy,
    ca,
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      await ca[Symbol.asyncDispose]();
    },
  };
}

const GET = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";

for (const engine of ["native", "node"] as TlsEngineChoice[]) {
  backendTest(`${engine}: a body sent after its head arrives whole, twice on one connection`, {
    tools: ["openssl"],
  }, async () => {
    await using backend = splitBackend("0123456789", false);
    await using t = await proxyTo(engine, backend.address);
    const conn = await tlsConnect(t.proxy.port, "a.test", t.ca.caCertificate);
    try {
      for (let i = 0; i < 2; i++) {
        await send(conn, GET);
        const text = await readUntil(conn, responses(1));
        assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n0123456789$/, text);
      }
      assert.equal(backend.connections, 1, "the backend connection was reused");
    } finally {
      conn.close();
    }
  });

  backendTest(`${engine}: a backend dying mid-body ends the client connection`, {
    tools: ["openssl"],
  }, async () => {
    await using backend = splitBackend("01234", true);
    await using t = await proxyTo(engine, backend.address);
    const conn = await tlsConnect(t.proxy.port, "a.test", t.ca.caCertificate);
    try {
      await send(conn, GET);
      const text = await readUntil(conn, () => false);
      // Ended by the proxy (a read after the end gives null), not by readUntil's timer.
      const after = await conn.read(new Uint8Array(1)).catch(() => "closed by the timer");
      assert.equal(after, null);
      assert.match(
        text,
        /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 10\r\n[\s\S]*\r\n\r\n01234$/,
        text,
      );
    } finally {
      conn.close();
    }
  });
}
