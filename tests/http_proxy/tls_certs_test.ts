/**
 * Certificate changes on a live HTTPS listener, on both TLS engines: a replacement is served to
 * the next handshake while an open keep-alive connection keeps working; a removal gives the name
 * back to the default certificate; a name first answered with the default certificate gets its
 * own once it is added; and replacements under load fail no request.
 */
import assert from "node:assert/strict";
import type { CertificateSpec, TlsEngineChoice } from "../../lib/backends/http_proxy/mod.ts";
import { backendTest } from "../_helpers/mod.ts";
import { startCa } from "../sozu/_certs.ts";
import { startHttpBackend, startProxy } from "./_helpers.ts";
import { getOn, newConnectionLoad, servedCertificate, specOf, tlsConnect } from "./_tls.ts";

const ENGINES: TlsEngineChoice[] = ["native", "node"];
const TOOLS = { tools: ["openssl"] };

/** A two-worker proxy with an HTTPS listener routing a.test (and b.test) to a backend. */
async function proxyWith(
  engine: TlsEngineChoice,
  backend: string,
  certificates: CertificateSpec[],
) {
  return await startProxy({
    workerCount: 2,
    listener: { protocol: "https" },
    engine: { tlsEngine: engine },
    clusters: { c: [backend] },
    fronts: [["a.test", "", "c"], ["b.test", "", "c"]],
    certificates,
  });
}

/** One request on an open connection; whether a 200 came back. */
async function request(conn: Deno.Conn): Promise<boolean> {
  return /^HTTP\/1\.1 200/.test(await getOn(conn, "a.test"));
}

for (const engine of ENGINES) {
  backendTest(
    `${engine}: replace, remove and late add apply to the next handshake`,
    TOOLS,
    async () => {
      await using ca = await startCa();
      const fallback = await ca.issue({ cn: "default.test" });
      const one = await ca.issue({ cn: "one.a.test", dns: ["a.test"] });
      const two = await ca.issue({ cn: "two.a.test", dns: ["a.test"] });
      const late = await ca.issue({ cn: "late.test" });
      await using backend = startHttpBackend(() => new Response("ok"));
      await using proxy = await proxyWith(engine, backend.address, [
        specOf(fallback, ["default.test"]),
        specOf(one, ["a.test"]),
      ]);
      const listener = proxy.address;
      assert.equal((await servedCertificate(proxy.port, "a.test")).cn, "one.a.test");
      assert.equal((await servedCertificate(proxy.port, "late.test")).cn, "default.test");
      const open = await tlsConnect(proxy.port, "a.test", ca.caCertificate);
      try {
        assert.ok(await request(open));
        await proxy.apply({
          op: "replace_certificate",
          listener,
          oldFingerprint: one.fingerprint,
          certificate: specOf(two, ["a.test"]),
        });
        for (let i = 0; i < 4; i++) {
          assert.equal((await servedCertificate(proxy.port, "a.test")).cn, "two.a.test");
        }
        assert.ok(await request(open), "the keep-alive connection survives the replacement");
        await proxy.apply({
          op: "add_certificate",
          listener,
          certificate: specOf(late, ["late.test"]),
        });
        assert.equal((await servedCertificate(proxy.port, "late.test")).cn, "late.test");
        await proxy.apply({ op: "remove_certificate", listener, fingerprint: two.fingerprint });
        assert.equal((await servedCertificate(proxy.port, "a.test")).cn, "default.test");
        assert.ok(await request(open), "and the removal");
      } finally {
        open.close();
      }
    },
  );

  backendTest(`${engine}: replacements under load fail no request`, TOOLS, async () => {
    await using ca = await startCa();
    const certs = [
      await ca.issue({ cn: "one.a.test", dns: ["a.test"] }),
      await ca.issue({ cn: "two.a.test", dns: ["a.test"] }),
    ];
    await using backend = startHttpBackend(() => new Response("ok"));
    await using proxy = await proxyWith(engine, backend.address, [specOf(certs[0]!, ["a.test"])]);
    const kept = await Promise.all(
      [1, 2].map(() => tlsConnect(proxy.port, "a.test", ca.caCertificate)),
    );
    let running = true;
    const failures: string[] = [];
    const keepAlive = async (conn: Deno.Conn) => {
      while (running) if (!await request(conn)) failures.push("keep-alive request failed");
    };
    const keeping = kept.map(keepAlive);
    const load = newConnectionLoad(
      4,
      () => tlsConnect(proxy.port, "a.test", ca.caCertificate),
      request,
    );
    for (let i = 1; i <= 20; i++) {
      await new Promise((r) => setTimeout(r, 30));
      await proxy.apply({
        op: "replace_certificate",
        listener: proxy.address,
        oldFingerprint: certs[(i - 1) % 2]!.fingerprint,
        certificate: specOf(certs[i % 2]!, ["a.test"]),
      });
    }
    running = false;
    await Promise.all(keeping);
    for (const conn of kept) conn.close();
    const { served, failures: fresh } = await load.stop();
    assert.deepEqual([...failures, ...fresh], []);
    assert.ok(served > 20, `requests served on new connections during the replacements: ${served}`);
  });
}

backendTest("auto: native with one certificate, node with several, and back", TOOLS, async () => {
  await using ca = await startCa();
  const a = await ca.issue({ cn: "a.test" });
  const b = await ca.issue({ cn: "b.test" });
  await using backend = startHttpBackend(() => new Response("ok"));
  await using proxy = await proxyWith("auto", backend.address, [specOf(a, ["a.test"])]);
  const engine = async () => {
    const stats = (await proxy.dp.stats()) as { tls: Record<string, string> }[];
    return stats.map((s) => s.tls[proxy.address]);
  };
  assert.deepEqual(await engine(), ["native", "native"]);
  const open = await tlsConnect(proxy.port, "a.test", ca.caCertificate);
  try {
    assert.ok(await request(open));
    await proxy.apply({
      op: "add_certificate",
      listener: proxy.address,
      certificate: specOf(b, ["b.test"]),
    });
    assert.deepEqual(await engine(), ["node", "node"]);
    assert.equal((await servedCertificate(proxy.port, "b.test")).cn, "b.test");
    assert.equal((await servedCertificate(proxy.port, "a.test")).cn, "a.test");
    assert.ok(await request(open), "a connection opened before the switch keeps working");
    await proxy.apply({
      op: "remove_certificate",
      listener: proxy.address,
      fingerprint: a.fingerprint,
    });
    assert.deepEqual(await engine(), ["native", "native"]);
    assert.equal((await servedCertificate(proxy.port, "a.test")).cn, "b.test");
    assert.ok(await request(open));
  } finally {
    open.close();
  }
});
