/**
 * The real agent: kill -9 loses no acknowledged order; `polyagent ctl sozu` against a live
 * service (output, exit statuses, --json) and against a socket that never answers; a client's stop
 * ends the sozu service but not the agent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CommandResponse, SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { tempDir, waitFor } from "../_helpers/mod.ts";
import { ctl, startAgent, writeAgentConfig } from "./_agent.ts";

function order(type: string, data: unknown) {
  return { type: "PROXY", data: { type, data } };
}

Deno.test("kill -9 between orders loses none that was acknowledged", async () => {
  await using dir = await tempDir("sozu-kill");
  const files = await writeAgentConfig(dir.path);
  {
    await using agent = await startAgent(files);
    const c = await SozuClient.connect(files.socket, 5000);
    assert.equal(
      (await c.request(order("ADD_APPLICATION", { app_id: "app" }), { timeoutMs: 10_000 })).status,
      "OK",
    );
    assert.equal(
      (await c.request(
        order("ADD_BACKEND", { app_id: "app", backend_id: "first", address: "127.0.0.1:9001" }),
        { timeoutMs: 10_000 },
      )).status,
      "OK",
    );
    // a burst in flight; kill -9 once some of it is acknowledged
    const acked: string[] = [];
    const burst = Array.from(
      { length: 400 },
      (_, i) =>
        c.request(
          order("ADD_BACKEND", {
            app_id: "app",
            backend_id: `b${i}`,
            address: `127.0.0.1:${20000 + i}`,
          }),
          {
            timeoutMs: 20_000,
            id: `b${i}`,
          },
        ).then((r: CommandResponse) => {
          if (r.status === "OK") acked.push(r.id);
        }, () => {}),
    );
    await waitFor(() => acked.length >= 100, { timeoutMs: 20_000, what: "100 acknowledgements" });
    const ackedAtKill = [...acked];
    await agent.stop("SIGKILL");
    await Promise.allSettled(burst);
    c.close();

    await using again = await startAgent(files);
    const c2 = await SozuClient.connect(files.socket, 5000);
    const d = await c2.request({ type: "DUMP_STATE" }, { timeoutMs: 10_000 });
    const ids = new Set(
      (d.data?.data as { backends: { app: { backend_id: string }[] } }).backends.app.map((b) =>
        b.backend_id
      ),
    );
    assert.ok(ids.has("first"));
    for (const id of ackedAtKill) assert.ok(ids.has(id), `acknowledged ${id} was lost`);
    c2.close();
    await again.stop();
  }
});

Deno.test("ctl sozu drives a live service; exit 1 on ERROR, 2 on bad usage", async () => {
  await using dir = await tempDir("sozu-ctl");
  const files = await writeAgentConfig(dir.path);
  await using agent = await startAgent(files);

  let r = await ctl(files, ["listener", "add", "127.0.0.1:18095", "--no-activate"]);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(files, ["app", "add", "web", "--load-balancing", "random"]);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(files, ["front", "add", "web", "www.example.com", "--path", "/api"]);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(files, ["backend", "add", "web", "127.0.0.1:9100"]);
  assert.equal(r.code, 0, r.stderr);
  r = await ctl(files, ["backend", "add", "nosuch", "127.0.0.1:9100"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /application "nosuch" does not exist/);
  r = await ctl(files, ["backend", "add", "web", "not-an-address"]);
  assert.equal(r.code, 2);
  r = await ctl(files, ["frobnicate"]);
  assert.equal(r.code, 2);
  r = await ctl(files, ["--json", "state", "dump"]);
  assert.equal(r.code, 0, r.stderr);
  const reply = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(reply.status, "OK");
  assert.equal(reply.data.data.applications.web.load_balancing, "random");
  assert.deepEqual(reply.data.data.http_fronts.web[0].path_begin, "/api");
  r = await ctl(files, ["status"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /worker 0\s+pid \d+\s+RUNNING\s+OK/);
  r = await ctl(files, ["state", "save", "backup.state"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /saved 4 config messages/);

  const metrics = await (await fetch(`http://127.0.0.1:${files.adminPort}/metrics`)).text();
  assert.match(metrics, /polyagent_sozu_state_objects\{kind="backends"\} 1/);
  assert.match(metrics, /polyagent_sozu_replies_total\{status="ERROR"\} [1-9]/);
  const detail = await (await fetch(`http://127.0.0.1:${files.adminPort}/healthz`)).json() as {
    services: { name: string; detail?: Record<string, unknown> }[];
  };
  assert.equal(detail.services.find((s) => s.name === "sozu")?.detail?.["fronts"], 1);

  // stop ends the sozu service, not the agent
  r = await ctl(files, ["stop"]);
  assert.equal(r.code, 0, r.stderr);
  const health = await waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${files.adminPort}/healthz`);
    const body = await res.json() as { services: { name: string; state: string }[] };
    const sozu = body.services.find((s) => s.name === "sozu");
    return sozu?.state === "stopped" ? body : null;
  }, { what: "sozu reported stopped" });
  assert.ok(health.services.find((s) => s.name === "admin")?.state === "running");
  await assert.rejects(Deno.stat(files.socket), Deno.errors.NotFound);
  await agent.stop();
});

Deno.test("ctl sozu gives up on a socket that never answers", async () => {
  await using dir = await tempDir("sozu-silent");
  const path = join(dir.path, "silent.sock");
  const listener = Deno.listen({ transport: "unix", path });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const started = Date.now();
    const r = await ctl(null, ["--socket", path, "--timeout", "300", "status"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no reply to LIST_WORKERS within 300 ms/);
    assert.ok(Date.now() - started < 30_000);
    const missing = await ctl(null, ["--socket", join(dir.path, "absent.sock"), "workers"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot reach the sozu command socket/);
  } finally {
    listener.close();
    for (const c of held) c.close();
    await accepting.catch(() => {});
  }
});
