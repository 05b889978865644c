/**
 * `polyagent ctl sozu import FILE.toml` with the settings of sozu 0.13.6's own example
 * configuration (tests/sozu/fixtures/), moved to loopback ports: listeners, the HTTP application
 * with an HTTPS frontend whose certificate comes from files, backends; every order printed, the
 * process settings and unknown keys reported; real HTTP and HTTPS requests then reach the backend.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataPlane } from "../../lib/backends/http_proxy/mod.ts";
import type { ConfigStateJson } from "../../lib/protocols/sozu/mod.ts";
import { freePort, missing, polyagent, tempDir } from "../_helpers/mod.ts";
import { makeCertificate } from "./_certs.ts";
import { startHarness } from "./_harness.ts";
import { curlTls } from "../http_proxy/_tls.ts";
import { namedBackend } from "./_https.ts";
import { command, request } from "./_v14.ts";

const FIXTURE = new URL("./fixtures/sozu_0.13_config.toml", import.meta.url);

Deno.test({
  name: "ctl sozu import applies a sozu 0.13 configuration file and reports what it leaves out",
  ignore: missing(["openssl", "curl"]) !== null,
  fn: async () => {
    await using dir = await tempDir("sozu-import");
    await using backend = namedBackend("imported");
    const [http, https, tcp] = [freePort(), freePort(), freePort()];
    const cert = await makeCertificate("lolcatho.st");
    await Deno.mkdir(join(dir.path, "conf"));
    await Deno.mkdir(join(dir.path, "lib", "assets"), { recursive: true });
    await Deno.writeTextFile(join(dir.path, "lib/assets/certificate.pem"), cert.certificate);
    await Deno.writeTextFile(join(dir.path, "lib/assets/key.pem"), cert.key);
    await Deno.writeTextFile(join(dir.path, "lib/assets/certificate_chain.pem"), "");
    const text = (await Deno.readTextFile(FIXTURE))
      .replaceAll("0.0.0.0:8080", `127.0.0.1:${http}`)
      .replaceAll("0.0.0.0:8443", `127.0.0.1:${https}`)
      .replaceAll("0.0.0.0:8081", `127.0.0.1:${tcp}`)
      .replace(
        '{ address = "127.0.0.1:1026" }',
        `{ address = "${backend.address}", colour = "blue" }`,
      )
      .replace("activate_listeners = true", "activate_listeners = true\nfrobnicate = 1");
    const file = join(dir.path, "conf", "config.toml");
    await Deno.writeTextFile(file, text);

    await using h = await startHarness({
      config: { worker_count: 1 },
      plane: (o) => createDataPlane(o),
    });
    const ctl = (...args: string[]) =>
      polyagent(["ctl", "sozu", "--socket", h.socket, "--timeout", "15000", ...args]);

    const dry = await ctl("import", "--dry-run", file);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(
      dry.stdout,
      /^\{"type":"ADD_HTTP_LISTENER","data":\{"address":"127\.0\.0\.1:\d+"\}\}$/m,
    );
    const before = (await command(await h.client(), "DUMP_STATE")).data!.data as ConfigStateJson;
    assert.deepEqual(before.http_listeners, {});

    const run = await ctl("import", file);
    const out = run.stdout;
    assert.match(out, /^note: unknown key frobnicate \(not applied\)$/m);
    assert.match(
      out,
      /^note: unknown key applications\.MyApp\.backends\[0\]\.colour \(not applied\)$/m,
    );
    assert.match(out, /^note: not applied: worker_count \(a process setting/m);
    for (
      const line of [
        `OK\tADD_HTTP_LISTENER 127.0.0.1:${http}`,
        `OK\tADD_HTTPS_LISTENER 127.0.0.1:${https}`,
        `OK\tACTIVATE_LISTENER 127.0.0.1:${http}`,
        `OK\tADD_APPLICATION MyApp`,
        `OK\tADD_HTTP_FRONT MyApp lolcatho.st on 127.0.0.1:${http}`,
        `OK\tADD_HTTPS_FRONT MyApp lolcatho.st on 127.0.0.1:${https}`,
        `OK\tADD_BACKEND MyApp MyApp-0-${backend.address} ${backend.address}`,
        `OK\tADD_APPLICATION TcpTest`,
      ]
    ) assert.ok(out.includes(line), `missing "${line}" in:\n${out}`);
    assert.match(out, /^OK\tADD_CERTIFICATE 127\.0\.0\.1:\d+ lolcatho\.st/m);
    assert.match(out, /^note: listener 127\.0\.0\.1:\d+ \(tcp\) created for a frontend/m);
    assert.match(out, /^OK\tADD_TCP_FRONT TcpTest /m);
    assert.doesNotMatch(out, /^ERROR\t/m);
    assert.equal(run.code, 0, out + run.stderr);
    assert.match(out, /^\d+ of \d+ orders applied$/m);

    assert.deepEqual(await request(http, "lolcatho.st"), { status: 200, body: "imported http" });
    const certFile = join(dir.path, "lib/assets/certificate.pem");
    const tls = await curlTls(https, "lolcatho.st", "/", certFile);
    assert.equal(tls.status, 200, tls.stderr);
    assert.equal(tls.body, "imported https");
    const state = (await command(await h.client(), "DUMP_STATE")).data!.data as ConfigStateJson;
    const certs = Object.values(state.certificates[`127.0.0.1:${https}`] ?? {});
    assert.deepEqual(certs.map(([, names]) => names), [["lolcatho.st"]]);
    assert.deepEqual(state.https_listeners[`127.0.0.1:${https}`]![0].versions, ["TLSv1.3"]);

    const bad = await ctl("import", join(dir.path, "missing.toml"));
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr + bad.stdout, /cannot read/);
  },
});
