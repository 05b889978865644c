/**
 * HTTP/1.1 exchanges through a live proxy: forwarding headers as sozu adds them, hop-by-hop
 * headers, keep-alive on both sides with backend connection reuse, pipelining, HEAD/204/304,
 * chunked responses, interim 1xx, `Expect: 100-continue`, HTTP/1.0 clients and WebSocket
 * upgrade pass-through.
 */
import assert from "node:assert/strict";
import { waitFor } from "../_helpers/mod.ts";
import {
  rawExchange,
  startHttpBackend,
  startProxy,
  startRawBackend,
  statusLines,
} from "./_helpers.ts";

const H = "Host: ex.test\r\n";

Deno.test("forwarding headers: X-Forwarded-*, Forwarded, Sozu-Id; hop-by-hop dropped", async () => {
  let seen: Headers | null = null;
  await using backend = startHttpBackend((req) => {
    seen = req.headers;
    return new Response("ok", { headers: { "Keep-Alive": "timeout=5", "Sozu-Id": "forged" } });
  });
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["ex.test", "", "app"]],
  });
  const answer = await rawExchange(
    proxy.port,
    `GET / HTTP/1.1\r\n${H}Connection: close, X-Private\r\nX-Private: secret\r\nKeep-Alive: 300\r\n` +
      `Proxy-Connection: keep-alive\r\nTE: trailers\r\nSozu-Id: forged\r\nUpgrade: h2c\r\n\r\n`,
  );
  assert.deepEqual(statusLines(answer), ["200"]);
  const h = seen! as Headers;
  assert.equal(h.get("x-forwarded-proto"), "http");
  assert.equal(h.get("x-forwarded-port"), String(proxy.port));
  assert.equal(h.get("x-forwarded-for"), "127.0.0.1");
  assert.match(h.get("forwarded") ?? "", /^proto=http;for=127\.0\.0\.1:\d+;by=127\.0\.0\.1$/);
  const id = h.get("sozu-id");
  assert.ok(id && id !== "forged");
  for (const name of ["x-private", "keep-alive", "proxy-connection", "te", "upgrade"]) {
    assert.equal(h.get(name), null, name);
  }
  // The response carries the same Sozu-Id, and not the backend's hop-by-hop headers.
  assert.match(answer, new RegExp(`\\r\\nSozu-Id: ${id}\\r\\n`));
  assert.doesNotMatch(answer, /forged/);
  assert.doesNotMatch(answer, /Keep-Alive: timeout/i);
  assert.match(answer, /\r\nConnection: close\r\n/);
});

Deno.test("existing X-Forwarded-For and Forwarded are appended to, proto/port kept", async () => {
  let seen: Headers | null = null;
  await using backend = startHttpBackend((req) => {
    seen = req.headers;
    return new Response("ok");
  });
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["ex.test", "", "app"]],
  });
  await rawExchange(
    proxy.port,
    `GET / HTTP/1.1\r\n${H}X-Forwarded-For: 198.51.100.7\r\nForwarded: for=198.51.100.7\r\n` +
      `X-Forwarded-Proto: https\r\nX-Forwarded-Port: 443\r\nConnection: close\r\n\r\n`,
  );
  const h = seen! as Headers;
  assert.equal(h.get("x-forwarded-for"), "198.51.100.7, 127.0.0.1");
  assert.match(
    h.get("forwarded") ?? "",
    /^for=198\.51\.100\.7, proto=http;for=127\.0\.0\.1:\d+;by=/,
  );
  assert.equal(h.get("x-forwarded-proto"), "https");
  assert.equal(h.get("x-forwarded-port"), "443");
});

Deno.test("keep-alive on both sides: one client and one backend connection for many requests", async () => {
  await using backend = startRawBackend();
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["ex.test", "", "app"]],
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const buf = new Uint8Array(4096);
  try {
    for (let i = 0; i < 20; i++) {
      await conn.write(new TextEncoder().encode(`GET /${i} HTTP/1.1\r\n${H}\r\n`));
      const n = await conn.read(buf);
      assert.ok(n);
      assert.match(new TextDecoder().decode(buf.subarray(0, n)), /^HTTP\/1\.1 200 OK\r\n/);
    }
  } finally {
    conn.close();
  }
  assert.equal(backend.connections, 1);
  assert.equal((backend.all().match(/^GET \//gm) ?? []).length, 20);
});

Deno.test("pipelined requests are answered in order", async () => {
  await using backend = startHttpBackend((req) => new Response(new URL(req.url).pathname));
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["ex.test", "", "app"]],
  });
  const requests = [1, 2, 3, 4].map((i) => `GET /r${i} HTTP/1.1\r\n${H}\r\n`).join("") +
    `POST /r5 HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc` +
    `GET /r6 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`;
  const answer = await rawExchange(proxy.port, requests);
  assert.deepEqual(statusLines(answer), ["200", "200", "200", "200", "200", "200"]);
  const bodies = [...answer.matchAll(/\r\n\r\n(\/r\d)/g)].map((m) => m[1]);
  assert.deepEqual(bodies, ["/r1", "/r2", "/r3", "/r4", "/r5", "/r6"]);
});

Deno.test("HEAD, 204 and 304 have no body and keep the connection usable", async () => {
  await using backend = startHttpBackend((req) => {
    const path = new URL(req.url).pathname;
    if (path === "/204") return new Response(null, { status: 204 });
    if (path === "/304") return new Response(null, { status: 304, headers: { etag: '"x"' } });
    return new Response("twelve bytes", { headers: { "content-length": "12" } });
  });
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["ex.test", "", "app"]],
  });
  const answer = await rawExchange(
    proxy.port,
    `HEAD / HTTP/1.1\r\n${H}\r\nGET /204 HTTP/1.1\r\n${H}\r\nGET /304 HTTP/1.1\r\n${H}\r\n` +
      `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
  );
  assert.deepEqual(statusLines(answer), ["200", "204", "304", "200"]);
  assert.match(answer, /content-length: 12\r\n/i);
  assert.ok(answer.endsWith("\r\n\r\ntwelve bytes"));
  assert.equal((answer.match(/twelve bytes/g) ?? []).length, 1);
});

Deno.test("chunked responses and chunked uploads pass through intact", async () => {
  await using backend = startHttpBackend(async (req) => {
    const body = new Uint8Array(await req.arrayBuffer());
    let sum = 0;
    for (const b of body) sum = (sum + b) % 65521;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 50; i++) c.enqueue(new TextEncoder().encode(`part${i};`));
        c.enqueue(new TextEncoder().encode(`len=${body.length};sum=${sum}`));
        c.close();
      },
    });
    return new Response(stream);
  });
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["127.0.0.1", "", "app"]],
  });
  const payload = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
  let sum = 0;
  for (const b of payload) sum = (sum + b) % 65521;
  const res = await fetch(`http://127.0.0.1:${proxy.port}/up`, {
    method: "POST",
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < payload.length; i += 10_000) c.enqueue(payload.slice(i, i + 10_000));
        c.close();
      },
    }),
  });
  const text = await res.text();
  assert.equal(res.status, 200);
  assert.ok(text.startsWith("part0;part1;"));
  assert.ok(text.endsWith(`len=${payload.length};sum=${sum}`), text.slice(-40));
});

Deno.test("interim 1xx answers are forwarded before the final one", async () => {
  await using backend = startRawBackend((received) =>
    received.includes("\r\n\r\n")
      ? {
        send: "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" +
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
      }
      : null
  );
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["ex.test", "", "app"]],
  });
  const answer = await rawExchange(proxy.port, `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  assert.deepEqual(statusLines(answer), ["103", "200"]);
  assert.ok(answer.endsWith("final"));
});

Deno.test("Expect: 100-continue: the backend's 100 reaches the client before the body", async () => {
  await using backend = startHttpBackend(async (req) =>
    new Response(`got ${(await req.text()).length}`)
  );
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["ex.test", "", "app"]],
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`,
      ),
    );
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    assert.match(new TextDecoder().decode(buf.subarray(0, n!)), /^HTTP\/1\.1 100 Continue\r\n/);
    await conn.write(new TextEncoder().encode("hello"));
    let rest = "";
    while (true) {
      const m = await conn.read(buf);
      if (m === null) break;
      rest += new TextDecoder().decode(buf.subarray(0, m));
    }
    assert.match(rest, /HTTP\/1\.1 200 OK/);
    assert.ok(rest.endsWith("got 5"));
  } finally {
    conn.close();
  }
});

Deno.test("an HTTP/1.0 client gets its answer and the connection closes", async () => {
  await using backend = startHttpBackend(() => new Response("old"));
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["ex.test", "", "app"]],
  });
  const answer = await rawExchange(proxy.port, `GET / HTTP/1.0\r\n${H}\r\n`);
  assert.deepEqual(statusLines(answer), ["200"]);
  assert.ok(answer.endsWith("old"));
});

Deno.test("WebSocket upgrade is passed through as a raw pipe", async () => {
  await using backend = startHttpBackend((req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(`echo:${e.data}`);
    return response;
  });
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["127.0.0.1", "/ws", "app"]],
  });
  const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/ws`);
  const replies: string[] = [];
  const done = Promise.withResolvers<void>();
  ws.onopen = () => {
    for (let i = 0; i < 3; i++) ws.send(`m${i}`);
  };
  ws.onmessage = (e) => {
    replies.push(String(e.data));
    if (replies.length === 3) done.resolve();
  };
  ws.onerror = (e) => done.reject(new Error(`websocket error: ${(e as ErrorEvent).message}`));
  await done.promise;
  const closed = new Promise((r) => (ws.onclose = r));
  ws.close();
  await closed;
  assert.deepEqual(replies, ["echo:m0", "echo:m1", "echo:m2"]);
});

Deno.test("a client that disconnects mid-upload ends the exchange and frees the backend", async () => {
  await using backend = startRawBackend(() => null); // reads forever, never answers
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["ex.test", "", "app"]],
  });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await conn.write(
    new TextEncoder().encode(`POST / HTTP/1.1\r\n${H}Content-Length: 100000\r\n\r\npartial`),
  );
  await waitFor(() => backend.all().includes("partial"), { what: "body at the backend" });
  conn.close();
  // The proxy closes its backend connection and forgets the session.
  await waitFor(async () => {
    const [s] = await proxy.dp.stats() as { sessions: number }[];
    return s!.sessions === 0;
  }, { what: "session gone" });
});

Deno.test("an idle WebSocket tunnel is closed after the listener's front timeout", async () => {
  await using backend = startHttpBackend((req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(`echo:${e.data}`);
    return response;
  });
  await using proxy = await startProxy({
    listener: { frontTimeoutMs: 300 },
    clusters: { app: [backend.address] },
    fronts: [["127.0.0.1", "", "app"]],
  });
  const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`);
  const opened = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  const replies: string[] = [];
  ws.onopen = () => opened.resolve();
  ws.onmessage = (e) => replies.push(String(e.data));
  ws.onclose = () => closed.resolve();
  ws.onerror = () => {};
  await opened.promise;
  ws.send("hi");
  await closed.promise; // the proxy ends the idle tunnel; no client-side close
  assert.deepEqual(replies, ["echo:hi"]);
});

Deno.test("above the fairness threshold the proxy turns crowded and keeps answering every request", async () => {
  await using backend = startHttpBackend(() => new Response("ok"));
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["127.0.0.1", "", "app"]],
    engine: { fairnessThreshold: 2 },
  });
  const crowded = async () => ((await proxy.dp.stats()) as { crowded: boolean }[])[0]!.crowded;
  assert.equal(await crowded(), false);
  // Six keep-alive clients (fetch keeps its connections) sending until the engine notices.
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 6 });
  let sawCrowded = false;
  let answered = 0;
  try {
    for (let round = 0; round < 200 && !sawCrowded; round++) {
      const replies = await Promise.all(
        Array.from(
          { length: 6 },
          () => fetch(`http://127.0.0.1:${proxy.port}/`, { client }).then((r) => r.text()),
        ),
      );
      answered += replies.filter((t) => t === "ok").length;
      assert.equal(answered, (round + 1) * 6, "every request is answered while crowded");
      sawCrowded = await crowded();
    }
  } finally {
    client.close();
  }
  assert.ok(sawCrowded, "six active connections exceed a threshold of 2");
  // Quiet again: the next ticks see no activity and the flag drops.
  await waitFor(async () => !await crowded(), { what: "crowded cleared" });
});
