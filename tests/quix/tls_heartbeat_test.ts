import assert from "node:assert/strict";
import { join } from "node:path";
import { sh, waitFor, worldTempDir } from "../_helpers/mod.ts";
import { QuixTestServer } from "./_server.ts";
import { quixHealth, startAgent, writeConfig } from "./_agent.ts";

async function makeCa(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const p = (n: string) => join(dir, n);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await sh([
    "openssl",
    "req",
    "-x509",
    ...ec,
    "-keyout",
    p("ca.key"),
    "-out",
    p("ca.crt"),
    "-days",
    "2",
    "-subj",
    "/CN=pqx-ca",
  ]);
  await sh([
    "openssl",
    "req",
    ...ec,
    "-keyout",
    p("srv.key"),
    "-out",
    p("srv.csr"),
    "-subj",
    "/CN=127.0.0.1",
  ]);
  await Deno.writeTextFile(p("san.ext"), "subjectAltName=IP:127.0.0.1\n");
  await sh([
    "openssl",
    "x509",
    "-req",
    "-in",
    p("srv.csr"),
    "-CA",
    p("ca.crt"),
    "-CAkey",
    p("ca.key"),
    "-CAcreateserial",
    "-out",
    p("srv.crt"),
    "-days",
    "2",
    "-extfile",
    p("san.ext"),
  ]);
  return {
    ca: p("ca.crt"),
    cert: await Deno.readTextFile(p("srv.crt")),
    key: await Deno.readTextFile(p("srv.key")),
  };
}

Deno.test("quix link: wss:// verifies the certificate; a custom CA file is trusted in-process", async () => {
  await using dir = await worldTempDir("pqx-tls");
  const pki = await makeCa(dir.path);
  const server = new QuixTestServer({ tls: { cert: pki.cert, key: pki.key } });
  await server.start();
  try {
    // Without the CA: the link does not come up, and the reason is visible.
    const untrusted = await writeConfig(join(dir.path, "a"), server.url, { allow_insecure: false });
    await Deno.mkdir(join(dir.path, "a"), { recursive: true });
    {
      await using agent = await startAgent(untrusted);
      const d = await waitFor(async () => {
        const h = await quixHealth(untrusted);
        return h.lastError ? h : null;
      });
      assert.match(String(d.lastError), /certificate|UnknownIssuer/i);
      assert.equal(server.sessions.filter((s) => s.token).length, 0);
      await agent.stop();
    }
    // With quix.ca_file: authenticated over TLS.
    await Deno.mkdir(join(dir.path, "b"), { recursive: true });
    const trusted = await writeConfig(join(dir.path, "b"), server.url, {
      allow_insecure: false,
      ca_file: pki.ca,
    });
    await using agent = await startAgent(trusted);
    const s = await server.nextAuthenticated();
    const tele = await server.request(s, "telemetry", { stat_types: ["ttl_mem_usage"] });
    assert.ok(tele);
    await agent.stop();
  } finally {
    await server.stop();
  }
});

Deno.test("quix link: ws:// is refused unless allow_insecure is set", async () => {
  await using dir = await worldTempDir("pqx-ins");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url, { allow_insecure: false });
  const agent = (await import("../_helpers/mod.ts")).spawnAgent({
    args: ["serve", "--config", world.config],
  });
  try {
    await waitFor(() => /allow_insecure/.test(agent.stderr()));
    assert.equal(server.connections, 0);
  } finally {
    await agent.stop();
    await server.stop();
  }
});

Deno.test("quix link: a silent (half-open) link is probed and redialled", async () => {
  await using dir = await worldTempDir("pqx-hb");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url, {
    heartbeat_ms: 200,
    idle_timeout_ms: 800,
  });
  await using agent = await startAgent(world);
  try {
    await server.nextAuthenticated();
    // An idle but healthy link: the probes (token re-authentication) keep it up.
    await waitFor(() =>
      server.frames.filter((f) => f.frame.req === "authenticate" && f.frame.auth).length >= 2
    );
    assert.equal(server.connections, 1);
    // The server stops answering: the agent notices and dials a new link.
    server.mute = true;
    await waitFor(() => /half-open/.test(agent.stderr()), { timeoutMs: 10_000 });
    server.mute = false;
    await waitFor(() => server.connections >= 2);
    await waitFor(async () => (await quixHealth(world)).link === "online");
  } finally {
    await agent.stop();
    await server.stop();
  }
});
