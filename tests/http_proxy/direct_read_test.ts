/**
 * Direct reads (lib/backends/http_proxy/direct_read.ts): the Deno internals they use are still
 * there, a direct reader behaves like `conn.read` on TCP and TLS connections (data, end of stream,
 * a close under a pending read), the proxy serves the same with the switch on and off (and the
 * switch reaches its workers), and the sozu setting is checked.
 */
import assert from "node:assert/strict";
import { directReadSupport, readerOf } from "../../lib/backends/http_proxy/mod.ts";
import { sozuConfigSchema } from "../../lib/protocols/sozu/config.ts";
import { startCa } from "../sozu/_certs.ts";
import { rawExchange, startHttpBackend, startProxy, statusLines } from "./_helpers.ts";

type Pair = [Deno.Conn, Deno.Conn];

async function tcpPair(): Promise<Pair> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port }),
    listener.accept(),
  ]);
  return [client, server];
}

async function tlsPair(): Promise<Pair> {
  await using ca = await startCa();
  const leaf = await ca.issue({ cn: "localhost" });
  using listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: leaf.certificate,
    key: leaf.key,
  });
  const { port } = listener.addr;
  const [client, server] = await Promise.all([
    Deno.connectTls({ hostname: "localhost", port, caCerts: [ca.caCertificate] }),
    listener.accept(),
  ]);
  await Promise.all([client.handshake(), server.handshake()]);
  return [client, server];
}

function closeBoth([a, b]: Pair): void {
  for (const conn of [a, b]) {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

Deno.test("Deno still has the read op and the resource id symbol direct reads use", async () => {
  for (const make of [tcpPair, tlsPair]) {
    const pair = await make();
    try {
      const missing = directReadSupport(pair[1]);
      assert.equal(
        missing,
        null,
        `${missing} (Deno[Deno.internal].core.read, Symbol("Deno.internal.rid")): the proxy now ` +
          "reads with conn.read by itself (higher tail latency); review " +
          "lib/backends/http_proxy/direct_read.ts",
      );
    } finally {
      closeBoth(pair);
    }
  }
});

for (const [name, make] of [["TCP", tcpPair], ["TLS", tlsPair]] as const) {
  for (const direct of [true, false]) {
    Deno.test(`${name} reader (direct ${direct}): data, end of stream, close under a read`, async () => {
      const pair = await make();
      const [a, b] = pair;
      try {
        const read = readerOf(b, direct);
        const buf = new Uint8Array(64);
        await a.write(new TextEncoder().encode("hello"));
        let got = "";
        while (got.length < 5) {
          const n = await read(buf);
          assert.ok(n, "data before the end");
          got += new TextDecoder().decode(buf.subarray(0, n));
        }
        assert.equal(got, "hello");
        a.close();
        const end = await read(buf);
        assert.ok(!end, `end of stream is 0 or null, got ${end}`);
        if (!direct) assert.equal(end, null);
        else assert.equal(end, 0, "the read op itself answered (0), not conn.read (null)");
      } finally {
        closeBoth(pair);
      }
      const pending = await make();
      try {
        const read = readerOf(pending[1], direct);
        const waiting = read(new Uint8Array(64));
        pending[1].close();
        await assert.rejects(waiting);
      } finally {
        closeBoth(pending);
      }
    });
  }
}

for (const directReads of [true, false]) {
  Deno.test(`the proxy serves keep-alive, bodies and upgrades with direct_reads ${directReads}`, async () => {
    await using backend = startHttpBackend(async (req) => {
      if (req.headers.get("upgrade") === "websocket") {
        const { socket, response } = Deno.upgradeWebSocket(req);
        socket.onmessage = (e) => socket.send(`echo ${e.data}`);
        return response;
      }
      return new Response(`${req.method} ${(await req.text()).length}`);
    });
    await using proxy = await startProxy({
      clusters: { app: [backend.address] },
      fronts: [["d.test", "", "app"], ["127.0.0.1", "", "app"]],
      directReads,
    });
    const [stats] = (await proxy.dp.stats()) as { directReads: boolean }[];
    assert.equal(stats!.directReads, directReads, "the switch reached the worker");
    const body = "x".repeat(20_000);
    const answer = await rawExchange(
      proxy.port,
      `GET / HTTP/1.1\r\nHost: d.test\r\n\r\n` +
        `POST / HTTP/1.1\r\nHost: d.test\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
        `GET / HTTP/1.1\r\nHost: d.test\r\nConnection: close\r\n\r\n`,
    );
    assert.deepEqual(statusLines(answer), ["200", "200", "200"]);
    assert.match(answer, /GET 0[\s\S]*POST 20000[\s\S]*GET 0/);
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send("hi");
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error("websocket failed"));
    });
    ws.close();
    assert.equal(echoed, "echo hi");
  });
}

Deno.test("sozu direct_reads: on by default, false accepted, anything else refused naming it", () => {
  assert.equal(sozuConfigSchema().parse({}).direct_reads, true);
  assert.equal(sozuConfigSchema().parse({ direct_reads: false }).direct_reads, false);
  assert.throws(() => sozuConfigSchema().parse({ direct_reads: "no" }), /direct_reads/);
});
