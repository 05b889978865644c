/**
 * Certificates in the durable state through the real agent: kill -9 and restart keeps serving
 * them (the automatic state document and SAVE_STATE files hold keys and are 0600), LOAD_STATE
 * into a fresh agent serves them; REPLACE_CERTIFICATE under load through two workers fails no
 * request and an open keep-alive connection survives it; `polyagent ctl sozu certificate`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { backendTest, freePort, tempDir } from "../_helpers/mod.ts";
import {
  curlTls,
  getOn,
  newConnectionLoad,
  servedCertificate,
  tlsConnect,
} from "../http_proxy/_tls.ts";
import { ctl, startAgent, writeAgentConfig } from "./_agent.ts";
import { startCa } from "./_certs.ts";
import { certificateOf, namedBackend, ok } from "./_https.ts";

const TOOLS = { tools: ["openssl", "curl"] };

backendTest(
  "certificates survive kill -9; SAVE_STATE / LOAD_STATE carry them, 0600",
  TOOLS,
  async () => {
    await using ca = await startCa();
    const cert = await ca.issue({ cn: "keep.test" });
    await using dir = await tempDir("sozu-https-state");
    await using be = namedBackend("kept");
    const port = freePort();
    const front = `127.0.0.1:${port}`;
    const files = await writeAgentConfig(dir.path, ["worker_count = 2"]);
    {
      await using agent = await startAgent(files);
      const c = await SozuClient.connect(files.socket, 5000);
      await ok(c, "ADD_HTTPS_LISTENER", { front });
      await ok(c, "ACTIVATE_LISTENER", { front, proxy: "https" });
      await ok(c, "ADD_APPLICATION", { app_id: "kept" });
      await ok(c, "ADD_BACKEND", { app_id: "kept", backend_id: "b", address: be.address });
      await ok(c, "ADD_HTTPS_FRONT", { app_id: "kept", address: front, hostname: "keep.test" });
      await ok(c, "ADD_CERTIFICATE", { front, certificate: certificateOf(cert) });
      const saved = await c.request({ type: "SAVE_STATE", data: { path: "with-keys.state" } }, {
        timeoutMs: 10_000,
      });
      assert.equal(saved.status, "OK", saved.message);
      c.close();
      await agent.stop("SIGKILL");
    }
    const document = join(files.stateDir, "sozu.json");
    for (const file of [document, join(files.stateDir, "sozu", "with-keys.state")]) {
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600, file);
      assert.match(await Deno.readTextFile(file), /PRIVATE KEY/);
    }
    {
      await using agent = await startAgent(files);
      assert.equal((await servedCertificate(port, "keep.test")).cn, "keep.test");
      assert.equal((await curlTls(port, "keep.test", "/", ca.caFile)).body, "kept https");
      await agent.stop();
    }
    // a fresh agent (no automatic state) fed the saved file
    await using fresh = await tempDir("sozu-https-load");
    const freshFiles = await writeAgentConfig(fresh.path, ["automatic_state_save = false"]);
    await Deno.mkdir(join(freshFiles.stateDir, "sozu"), { recursive: true });
    await Deno.copyFile(
      join(files.stateDir, "sozu", "with-keys.state"),
      join(freshFiles.stateDir, "sozu", "in.state"),
    );
    await using agent = await startAgent(freshFiles);
    const c = await SozuClient.connect(freshFiles.socket, 5000);
    const loaded = await c.request({ type: "LOAD_STATE", data: { path: "in.state" } }, {
      timeoutMs: 20_000,
    });
    assert.equal(loaded.status, "OK", loaded.message);
    assert.equal((await curlTls(port, "keep.test", "/", ca.caFile)).body, "kept https");
    c.close();
    await agent.stop();
  },
);

backendTest(
  "REPLACE_CERTIFICATE under load: no failed request, keep-alive survives",
  TOOLS,
  async () => {
    await using ca = await startCa();
    const certs = [
      await ca.issue({ cn: "one.load.test", dns: ["load.test"] }),
      await ca.issue({ cn: "two.load.test", dns: ["load.test"] }),
    ];
    await using dir = await tempDir("sozu-https-load");
    await using be = namedBackend("load");
    const port = freePort();
    const front = `127.0.0.1:${port}`;
    const files = await writeAgentConfig(dir.path, [
      "worker_count = 2",
      `https_listeners = ["${front}"]`,
    ]);
    await using agent = await startAgent(files);
    const c = await SozuClient.connect(files.socket, 5000);
    await ok(c, "ADD_APPLICATION", { app_id: "load" });
    await ok(c, "ADD_BACKEND", { app_id: "load", backend_id: "b", address: be.address });
    await ok(c, "ADD_HTTPS_FRONT", { app_id: "load", address: front, hostname: "load.test" });
    await ok(c, "ADD_CERTIFICATE", { front, certificate: certificateOf(certs[0]!) });
    const request = async (conn: Deno.Conn) =>
      /^HTTP\/1\.1 200[\s\S]*load https$/.test(await getOn(conn, "load.test"));
    const kept = await tlsConnect(port, "load.test", ca.caCertificate);
    assert.ok(await request(kept));
    const load = newConnectionLoad(
      3,
      () => tlsConnect(port, "load.test", ca.caCertificate),
      request,
    );
    for (let i = 1; i <= 10; i++) {
      await ok(c, "REPLACE_CERTIFICATE", {
        front,
        new_certificate: certificateOf(certs[i % 2]!),
        old_fingerprint: certs[(i - 1) % 2]!.fingerprint,
      });
      assert.equal(
        (await servedCertificate(port, "load.test")).cn,
        i % 2 ? "two.load.test" : "one.load.test",
        "the next handshake gets the new certificate",
      );
    }
    const { served, failures } = await load.stop();
    assert.deepEqual(failures, []);
    assert.ok(served > 0);
    assert.ok(await request(kept), "the keep-alive connection opened before survives");
    kept.close();
    c.close();
    await agent.stop();
  },
);

backendTest("polyagent ctl sozu certificate add, list, replace, remove", TOOLS, async () => {
  await using ca = await startCa();
  const one = await ca.issue({ cn: "ctl.test" });
  const two = await ca.issue({ cn: "ctl.test" });
  await using dir = await tempDir("sozu-https-ctl");
  const front = `127.0.0.1:${freePort()}`;
  const files = await writeAgentConfig(dir.path, [`https_listeners = ["${front}"]`]);
  await using agent = await startAgent(files);
  let r = await ctl(files, ["certificate", "add", "--cert", one.certFile, "--key", one.keyFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `added ${one.fingerprint}`);
  r = await ctl(files, ["certificate", "list"]);
  assert.equal(r.stdout.trim(), `${front}\tctl.test\t${one.fingerprint}`);
  r = await ctl(files, [
    "certificate",
    "replace",
    one.fingerprint,
    "--listener",
    front,
    "--cert",
    two.certFile,
    "--key",
    two.keyFile,
    "--name",
    "ctl.test",
  ]);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(files, ["certificate", "list", "--domain", "ctl.test"]);
  assert.equal(r.stdout.trim(), `${front}\tctl.test\t${two.fingerprint}`);
  r = await ctl(files, ["certificate", "add", "--cert", one.certFile, "--key", two.keyFile]);
  assert.equal(r.code, 1);
  assert.match(r.stderr + r.stdout, /does not match/);
  r = await ctl(files, ["certificate", "remove", two.fingerprint]);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(files, ["certificate", "list"]);
  assert.equal(r.stdout.trim(), "");
  await agent.stop();
});
