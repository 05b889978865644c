/**
 * The real agent process (admin + sozu, two proxy workers): after real traffic through the proxy,
 * the admin HTTP endpoint's /metrics shows the proxy's series per application and backend, METRICS
 * answers for both workers, and the access log under the agent's log directory has a line per
 * request, mode 0640; `ctl sozu metrics get|clear` and `ctl sozu logging` work on it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { freePort, tempDir, waitFor } from "../_helpers/mod.ts";
import { rawExchange, startHttpBackend } from "../http_proxy/_helpers.ts";
import { ctl, startAgent, writeAgentConfig } from "./_agent.ts";

Deno.test("real agent: admin /metrics, METRICS over two workers and the access log", async () => {
  await using dir = await tempDir("sozu-metrics");
  await using backend = startHttpBackend(() => new Response("hello"));
  {
    const port = freePort();
    const listener = `127.0.0.1:${port}`;
    const files = await writeAgentConfig(dir.path, [
      "worker_count = 2",
      `listeners = ["${listener}"]`,
      'access_log = "access.log"',
    ]);
    await using agent = await startAgent(files);
    const c = await SozuClient.connect(files.socket, 5000);
    try {
      const order = async (type: string, data?: unknown) => {
        const r = await c.request({ type: "PROXY", data: { type, data } }, { timeoutMs: 15_000 });
        assert.equal(r.status, "OK", `${type}: ${r.message}`);
        return r;
      };
      await order("ADD_APPLICATION", { app_id: "web" });
      await order("ADD_HTTP_FRONT", { app_id: "web", address: listener, hostname: "app.test" });
      await order("ADD_BACKEND", {
        app_id: "web",
        backend_id: "web-0",
        address: backend.address,
      });
      for (let i = 0; i < 10; i++) {
        const answer = await rawExchange(
          port,
          `GET /r${i} HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n`,
        );
        assert.match(answer, /^HTTP\/1.1 200/);
      }
      const metrics = await order("METRICS");
      const workers = (metrics.data!.data as {
        workers: Record<string, { proxy: Record<string, { data: number }> }>;
      }).workers;
      assert.equal(Object.keys(workers).length, 2);
      const total = Object.values(workers).reduce((a, w) => a + w.proxy["http.requests"]!.data, 0);
      assert.equal(total, 10, "the workers' counts add up to the requests sent");
      const text = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${files.adminPort}/metrics`);
        const body = await r.text();
        return body.includes(
            'polyagent_sozu_backend_requests_total{application="web",backend="web-0"} 10',
          )
          ? body
          : null;
      }, { timeoutMs: 15_000 });
      assert.match(text, /^polyagent_sozu_application_requests_total\{application="web"\} 10$/m);
      assert.match(text, /^polyagent_sozu_proxy_responses_total\{class="2xx"\} 10$/m);
      const path = join(dir.path, "log", "access.log");
      const lines = await waitFor(async () => {
        const list = (await Deno.readTextFile(path).catch(() => "")).split("\n").filter((l) => l);
        return list.length >= 10 ? list : null;
      }, { timeoutMs: 15_000 });
      const paths = lines.map((l) => JSON.parse(l).path as string).sort();
      assert.deepEqual(paths, [...Array(10).keys()].map((i) => `/r${i}`).sort());
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
      // the same through `polyagent ctl sozu`
      const got = await ctl(files, ["metrics", "get", "--app", "web", "--name", "requests"]);
      assert.equal(got.code, 0, got.stderr);
      const perWorker = got.stdout.trim().split("\n").map((l) => l.split("\t"));
      assert.ok(perWorker.every((f) => f[1]!.startsWith("app=web") && f[2] === "requests"));
      const sum = perWorker.filter((f) => f[1] === "app=web").reduce((a, f) => a + Number(f[3]), 0);
      assert.equal(sum, 10);
      assert.equal((await ctl(files, ["metrics", "clear"])).code, 0);
      const cleared = await ctl(files, ["metrics", "get", "--name", "http.requests"]);
      assert.match(cleared.stdout, /^\d+\tproxy\thttp\.requests\t0$/m);
      const logging = await ctl(files, ["logging", "debug"]);
      assert.equal(logging.code, 0, logging.stderr);
      assert.match(logging.stdout, /logging level set to debug/);
      assert.equal((await ctl(files, ["logging", "chatty"])).code, 1);
    } finally {
      c.close();
    }
    await agent.stop();
  }
});
