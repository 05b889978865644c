/**
 * HTTPS listeners of the data plane with real TLS clients (openssl s_client, curl, Deno.startTls)
 * on both TLS engines: the certificate chosen by SNI (exact, wildcard, unknown, none), ALPN
 * (an h2-only client fails cleanly), TLS versions per listener, the forwarding headers, and the
 * HTTP loop over TLS (keep-alive, pipelining, chunked bodies, 100-continue, WebSocket upgrades,
 * timeouts).
 */
import assert from "node:assert/strict";
import {
  type ListenerTls,
  nativeResolverSymbol,
  type TlsEngineChoice,
} from "../../lib/backends/http_proxy/mod.ts";
import { backendTest, freePort, waitFor } from "../_helpers/mod.ts";
import { startCa } from "../sozu/_certs.ts";
import { startHttpBackend, startProxy, startRawBackend } from "./_helpers.ts";
import {
  curlTls,
  readUntil,
  responses,
  send,
  servedCertificate,
  specOf,
  tlsConnect,
} from "./_tls.ts";

const ENGINES: TlsEngineChoice[] = ["native", "node"];
const TOOLS = { tools: ["openssl", "curl"] };

Deno.test("Deno still has the internal SNI resolver the native TLS engine uses", () => {
  assert.notEqual(
    nativeResolverSymbol(),
    null,
    "Deno[Deno.internal].resolverSymbol (Symbol.for('unstableSniResolver')) is gone from this " +
      'Deno: HTTPS now runs on the node engine only; set sozu.tls_engine = "node" and review ' +
      "lib/backends/http_proxy/tls_native.ts",
  );
});

/** A proxy with an HTTPS listener, three certificates and an echo backend. */
async function httpsProxy(engine: TlsEngineChoice, tls?: Partial<ListenerTls>) {
  const ca = await startCa();
  const exact = await ca.issue({ cn: "a.test" });
  const wild = await ca.issue({ cn: "wild.test", dns: ["*.w.test"] });
  const fallback = await ca.issue({ cn: "default.test" });
  const backend = startHttpBackend(async (req) => {
    const body = await req.text();
    const h = (name: string) => req.headers.get(name) ?? "-";
    return new Response(
      `${h("x-forwarded-proto")} ${h("x-forwarded-port")} ${h("forwarded")} ${body}`,
    );
  });
  const proxy = await startProxy({
    listener: {
      protocol: "https",
      tls: { versions: ["TLSv1.2", "TLSv1.3"], defaultCertificate: null, ...tls },
    },
    engine: { tlsEngine: engine },
    clusters: { c: [backend.address] },
    fronts: [["a.test", "", "c"], ["*.w.test", "", "c"], ["default.test", "", "c"]],
    certificates: [
      specOf(fallback, ["default.test"]),
      specOf(exact, ["a.test"]),
      specOf(wild, ["*.w.test"]),
    ],
  });
  return {
    ca,
    proxy,
    backend,
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      await backend[Symbol.asyncDispose]();
      await ca[Symbol.asyncDispose]();
    },
  };
}

for (const engine of ENGINES) {
  backendTest(
    `${engine}: SNI picks the exact name, then the wildcard, else the default`,
    TOOLS,
    async () => {
      await using t = await httpsProxy(engine);
      const port = t.proxy.port;
      assert.equal((await servedCertificate(port, "a.test")).cn, "a.test");
      assert.equal((await servedCertificate(port, "x.w.test")).cn, "wild.test");
      // one label only: a.b.w.test is not covered by *.w.test
      assert.equal((await servedCertificate(port, "a.b.w.test")).cn, "default.test");
      assert.equal((await servedCertificate(port, "unknown.test")).cn, "default.test");
      assert.equal((await servedCertificate(port, null)).cn, "default.test");
      for (const name of ["a.test", "x.w.test", "default.test"]) {
        const r = await curlTls(port, name, "/", t.ca.caFile);
        assert.equal(r.status, 200, `${name}: ${r.stderr}`);
        assert.match(r.body, new RegExp(`^https ${port} proto=https;for=127\\.0\\.0\\.1:\\d+;by=`));
      }
      // hostname verification fails for a name only the default certificate answers
      assert.notEqual((await curlTls(port, "unknown.test", "/", t.ca.caFile)).code, 0);
    },
  );

  backendTest(`${engine}: an h2-only client gets a clean handshake failure`, TOOLS, async () => {
    await using t = await httpsProxy(engine);
    const started = Date.now();
    const h2 = await servedCertificate(t.proxy.port, "a.test", ["-alpn", "h2"]);
    assert.match(h2.text, /no application protocol|alert number 120/);
    assert.ok(Date.now() - started < 8000, "no hang");
    const both = await servedCertificate(t.proxy.port, "a.test", ["-alpn", "h2,http/1.1"]);
    assert.match(both.text, /ALPN protocol: http\/1\.1/);
    const curl = await curlTls(t.proxy.port, "a.test", "/", t.ca.caFile, ["--http2"]);
    assert.equal(curl.status, 200);
  });

  backendTest(
    `${engine}: keep-alive, pipelining, chunked and 100-continue over TLS`,
    TOOLS,
    async () => {
      await using t = await httpsProxy(engine);
      const conn = await tlsConnect(t.proxy.port, "a.test", t.ca.caCertificate);
      try {
        const get = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
        await send(conn, get + get);
        const two = await readUntil(conn, responses(2));
        assert.equal(two.match(/HTTP\/1\.1 200/g)?.length, 2, two);
        await send(
          conn,
          "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "5\r\nhello\r\n0\r\n\r\n",
        );
        assert.match(await readUntil(conn, responses(1)), /200 OK[\s\S]*https \d+ \S+ hello$/);
        await send(
          conn,
          "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
        );
        assert.match(await readUntil(conn, (s) => s.includes("100 Continue")), /HTTP\/1\.1 100/);
        await send(conn, "abc");
        assert.match(await readUntil(conn, responses(1)), /200 OK[\s\S]* abc$/);
      } finally {
        conn.close();
      }
    },
  );

  backendTest(`${engine}: WebSocket upgrades pass through (wss)`, TOOLS, async () => {
    const ca = await startCa();
    const cert = await ca.issue({ cn: "ws.test" });
    await using raw = startRawBackend((received) => {
      if (!received.includes("\r\n\r\n")) return null;
      if (received.startsWith("GET")) {
        return {
          send: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade" +
            "\r\n\r\n",
          rest: received.slice(received.indexOf("\r\n\r\n") + 4),
        };
      }
      return null;
    });
    await using proxy = await startProxy({
      listener: { protocol: "https" },
      engine: { tlsEngine: engine },
      clusters: { c: [raw.address] },
      fronts: [["ws.test", "", "c"]],
      certificates: [specOf(cert, ["ws.test"])],
    });
    const conn = await tlsConnect(proxy.port, "ws.test", ca.caCertificate);
    try {
      await send(
        conn,
        "GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
          "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      );
      assert.match(await readUntil(conn, (s) => s.includes("\r\n\r\n")), /^HTTP\/1\.1 101/);
      await send(conn, "frame-bytes");
      await waitFor(() => raw.all().endsWith("frame-bytes"), {
        what: "the bytes after the upgrade at the backend",
      });
    } finally {
      conn.close();
      await ca[Symbol.asyncDispose]();
    }
  });

  backendTest(`${engine}: request and idle timeouts work over TLS`, TOOLS, async () => {
    const ca = await startCa();
    const cert = await ca.issue({ cn: "a.test" });
    await using proxy = await startProxy({
      listener: { protocol: "https", requestTimeoutMs: 300, frontTimeoutMs: 600 },
      engine: { tlsEngine: engine },
      certificates: [specOf(cert, ["a.test"])],
    });
    const slow = await tlsConnect(proxy.port, "a.test", ca.caCertificate);
    await send(slow, "GET / HTTP/1.1\r\nHost: a.te");
    assert.match(await readUntil(slow, () => false, 5000), /^HTTP\/1\.1 408/);
    slow.close();
    const idle = await tlsConnect(proxy.port, "a.test", ca.caCertificate);
    await idle.handshake();
    const started = Date.now();
    assert.equal(await readUntil(idle, () => false, 5000), "");
    assert.ok(Date.now() - started < 4000, "the idle connection was closed by the proxy");
    idle.close();
    await ca[Symbol.asyncDispose]();
  });
}

backendTest("TLS versions are honoured per listener", TOOLS, async () => {
  for (
    const [versions, refused] of [
      [["TLSv1.3"], "-tls1_2"],
      [["TLSv1.2"], "-tls1_3"],
    ] as const
  ) {
    await using t = await httpsProxy("auto", { versions: [...versions] });
    const engines = (await t.proxy.dp.stats()) as { tls: Record<string, string> }[];
    assert.equal(engines[0]!.tls[t.proxy.address], "node", "auto picks node to narrow versions");
    const other = refused === "-tls1_2" ? "-tls1_3" : "-tls1_2";
    assert.equal((await servedCertificate(t.proxy.port, "a.test", [other])).cn, "a.test");
    const no = await servedCertificate(t.proxy.port, "a.test", [refused]);
    assert.equal(no.cn, null, `${versions}: ${refused} must fail`);
    assert.match(no.text, /alert|wrong version|unsupported protocol/i);
  }
  await using both = await httpsProxy("auto");
  for (const v of ["-tls1_2", "-tls1_3"]) {
    assert.equal((await servedCertificate(both.proxy.port, "a.test", [v])).cn, "a.test");
  }
});

backendTest("the native engine refuses versions it cannot narrow, naming why", TOOLS, async () => {
  await using ca = await startCa();
  const cert = await ca.issue({ cn: "a.test" });
  await using proxy = await startProxy({ engine: { tlsEngine: "native" } });
  const address = `127.0.0.1:${freePort()}`;
  await proxy.apply({
    op: "add_listener",
    listener: {
      address,
      protocol: "https",
      tls: { versions: ["TLSv1.3"], defaultCertificate: null },
    },
  });
  await proxy.apply({ op: "add_certificate", listener: address, certificate: specOf(cert, []) });
  await assert.rejects(
    proxy.apply({ op: "activate_listener", address }),
    /native TLS engine cannot limit versions to TLSv1\.3/,
  );
});
