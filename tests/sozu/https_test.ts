/**
 * HTTPS through the real agent (command socket → workers) with real TLS clients: listeners that
 * really listen (and an ERROR, not an OK, when one cannot bind), certificate orders in every
 * JSON-era shape, the certificate chosen by SNI, refused certificates leaving the state as it
 * was, QUERY CERTIFICATES in sozu's shapes, and https_redirect.
 */
import assert from "node:assert/strict";
import { type ConfigStateJson, SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { backendTest, freePort, tempDir } from "../_helpers/mod.ts";
import { curlTls, servedCertificate } from "../http_proxy/_tls.ts";
import { startAgent, writeAgentConfig } from "./_agent.ts";
import { startCa } from "./_certs.ts";
import { certificateOf, namedBackend, ok, order } from "./_https.ts";

const TOOLS = { tools: ["openssl", "curl"] };

async function dump(c: SozuClient): Promise<ConfigStateJson> {
  const r = await c.request({ type: "DUMP_STATE" }, { timeoutMs: 10_000 });
  return r.data!.data as ConfigStateJson;
}

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch {
    return true;
  }
}

backendTest("HTTPS listeners bind in every worker; a failed bind is an ERROR", TOOLS, async () => {
  await using dir = await tempDir("sozu-https");
  const files = await writeAgentConfig(dir.path, ["worker_count = 2"]);
  await using agent = await startAgent(files);
  const c = await SozuClient.connect(files.socket, 5000);
  try {
    const port = freePort();
    const front = `127.0.0.1:${port}`;
    const added = await ok(c, "ADD_HTTPS_LISTENER", {
      front,
      cipher_list: "ECDHE-ECDSA-AES128-GCM-SHA256",
      versions: ["TLSv1.1", "TLSv1.2", "TLSv1.3"],
      expect_proxy: true,
    });
    assert.match(added.message, /cipher_list is not honoured/);
    assert.match(added.message, /TLSv1\.1 are not offered/);
    assert.match(added.message, /expect_proxy: served by the node TLS engine/);
    await ok(c, "ACTIVATE_LISTENER", { front, proxy: "HTTPS", from_scm: false });
    assert.equal(await refused(port), false);
    assert.equal((await dump(c)).https_listeners[front]?.[1], true);
    await ok(c, "DEACTIVATE_LISTENER", { front, proxy: "HTTPS", to_scm: false });
    assert.equal(await refused(port), true);
    await ok(c, "REMOVE_LISTENER", { front, proxy: "HTTPS" });

    const busyPort = freePort();
    using _busy = Deno.listen({ hostname: "127.0.0.1", port: busyPort });
    const taken = `127.0.0.1:${busyPort}`;
    await ok(c, "ADD_HTTPS_LISTENER", { address: taken });
    const r = await order(c, "ACTIVATE_LISTENER", { front: taken, proxy: "https" });
    assert.equal(r.status, "ERROR");
    assert.match(r.message, /cannot listen on "127\.0\.0\.1:\d+"/);
    assert.equal((await dump(c)).https_listeners[taken]?.[1], false, "not marked active");
    const none = await order(c, "ADD_HTTPS_LISTENER", {
      front: "127.0.0.1:1",
      versions: ["SSLv3"],
    });
    assert.equal(none.status, "ERROR");
    assert.match(none.message, /data\.versions: expected TLSv1\.2 and\/or TLSv1\.3/);
  } finally {
    c.close();
    await agent.stop();
  }
});

backendTest("certificate orders in every era's shape, chosen by SNI", TOOLS, async () => {
  await using ca = await startCa();
  const exact = await ca.issue({ cn: "a.test", kind: "rsa", keyFormat: "traditional" });
  const wild = await ca.issue({ cn: "w.test", dns: ["*.w.test"], keyFormat: "traditional" });
  const rsa8 = await ca.issue({ cn: "r.test", kind: "rsa" });
  const readme = await ca.issue({ cn: "doc.test" });
  const fallback = await ca.issue({ cn: "default.test" });
  assert.match(exact.key, /BEGIN RSA PRIVATE KEY/);
  assert.match(wild.key, /BEGIN EC PRIVATE KEY/);
  assert.match(rsa8.key, /BEGIN PRIVATE KEY/);
  await using dir = await tempDir("sozu-https");
  await using be = namedBackend("web");
  const port = freePort();
  const front = `127.0.0.1:${port}`;
  const other = `127.0.0.1:${freePort()}`;
  const files = await writeAgentConfig(dir.path, [`https_listeners = ["${front}", "${other}"]`]);
  await using agent = await startAgent(files);
  const c = await SozuClient.connect(files.socket, 5000);
  try {
    await ok(c, "ADD_APPLICATION", { app_id: "web" });
    await ok(c, "ADD_BACKEND", { app_id: "web", backend_id: "b", address: be.address });
    for (const hostname of ["a.test", "x.w.test", "r.test"]) {
      await ok(c, "ADD_HTTPS_FRONT", { app_id: "web", address: front, hostname });
    }
    // 0.10 shape: a `fingerprint` on the front, accepted and ignored (SNI picks the certificate)
    await ok(c, "ADD_HTTPS_FRONT", {
      app_id: "web",
      address: front,
      hostname: "doc.test",
      path_begin: "",
      fingerprint: "ab".repeat(32),
    });
    // the first one added is the default; 0.11/0.13 shape with `front` and `names`
    await ok(c, "ADD_CERTIFICATE", {
      front,
      certificate: certificateOf(fallback, true),
      names: ["default.test"],
    });
    await ok(c, "ADD_CERTIFICATE", { front, certificate: certificateOf(exact), names: [] });
    // v0.14 shape: `address`, `expired_at`; names from the SAN (a wildcard)
    await ok(c, "ADD_CERTIFICATE", {
      address: front,
      certificate: certificateOf(wild),
      expired_at: 2000000000,
    });
    await ok(c, "ADD_CERTIFICATE", { front, certificate: certificateOf(rsa8) });
    // the document's shape: fields under data, no listener (the default HTTPS one: the first)
    const doc = await c.send({
      id: "doc-add",
      version: 0,
      data: {
        type: "ADD_CERTIFICATE",
        data: { certificate: readme.certificate, key: readme.key, certificate_chain: [] },
      },
    }, { timeoutMs: 10_000 });
    assert.equal(doc.status, "OK", doc.message);
    // the order's listener gets it, not the first HTTPS listener
    await ok(c, "ADD_CERTIFICATE", { front: other, certificate: certificateOf(readme) });

    assert.equal((await servedCertificate(port, "a.test")).cn, "a.test");
    assert.equal((await servedCertificate(port, "x.w.test")).cn, "w.test");
    assert.equal((await servedCertificate(port, "unknown.test")).cn, "default.test");
    assert.equal((await servedCertificate(port, null)).cn, "default.test");
    for (const name of ["a.test", "x.w.test", "r.test", "doc.test"]) {
      const r = await curlTls(port, name, "/", ca.caFile);
      assert.equal(r.body, "web https", `${name}: ${r.stderr}`);
    }
    const state = await dump(c);
    assert.equal(Object.keys(state.certificates[front]!).length, 5);
    assert.deepEqual(state.certificates[other], {
      [readme.fingerprint]: [certificateOf(readme), ["doc.test"]],
    });
    assert.deepEqual(state.certificates[front]![wild.fingerprint]![1], ["w.test", "*.w.test"]);

    await queries(c, front, exact.fingerprint, wild.fingerprint);
    // v0.14 REPLACE / REMOVE shapes: `address`, `new_expired_at`
    const renewed = await ca.issue({ cn: "a.test" });
    await ok(c, "REPLACE_CERTIFICATE", {
      address: front,
      new_certificate: certificateOf(renewed),
      old_fingerprint: exact.fingerprint,
      new_names: ["a.test"],
      new_expired_at: 2000000000,
    });
    await ok(c, "REMOVE_CERTIFICATE", { address: front, fingerprint: rsa8.fingerprint });
    const after = (await dump(c)).certificates[front]!;
    assert.ok(renewed.fingerprint in after && !(exact.fingerprint in after));
    assert.ok(!(rsa8.fingerprint in after));
    assert.equal((await curlTls(port, "a.test", "/", ca.caFile)).body, "web https");
    // the document's bare-string REMOVE_CERTIFICATE: from every listener holding it
    const bare = await c.send(
      {
        id: "doc-remove",
        version: 0,
        data: { type: "REMOVE_CERTIFICATE", data: readme.fingerprint },
      },
      {
        timeoutMs: 10_000,
      },
    );
    assert.equal(bare.status, "OK", bare.message);
    assert.equal((await dump(c)).certificates[other], undefined);
    assert.equal((await servedCertificate(port, "doc.test")).cn, "default.test");
  } finally {
    c.close();
    await agent.stop();
  }
});

/** QUERY CERTIFICATES in sozu's answer shapes. */
async function queries(c: SozuClient, front: string, exact: string, wild: string) {
  const bytes = (hex: string) => hex.match(/../g)!.map((b) => parseInt(b, 16));
  const query = async (data: unknown) => {
    const r = await ok(c, "QUERY", { type: "CERTIFICATES", data });
    const answers = r.data!.data as Record<string, { type: string; data: unknown }>;
    assert.deepEqual(Object.keys(answers), ["0"]);
    assert.equal(answers["0"]!.type, "CERTIFICATES");
    return answers["0"]!.data as Record<string, unknown>;
  };
  const all = (await query({ type: "ALL" })) as { All: Record<string, Record<string, number[]>> };
  assert.deepEqual(all.All[front]!["a.test"], bytes(exact));
  assert.deepEqual(all.All[front]!["*.w.test"], bytes(wild));
  const domain = await query({ type: "DOMAIN", data: "x.w.test" });
  assert.deepEqual((domain.Domain as Record<string, unknown>)[front], ["*.w.test", bytes(wild)]);
  const byFp = await query({ type: "FINGERPRINT", data: bytes(exact) });
  const [pem, names] = byFp.Fingerprint as [string, string[]];
  assert.match(pem, /BEGIN CERTIFICATE/);
  assert.deepEqual(names, ["a.test"]);
  assert.deepEqual(await query({ type: "FINGERPRINT", data: "00".repeat(32) }), {
    Fingerprint: null,
  });
}

backendTest("bad certificates are refused with ERROR and the state unchanged", TOOLS, async () => {
  await using ca = await startCa();
  const a = await ca.issue({ cn: "a.test" });
  const b = await ca.issue({ cn: "b.test", kind: "rsa" });
  const old = await ca.issue({ cn: "old.test", expired: true });
  await using dir = await tempDir("sozu-https");
  const front = `127.0.0.1:${freePort()}`;
  const files = await writeAgentConfig(dir.path, [`https_listeners = ["${front}"]`]);
  await using agent = await startAgent(files);
  const c = await SozuClient.connect(files.socket, 5000);
  try {
    await ok(c, "ADD_CERTIFICATE", { front, certificate: certificateOf(a) });
    const before = JSON.stringify(await dump(c));
    const cases: [unknown, RegExp][] = [
      [{ ...certificateOf(a), key: b.key }, /key: the private key does not match/],
      [{ ...certificateOf(a), certificate: "garbage" }, /certificate: could not parse/],
      [
        {
          ...certificateOf(a),
          key: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        },
        /key: could not parse the private key/,
      ],
      [
        { ...certificateOf(b), certificate_chain: ["nope"] },
        /certificate_chain\[0\]: could not parse/,
      ],
    ];
    for (const [certificate, reason] of cases) {
      const r = await order(c, "ADD_CERTIFICATE", { front, certificate });
      assert.equal(r.status, "ERROR");
      assert.match(r.message, reason);
      const replace = await order(c, "REPLACE_CERTIFICATE", {
        front,
        new_certificate: certificate,
        old_fingerprint: a.fingerprint,
      });
      assert.equal(replace.status, "ERROR");
    }
    assert.equal(JSON.stringify(await dump(c)), before, "the state is unchanged");
    assert.equal((await servedCertificate(Number(front.split(":")[1]), "a.test")).cn, "a.test");
    const expired = await ok(c, "ADD_CERTIFICATE", { front, certificate: certificateOf(old) });
    assert.match(expired.message, /warning: certificate [0-9a-f]{64} expired on 2020-01-02/);
  } finally {
    c.close();
    await agent.stop();
  }
  assert.match(
    agent.stderr() + agent.stdoutLines.join("\n"),
    /expired on 2020-01-02/,
    "the warning is logged too",
  );
});

backendTest("https_redirect answers 301 to the HTTPS port without a backend", TOOLS, async () => {
  await using ca = await startCa();
  const cert = await ca.issue({ cn: "shop.test" });
  await using dir = await tempDir("sozu-https");
  await using be = namedBackend("shop");
  const http = `127.0.0.1:${freePort()}`;
  const httpsPort = freePort();
  const https = `127.0.0.1:${httpsPort}`;
  const files = await writeAgentConfig(dir.path, [
    `listeners = ["${http}"]`,
    `https_listeners = ["${https}"]`,
  ]);
  await using agent = await startAgent(files);
  const c = await SozuClient.connect(files.socket, 5000);
  try {
    await ok(c, "ADD_APPLICATION", { app_id: "shop", https_redirect: true });
    await ok(c, "ADD_BACKEND", { app_id: "shop", backend_id: "b", address: be.address });
    await ok(c, "ADD_HTTP_FRONT", { app_id: "shop", address: http, hostname: "shop.test" });
    await ok(c, "ADD_HTTPS_FRONT", { app_id: "shop", address: https, hostname: "shop.test" });
    await ok(c, "ADD_CERTIFICATE", { front: https, certificate: certificateOf(cert) });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(http.split(":")[1]) });
    await conn.write(
      new TextEncoder().encode("GET /cart?id=7 HTTP/1.1\r\nHost: Shop.test:8080\r\n\r\n"),
    );
    const text = new TextDecoder().decode(await new Response(conn.readable).arrayBuffer());
    assert.match(text, /^HTTP\/1\.1 301 Moved Permanently\r\n/);
    assert.match(
      text,
      new RegExp(`\r\nLocation: https://shop\\.test:${httpsPort}/cart\\?id=7\r\n`),
    );
    assert.match(text, /\r\nContent-Length: 0\r\n/);
    assert.equal(be.seen.requests, 0, "no backend contacted");
    const followed = await curlTls(httpsPort, "shop.test", "/cart", ca.caFile);
    assert.equal(followed.body, "shop https");
  } finally {
    c.close();
    await agent.stop();
  }
});
