/**
 * The status page over plain HTTP: security headers, the token rule, the no-JavaScript page,
 * the live stream's throttle and diffing, and the action rules (off by default, confirm, CSRF,
 * same origin, logged, run through the service's own `act`).
 */
import assert from "node:assert/strict";
import {
  flag,
  section,
  type ServiceDefinition,
  type StatusPageSource,
} from "../../lib/core/mod.ts";
import { withAgent } from "./_supervised.ts";

/** A service with a status page: one table with an action, and a counter that changes. */
function demoService(acted: string[]): ServiceDefinition {
  let reads = 0;
  const page: StatusPageSource = {
    snapshot: () => ({
      facts: [["Reads", ++reads]],
      tables: [{
        id: "items",
        caption: "Items",
        columns: ["Item", "State", "Action"],
        rows: [
          ["one", { text: "up", tone: "ok" }, {
            action: { name: "poke", target: "one", label: "Poke" },
          }],
          ["two", { text: "down", tone: "bad" }, null],
        ],
        actionColumn: 2,
      }],
    }),
    act: (action, target) => {
      acted.push(`${action} ${target}`);
      return Promise.resolve(`poked ${target}`);
    },
  };
  return {
    name: "demo",
    summary: "a service with a status page",
    configSchema: () => section({ enabled: flag().default(true) }),
    create: () => ({
      start: () => Promise.resolve(),
      stop: () => Promise.resolve(),
      statusPage: () => page,
    }),
  };
}

const DEMO = { demo: { enabled: true } };

function assertSecurityHeaders(res: Response, what: string): void {
  assert.match(res.headers.get("content-security-policy") ?? "", /^default-src 'self'(;|$)/, what);
  assert.equal(res.headers.get("x-frame-options"), "DENY", what);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff", what);
}

Deno.test("every admin response carries CSP default-src 'self' and X-Frame-Options DENY", async () => {
  await withAgent(DEMO, [demoService([])], async ({ base }) => {
    for (
      const path of [
        "/healthz",
        "/metrics",
        "/",
        "/status",
        "/status/data.json",
        "/status/events",
        "/status/assets/status.css",
        "/status/assets/status.js",
        "/status/confirm?service=demo&action=poke&target=one",
        "/nope",
      ]
    ) {
      const res = await fetch(`${base}${path}`, { redirect: "manual" });
      await res.body?.cancel();
      assertSecurityHeaders(res, path);
    }
  });
});

Deno.test("GET /status works without JavaScript: no inline script or style, a noscript refresh", async () => {
  await withAgent(DEMO, [demoService([])], async ({ base }) => {
    const res = await fetch(`${base}/status`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    assert.deepEqual(scripts, ['<script src="/status/assets/status.js" defer>']);
    assert.doesNotMatch(html, /<script[^>]*>[^<]+<\/script>/, "no inline script");
    assert.doesNotMatch(html, /\son[a-z]+=/i, "no inline event handlers");
    assert.doesNotMatch(html, /\sstyle=/i, "no inline style");
    assert.match(html, /<noscript><meta http-equiv="refresh" content="10"><\/noscript>/);
    assert.match(html, /<section id="svc-demo"/);
    assert.match(html, /<caption>Items<\/caption>/);
    assert.match(html, /<th scope="col">State<\/th>/);
    assert.match(html, /<span class="tone tone-ok">up<\/span>/);
    assert.match(html, /<caption>Every enabled service<\/caption>/);
    const data = await (await fetch(`${base}/status/data.json`)).json();
    assert.equal(data.overall, "ok");
    assert.deepEqual(data.parts.map((p: { name: string }) => p.name), ["demo"]);
  });
});

Deno.test("a non-loopback admin listener without admin.token refuses the status page", async () => {
  await withAgent(
    DEMO,
    [demoService([])],
    async ({ base }) => {
      for (const path of ["/status", "/status/events", "/status/data.json"]) {
        const res = await fetch(`${base}${path}`);
        assert.equal(res.status, 403, path);
        assert.match(await res.text(), /set admin\.token/);
      }
      const health = await fetch(`${base}/healthz`);
      await health.body?.cancel();
      assert.equal(health.status, 200);
    },
    {},
    "0.0.0.0",
  );
});

Deno.test("with admin.token the page needs a bearer token or the cookie set from ?token=", async () => {
  const token = "s3cret-token-for-the-page";
  await withAgent(
    DEMO,
    [demoService([])],
    async ({ base }) => {
      const get = async (path: string, headers: Record<string, string> = {}) => {
        const res = await fetch(`${base}${path}`, { headers, redirect: "manual" });
        await res.body?.cancel();
        return res;
      };
      const none = await get("/status");
      assert.equal(none.status, 401);
      assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer/);
      assert.equal((await get("/status", { authorization: "Bearer wrong" })).status, 401);
      assert.equal((await get("/status", { authorization: `Bearer ${token}` })).status, 200);
      assert.equal((await get("/status?token=wrong")).status, 401);
      const login = await get(`/status?token=${token}`);
      assert.equal(login.status, 303);
      assert.equal(login.headers.get("location"), "/status");
      const cookie = login.headers.get("set-cookie") ?? "";
      assert.match(cookie, /^polyagent_admin=/);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      assert.match(cookie, /Path=\/status/);
      const jar = cookie.split(";")[0]!;
      assert.equal((await get("/status", { cookie: jar })).status, 200);
      const events = await get("/status/events", { cookie: jar });
      assert.equal(events.status, 200);
      assert.match(events.headers.get("content-type") ?? "", /^text\/event-stream/);
      assert.equal((await get("/status", { cookie: "polyagent_admin=nope" })).status, 401);
    },
    { token },
    "0.0.0.0",
  );
});

/** Reads Server-Sent Events for `ms` and returns the `update` events (id + data). */
async function readUpdates(url: string, ms: number): Promise<{ id: number; data: unknown }[]> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = Date.now() + ms;
  let text = "";
  while (Date.now() < deadline) {
    const timer = new Promise<null>((r) => setTimeout(() => r(null), deadline - Date.now()));
    const chunk = await Promise.race([reader.read(), timer]);
    if (chunk === null || chunk.done) break;
    text += chunk.value;
  }
  await reader.cancel();
  return text.split("\n\n").filter((e) => e.startsWith("event: update")).map((e) => ({
    id: Number(/^id: (\d+)$/m.exec(e)![1]),
    data: JSON.parse(/^data: (.*)$/m.exec(e)![1]!),
  }));
}

Deno.test("GET /status/events sends changed fragments at most once a second", async () => {
  await withAgent(DEMO, [demoService([])], async ({ base }) => {
    const updates = await readUpdates(`${base}/status/events`, 3500);
    assert.ok(updates.length >= 2, `${updates.length} updates`);
    const first = updates[0]!.data as Record<string, string>;
    assert.deepEqual(Object.keys(first).sort(), ["agent", "services", "svc-demo"]);
    for (let i = 1; i < updates.length; i++) {
      assert.ok(updates[i]!.id - updates[i - 1]!.id >= 900, "views at least ~1 s apart");
      // the demo section changes on every read; nothing unchanged is resent
      assert.ok("svc-demo" in (updates[i]!.data as object));
    }
    const page = await (await fetch(`${base}/status`)).text();
    const view = /data-view="(\d+)"/.exec(page)![1];
    const since = await readUpdates(`${base}/status/events?since=${view}`, 1500);
    assert.ok(since.length >= 1);
    assert.ok(!("services" in (since[0]!.data as object)) || since[0]!.id > Number(view));
  });
});

Deno.test("status page actions are off by default: no buttons, confirm and POST are 403", async () => {
  const acted: string[] = [];
  await withAgent(DEMO, [demoService(acted)], async ({ base }) => {
    const html = await (await fetch(`${base}/status`)).text();
    assert.doesNotMatch(html, /Poke/);
    assert.doesNotMatch(html, /<th scope="col">Action<\/th>/);
    const confirm = await fetch(`${base}/status/confirm?service=demo&action=poke&target=one`);
    await confirm.body?.cancel();
    assert.equal(confirm.status, 403);
    const post = await fetch(`${base}/status/actions`, {
      method: "POST",
      body: new URLSearchParams({ service: "demo", action: "poke", target: "one", csrf: "x" }),
    });
    await post.body?.cancel();
    assert.equal(post.status, 403);
    assert.deepEqual(acted, []);
  });
});

Deno.test("an action needs its confirm page's CSRF token and a same-origin POST, and is logged", async () => {
  const acted: string[] = [];
  await withAgent(DEMO, [demoService(acted)], async ({ base, logs }) => {
    const html = await (await fetch(`${base}/status`)).text();
    const link = /<a class="button" href="([^"]+)">Poke<\/a>/.exec(html)![1]!.replaceAll(
      "&amp;",
      "&",
    );
    const missing = await fetch(`${base}/status/confirm?service=demo&action=poke&target=two`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404, "an action the page does not offer");
    const confirm = await (await fetch(`${base}${link}`)).text();
    assert.match(confirm, /<form method="post" action="\/status\/actions">/);
    const csrf = /name="csrf" value="([0-9a-f]{64})"/.exec(confirm)![1]!;
    const post = async (body: Record<string, string>, headers: Record<string, string> = {}) => {
      const res = await fetch(`${base}/status/actions`, {
        method: "POST",
        headers,
        body: new URLSearchParams(body),
      });
      return { status: res.status, text: await res.text() };
    };
    const fields = { service: "demo", action: "poke", target: "one" };
    assert.equal((await post(fields)).status, 403, "no CSRF token");
    assert.equal((await post({ ...fields, csrf: "0".repeat(64) })).status, 403, "wrong token");
    const cross = await post({ ...fields, csrf }, { origin: "http://example.com" });
    assert.equal(cross.status, 403, "another origin");
    const site = await post({ ...fields, csrf }, { "sec-fetch-site": "cross-site" });
    assert.equal(site.status, 403, "a cross-site fetch");
    assert.deepEqual(acted, []);
    const ok = await post({ ...fields, csrf }, { origin: base, "sec-fetch-site": "same-origin" });
    assert.equal(ok.status, 200);
    assert.match(ok.text, /poked one/);
    assert.deepEqual(acted, ["poke one"]);
    const line = logs.map((l) => JSON.parse(l)).find((l) => l.msg === "status page action");
    assert.equal(line?.of, "demo");
    assert.equal(line?.action, "poke");
    assert.equal(line?.outcome, "poked one");
  }, { actions: true });
});
