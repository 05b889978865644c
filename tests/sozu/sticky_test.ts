/**
 * Sticky sessions configured through the real command socket: an application with
 * `sticky_session: true`, a listener with its own `sticky_name`, a backend with a `sticky_id`;
 * real HTTP traffic through the real data plane is pinned by that cookie.
 */
import assert from "node:assert/strict";
import { createDataPlane } from "../../lib/backends/http_proxy/mod.ts";
import type { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { freePort } from "../_helpers/mod.ts";
import { rawExchange } from "../http_proxy/_helpers.ts";
import { startHarness } from "./_harness.ts";

async function order(c: SozuClient, type: string, data?: unknown) {
  const r = await c.request({ type: "PROXY", data: { type, data } }, { timeoutMs: 15_000 });
  assert.equal(r.status, "OK", `${type}: ${r.message}`);
}

Deno.test("sozu orders: sticky_session, the listener's sticky_name and a backend's sticky_id pin requests", async () => {
  const servers = ["one", "two"].map((name) => {
    const port = freePort();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      (req) => new Response(`${name} ${req.headers.get("cookie") ?? "-"}`),
    );
    return { server, address: `127.0.0.1:${port}` };
  });
  try {
    const port = freePort();
    const front = `127.0.0.1:${port}`;
    await using h = await startHarness({ plane: (o) => createDataPlane(o) });
    const c = await h.client();
    await order(c, "ADD_HTTP_LISTENER", { front, sticky_name: "STICK" });
    await order(c, "ACTIVATE_LISTENER", { front, proxy: "http", from_scm: false });
    await order(c, "ADD_APPLICATION", { app_id: "web", sticky_session: true });
    await order(c, "ADD_HTTP_FRONT", { app_id: "web", address: front, hostname: "app.test" });
    await order(c, "ADD_BACKEND", {
      app_id: "web",
      backend_id: "web-1",
      address: servers[0]!.address,
      sticky_id: "s1",
    });
    await order(c, "ADD_BACKEND", {
      app_id: "web",
      backend_id: "web-2",
      address: servers[1]!.address,
    });
    const get = (cookie: string | null) =>
      rawExchange(
        port,
        `GET / HTTP/1.1\r\nHost: app.test\r\n${
          cookie ? `Cookie: ${cookie}\r\n` : ""
        }Connection: close\r\n\r\n`,
      );
    for (let i = 0; i < 4; i++) {
      const answer = await get("STICK=s1; other=1");
      assert.match(answer, /\r\n\r\none other=1$/, "pinned by sticky_id, sticky cookie stripped");
      assert.doesNotMatch(answer, /set-cookie/i);
    }
    for (let i = 0; i < 4; i++) assert.match(await get("STICK=web-2"), /\r\n\r\ntwo -$/);
    const fresh = await get(null);
    assert.match(fresh, /\r\nSet-Cookie: STICK=(s1|web-2); Path=\/\r\n/);
  } finally {
    for (const s of servers) await s.server.shutdown();
  }
});
