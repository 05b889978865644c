/**
 * TLS session resumption on the node engine (several certificates chosen by SNI): a client that
 * asked for `Connection: close` saves its session with openssl s_client `-sess_out` and offers it
 * again with `-sess_in`, on TLS 1.3 and 1.2. The proxy must end such a connection with a
 * close_notify: OpenSSL marks a session unresumable when its connection ends without one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest } from "../_helpers/mod.ts";
import { startCa } from "../sozu/_certs.ts";
import { startHttpBackend, startProxy } from "./_helpers.ts";
import { servedCertificate, specOf } from "./_tls.ts";

/** One `Connection: close` GET with s_client; returns its output. */
async function closingGet(port: number, version: string, session: string[]): Promise<string> {
  const request = "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n";
  const extra = [`-${version}`, "-ign_eof", ...session];
  return (await servedCertificate(port, "a.test", extra, request)).text;
}

backendTest(
  "node: a Connection: close client gets a close_notify and resumes (TLS 1.3 and 1.2)",
  { tools: ["openssl"] },
  async () => {
    await using ca = await startCa();
    const exact = await ca.issue({ cn: "a.test" });
    const fallback = await ca.issue({ cn: "default.test" });
    await using backend = startHttpBackend(() => new Response("hello"));
    await using proxy = await startProxy({
      listener: { protocol: "https" },
      engine: { tlsEngine: "auto" },
      clusters: { c: [backend.address] },
      fronts: [["a.test", "", "c"]],
      certificates: [specOf(fallback, ["default.test"]), specOf(exact, ["a.test"])],
    });
    const [stats] = (await proxy.dp.stats()) as { tls: Record<string, string> }[];
    assert.equal(stats!.tls[proxy.address], "node");
    const dir = await Deno.makeTempDir({ prefix: "polyagent-resume-" });
    try {
      for (const version of ["tls1_3", "tls1_2"]) {
        const file = join(dir, `${version}.pem`);
        const first = await closingGet(proxy.port, version, ["-sess_out", file]);
        assert.match(first, /HTTP\/1\.1 200[\s\S]*hello/, first);
        assert.match(first, /^New, TLSv1\.[23]/m, first);
        // The connection ended with a close_notify, not a bare TCP close (OpenSSL would mark the
        // session unresumable: hsbench's resumed mode, curl and browsers do not offer it again).
        assert.doesNotMatch(first, /unexpected eof/i, first);
        assert.match(first, /closed$/m, first);
        const second = await closingGet(proxy.port, version, ["-sess_in", file]);
        assert.match(second, /HTTP\/1\.1 200[\s\S]*hello/, second);
        assert.match(second, /^Reused, TLSv1\.[23]/m, `${version} did not resume:\n${second}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
