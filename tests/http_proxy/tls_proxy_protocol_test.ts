/**
 * `expect_proxy` on an HTTPS listener: the PROXY header is read on the raw connection before the
 * TLS handshake (tls_proxied.ts, node:tls over the connection, whatever the TLS engine setting),
 * the certificate is still chosen by SNI, and the carried client address is what
 * X-Forwarded-For shows; a connection without a header is closed before any handshake.
 */
import assert from "node:assert/strict";
import { backendTest } from "../_helpers/mod.ts";
import { startCa } from "../sozu/_certs.ts";
import { bytesOf, startHttpBackend, startProxy } from "./_helpers.ts";
import { readUntil, send, specOf } from "./_tls.ts";

backendTest("expect_proxy on HTTPS: the header before TLS, then SNI and X-Forwarded-For", {
  tools: ["openssl"],
}, async () => {
  await using ca = await startCa();
  const cert = await ca.issue({ cn: "a.test" });
  await using backend = startHttpBackend((req) =>
    new Response(
      `xff=${req.headers.get("x-forwarded-for")} ${req.headers.get("x-forwarded-proto")}`,
    )
  );
  await using proxy = await startProxy({
    listener: {
      protocol: "https",
      expectProxy: true,
      tls: { versions: ["TLSv1.2", "TLSv1.3"], defaultCertificate: null },
    },
    engine: { tlsEngine: "auto" },
    clusters: { c: [backend.address] },
    fronts: [["a.test", "", "c"]],
    certificates: [specOf(cert, ["a.test"])],
  });
  const stats = (await proxy.dp.stats()) as { tls: Record<string, string> }[];
  assert.equal(stats[0]!.tls[proxy.address], "node");

  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await tcp.write(bytesOf("PROXY TCP4 192.168.7.7 127.0.0.1 40000 443\r\n"));
  const tls = await Deno.startTls(tcp, { hostname: "a.test", caCerts: [ca.caCertificate] });
  try {
    await send(tls, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    const text = await readUntil(tls, (t) => t.endsWith("https"));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /xff=192\.168\.7\.7 https$/);
  } finally {
    tls.close();
  }

  // No header: closed before any handshake.
  const bare = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const refused = await Deno.startTls(bare, { hostname: "a.test", caCerts: [ca.caCertificate] })
    .then(async (conn) => {
      try {
        await send(conn, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
        return (await readUntil(conn, () => false, 3000)) === "";
      } catch {
        return true;
      } finally {
        try {
          conn.close();
        } catch {
          // closed
        }
      }
    }, () => true);
  assert.equal(refused, true);
  assert.equal(backend.requests, 1);
});
