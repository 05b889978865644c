/**
 * Bodies are streamed, not buffered: a 200 MB upload (Content-Length and chunked) and a 200 MB
 * download pass through the proxy while this process's RSS (proxy worker, client and backend all
 * live here) grows by far less than the body.
 */
import assert from "node:assert/strict";
import { freePort } from "../_helpers/mod.ts";
import { startProxy } from "./_helpers.ts";

const SIZE = 200 * 1024 * 1024;
const BOUND = 80 * 1024 * 1024;

/** A raw backend that counts the body bytes of one request and answers with the count. */
function countingBackend(): { address: string } & AsyncDisposable {
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const serving = (async () => {
    for await (const conn of listener) {
      (async () => {
        const buf = new Uint8Array(256 * 1024);
        let head = "";
        let total = 0;
        let expected = -1;
        let tail = "";
        try {
          while (true) {
            const n = await conn.read(buf);
            if (n === null) return;
            let from = 0;
            if (expected === -1 && !head.includes("\r\n\r\n")) {
              head += new TextDecoder().decode(buf.subarray(0, n));
              const end = head.indexOf("\r\n\r\n");
              if (end < 0) continue;
              const cl = /content-length: (\d+)/i.exec(head.slice(0, end));
              expected = cl ? Number(cl[1]) : -2;
              from = n - (head.length - end - 4);
            }
            total += n - from;
            tail = (tail + new TextDecoder().decode(buf.subarray(Math.max(from, n - 8), n)))
              .slice(-8);
            if (
              (expected >= 0 && total >= expected) ||
              (expected === -2 && tail.endsWith("0\r\n\r\n"))
            ) {
              const body = String(total);
              await conn.write(
                new TextEncoder().encode(
                  `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
                ),
              );
              return;
            }
          }
        } catch {
          // closed
        } finally {
          conn.close();
        }
      })();
    }
  })().catch(() => {});
  return {
    address: `127.0.0.1:${port}`,
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving;
    },
  };
}

async function readAll(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(65536);
  let text = "";
  while (true) {
    const n = await conn.read(buf);
    if (n === null) return text;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

async function upload(port: number, chunked: boolean): Promise<{ answer: string; peak: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const base = Deno.memoryUsage().rss;
  let peak = 0;
  const sample = () => {
    peak = Math.max(peak, Deno.memoryUsage().rss - base);
  };
  const timer = setInterval(sample, 20);
  try {
    const head = chunked
      ? "POST /up HTTP/1.1\r\nHost: up.test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
      : `POST /up HTTP/1.1\r\nHost: up.test\r\nConnection: close\r\nContent-Length: ${SIZE}\r\n\r\n`;
    await conn.write(new TextEncoder().encode(head));
    const piece = new Uint8Array(256 * 1024).fill(97);
    const framed = chunked
      ? new Uint8Array([
        ...new TextEncoder().encode(`${piece.length.toString(16)}\r\n`),
        ...piece,
        13,
        10,
      ])
      : piece;
    const reading = readAll(conn);
    for (let sent = 0; sent < SIZE; sent += piece.length) {
      let off = 0;
      while (off < framed.length) off += await conn.write(framed.subarray(off));
    }
    if (chunked) await conn.write(new TextEncoder().encode("0\r\n\r\n"));
    const answer = await reading;
    sample();
    return { answer, peak };
  } finally {
    clearInterval(timer);
    conn.close();
  }
}

Deno.test("a 200 MB upload streams through with bounded memory (Content-Length)", async () => {
  await using backend = countingBackend();
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["up.test", "", "app"]],
  });
  const { answer, peak } = await upload(proxy.port, false);
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(answer.endsWith(`\r\n\r\n${SIZE}`), answer.slice(-40));
  assert.ok(peak < BOUND, `RSS grew by ${(peak / 1048576).toFixed(1)} MB`);
});

Deno.test("a 200 MB chunked upload streams through with bounded memory", async () => {
  await using backend = countingBackend();
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["up.test", "", "app"]],
  });
  const { answer, peak } = await upload(proxy.port, true);
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  const chunks = SIZE / (256 * 1024);
  const framedSize = SIZE + chunks * (5 + 2 + 2) + 5; // "40000\r\n" + data + "\r\n", "0\r\n\r\n"
  assert.ok(answer.endsWith(`\r\n\r\n${framedSize}`), answer.slice(-40));
  assert.ok(peak < BOUND, `RSS grew by ${(peak / 1048576).toFixed(1)} MB`);
});

Deno.test("a 200 MB download streams through with bounded memory", async () => {
  const piece = new Uint8Array(256 * 1024).fill(98);
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const serving = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    await conn.read(buf);
    await conn.write(
      new TextEncoder().encode(`HTTP/1.1 200 OK\r\nContent-Length: ${SIZE}\r\n\r\n`),
    );
    try {
      for (let sent = 0; sent < SIZE; sent += piece.length) {
        let off = 0;
        while (off < piece.length) off += await conn.write(piece.subarray(off));
      }
    } finally {
      conn.close();
    }
  })();
  try {
    await using proxy = await startProxy({
      clusters: { app: [`127.0.0.1:${port}`] },
      fronts: [["down.test", "", "app"]],
    });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    const base = Deno.memoryUsage().rss;
    let peak = 0;
    let total = 0;
    try {
      await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: down.test\r\n\r\n"));
      const buf = new Uint8Array(256 * 1024);
      let headDone = false;
      while (total < SIZE) {
        const n = await conn.read(buf);
        if (n === null) break;
        let body = n;
        if (!headDone) {
          const text = new TextDecoder().decode(buf.subarray(0, Math.min(n, 1024)));
          const end = text.indexOf("\r\n\r\n");
          assert.ok(end > 0);
          headDone = true;
          body = n - end - 4;
        }
        total += body;
        if ((total & 0xfffff) < body) peak = Math.max(peak, Deno.memoryUsage().rss - base);
      }
    } finally {
      conn.close();
    }
    assert.equal(total, SIZE);
    assert.ok(peak < BOUND, `RSS grew by ${(peak / 1048576).toFixed(1)} MB`);
  } finally {
    await serving.catch(() => {});
    listener.close();
  }
});
