/**
 * Sticky sessions through a live proxy on real sockets: the first answer sets the sticky cookie,
 * a request carrying it always reaches that backend (and gets no new Set-Cookie), the sticky
 * cookie never reaches the backend while other cookies do, a backend's own Set-Cookie for the
 * sticky name is dropped, and a request pinned to a dead backend goes elsewhere and is re-pinned.
 * Non-sticky applications forward Cookie untouched. The same over HTTPS.
 */
import assert from "node:assert/strict";
import { backendTest } from "../_helpers/mod.ts";
import { startCa } from "../sozu/_certs.ts";
import { type RawBackend, rawExchange, startProxy, startRawBackend } from "./_helpers.ts";
import { readUntil, responses, send, specOf, tlsConnect } from "./_tls.ts";

/** A raw backend answering its name, plus `extra` header lines, to each body-less request. */
function named(name: string, extra = ""): RawBackend {
  return startRawBackend((received) => {
    const end = received.indexOf("\r\n\r\n");
    if (end < 0) return null;
    return {
      send: `HTTP/1.1 200 OK\r\n${extra}Content-Length: ${name.length}\r\n\r\n${name}`,
      rest: received.slice(end + 4),
    };
  });
}

function request(port: number, host: string, cookie: string | null): Promise<string> {
  return rawExchange(
    port,
    `GET / HTTP/1.1\r\nHost: ${host}\r\n${
      cookie === null ? "" : `Cookie: ${cookie}\r\n`
    }Connection: close\r\n\r\n`,
  );
}

function bodyOf(answer: string): string {
  return answer.slice(answer.indexOf("\r\n\r\n") + 4);
}

function setCookies(answer: string): string[] {
  const head = answer.slice(0, answer.indexOf("\r\n\r\n"));
  return [...head.matchAll(/^set-cookie: *(.*)$/gim)].map((m) => m[1]!);
}

/** A proxy with one sticky application "web" (backends a, b, c) and a plain one "plain". */
async function stickyProxy(backends: Record<string, RawBackend>, stickyName?: string) {
  const proxy = await startProxy(stickyName ? { listener: { stickyName } } : {});
  await proxy.apply({ op: "add_cluster", cluster: { id: "web", stickySession: true } });
  await proxy.apply({ op: "add_cluster", cluster: { id: "plain" } });
  for (const [id, b] of Object.entries(backends)) {
    const cluster = id === "plain" ? "plain" : "web";
    await proxy.apply({
      op: "add_backend",
      backend: {
        clusterId: cluster,
        backendId: id,
        address: b.address,
        ...(id === "c" ? { stickyId: "sticky-c" } : {}),
      },
    });
  }
  for (const [host, cluster] of [["web.test", "web"], ["plain.test", "plain"]]) {
    await proxy.apply({
      op: "add_front",
      front: { listener: proxy.address, clusterId: cluster!, hostname: host!, pathBegin: "" },
    });
  }
  return proxy;
}

Deno.test("sticky: the first answer pins, the cookie keeps the backend, no new Set-Cookie", async () => {
  await using a = named("a");
  await using b = named("b");
  await using c = named("c");
  await using proxy = await stickyProxy({ a, b, c });
  const first = await request(proxy.port, "web.test", null);
  const chosen = bodyOf(first);
  const value = chosen === "c" ? "sticky-c" : chosen;
  assert.deepEqual(setCookies(first), [`SOZUBALANCEID=${value}; Path=/`]);
  for (let i = 0; i < 9; i++) {
    const again = await request(proxy.port, "web.test", `SOZUBALANCEID=${value}`);
    assert.equal(bodyOf(again), chosen, `request ${i}`);
    assert.deepEqual(setCookies(again), [], "no Set-Cookie when the cookie matched");
  }
  // sticky_id, not backend_id, pins c
  for (let i = 0; i < 3; i++) {
    assert.equal(bodyOf(await request(proxy.port, "web.test", "SOZUBALANCEID=sticky-c")), "c");
  }
  // an unknown value is balanced and re-pinned
  const unknown = await request(proxy.port, "web.test", "SOZUBALANCEID=nope");
  assert.equal(setCookies(unknown).length, 1);
  assert.match(setCookies(unknown)[0]!, /^SOZUBALANCEID=(a|b|sticky-c); Path=\/$/);
});

Deno.test("sticky: the cookie is stripped upstream, other cookies kept; backend's sticky Set-Cookie dropped", async () => {
  await using a = named("a", "Set-Cookie: SOZUBALANCEID=evil\r\nSet-Cookie: session=42\r\n");
  await using plain = named("p", "Set-Cookie: SOZUBALANCEID=kept\r\n");
  await using proxy = await stickyProxy({ a, plain });
  const answer = await request(proxy.port, "web.test", "x=1; SOZUBALANCEID=a; y=2");
  assert.equal(bodyOf(answer), "a");
  assert.deepEqual(setCookies(answer), ["session=42"], "the backend's sticky cookie is dropped");
  await request(proxy.port, "web.test", "SOZUBALANCEID=a");
  const seen = a.all();
  assert.match(seen, /\r\nCookie: x=1; y=2\r\n/);
  assert.doesNotMatch(seen, /SOZUBALANCEID/);
  // the second request had only the sticky cookie: no Cookie header at all
  assert.equal([...seen.matchAll(/\r\ncookie:/gi)].length, 1);
  // two Cookie lines, the sticky cookie in the second: one merged Cookie line goes upstream
  const before = a.all().length;
  const two = await rawExchange(
    proxy.port,
    "GET / HTTP/1.1\r\nHost: web.test\r\nCookie: m=1\r\nAccept: */*\r\n" +
      "cookie: SOZUBALANCEID=a; n=2\r\nConnection: close\r\n\r\n",
  );
  assert.equal(bodyOf(two), "a");
  assert.deepEqual(setCookies(two), ["session=42"]);
  const upstream = a.all().slice(before);
  assert.match(upstream, /\r\nAccept: \*\/\*\r\n/);
  assert.match(upstream, /\r\nCookie: m=1; n=2\r\n/);
  assert.equal([...upstream.matchAll(/\r\ncookie:/gi)].length, 1);
  // a non-sticky application forwards Cookie and Set-Cookie untouched, and sets no cookie
  const p = await request(proxy.port, "plain.test", "SOZUBALANCEID=zz; q=1");
  assert.deepEqual(setCookies(p), ["SOZUBALANCEID=kept"]);
  assert.match(plain.all(), /\r\nCookie: SOZUBALANCEID=zz; q=1\r\n/);
});

Deno.test("sticky: a dead sticky backend sends the request elsewhere and re-pins it", async () => {
  const a = named("a");
  await using b = named("b");
  await using proxy = await stickyProxy({ a, b }, "PIN");
  assert.equal(bodyOf(await request(proxy.port, "web.test", "PIN=a")), "a");
  await a[Symbol.asyncDispose]();
  for (let i = 0; i < 3; i++) {
    const answer = await request(proxy.port, "web.test", "PIN=a");
    assert.equal(bodyOf(answer), "b", `request ${i} after a died`);
    assert.deepEqual(setCookies(answer), ["PIN=b; Path=/"]);
  }
  const pinned = await request(proxy.port, "web.test", "PIN=b");
  assert.equal(bodyOf(pinned), "b");
  assert.deepEqual(setCookies(pinned), []);
});

backendTest(
  "sticky over HTTPS: pinning, Set-Cookie and cookie stripping on a keep-alive TLS connection",
  { tools: ["openssl"] },
  async () => {
    await using ca = await startCa();
    const cert = await ca.issue({ cn: "web.test" });
    await using a = named("a");
    await using b = named("b");
    await using proxy = await startProxy({
      listener: {
        protocol: "https",
        tls: { versions: ["TLSv1.2", "TLSv1.3"], defaultCertificate: null },
      },
      certificates: [specOf(cert, ["web.test"])],
    });
    await proxy.apply({ op: "add_cluster", cluster: { id: "web", stickySession: true } });
    for (const [id, backend] of [["a", a], ["b", b]] as const) {
      await proxy.apply({
        op: "add_backend",
        backend: { clusterId: "web", backendId: id, address: backend.address },
      });
    }
    await proxy.apply({
      op: "add_front",
      front: { listener: proxy.address, clusterId: "web", hostname: "web.test", pathBegin: "" },
    });
    const conn = await tlsConnect(proxy.port, "web.test", ca.caCertificate);
    try {
      const ask = async (cookie: string | null) => {
        await send(
          conn,
          `GET / HTTP/1.1\r\nHost: web.test\r\n${cookie ? `Cookie: ${cookie}\r\n` : ""}\r\n`,
        );
        return await readUntil(conn, responses(1));
      };
      const first = await ask(null);
      const chosen = bodyOf(first);
      assert.deepEqual(setCookies(first), [`SOZUBALANCEID=${chosen}; Path=/`]);
      for (let i = 0; i < 4; i++) {
        const again = await ask(`k=v; SOZUBALANCEID=${chosen}`);
        assert.equal(bodyOf(again), chosen);
        assert.deepEqual(setCookies(again), []);
      }
      const upstream = (chosen === "a" ? a : b).all();
      assert.doesNotMatch(upstream, /SOZUBALANCEID/);
      assert.match(upstream, /\r\nCookie: k=v\r\n/);
    } finally {
      conn.close();
    }
  },
);

Deno.test("sticky: the longest name and id fit in the rewritten response head", async () => {
  await using a = named("a");
  const name = "N".repeat(64);
  const id = "i".repeat(256);
  await using proxy = await startProxy({ listener: { stickyName: name } });
  await proxy.apply({ op: "add_cluster", cluster: { id: "web", stickySession: true } });
  await proxy.apply({
    op: "add_backend",
    backend: { clusterId: "web", backendId: "a", address: a.address, stickyId: id },
  });
  await proxy.apply({
    op: "add_front",
    front: { listener: proxy.address, clusterId: "web", hostname: "web.test", pathBegin: "" },
  });
  // HTTP/1.0: the answer also gets a Connection header
  const answer = await rawExchange(proxy.port, "GET / HTTP/1.0\r\nHost: web.test\r\n\r\n");
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  assert.deepEqual(setCookies(answer), [`${name}=${id}; Path=/`]);
  assert.equal(bodyOf(answer), "a");
});
