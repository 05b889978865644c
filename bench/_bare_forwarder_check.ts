/**
 * A short check that `_bare_forwarder.ts` keeps no descriptor per request when its backend closes
 * (`deno run -P=agent bench/_bare_forwarder_check.ts [requests]`): a backend that answers every
 * request with `Connection: close` and closes, a burst of `Connection: close` requests (each on a
 * new client connection) and then as many on one keep-alive client connection; the forwarder's
 * open descriptors are counted before and after. Exits 1 when they grew or a request went
 * unanswered.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const enc = new TextEncoder();
const dec = new TextDecoder();
const BODY = "hello";
const RESPONSE = enc.encode(
  `HTTP/1.1 200 OK\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`,
);

/** Reads from `conn` until `done(text so far)` or the peer closes; returns the text. */
async function readUntil(conn: Deno.Conn, done: (text: string) => boolean): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (!done(text)) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
  }
  return text;
}

/** The backend: one response per connection, then it closes (as under `Connection: close`). */
async function serveBackend(listener: Deno.Listener): Promise<void> {
  for await (const conn of listener) {
    (async () => {
      try {
        await readUntil(conn, (t) => t.includes("\r\n\r\n"));
        await conn.write(RESPONSE);
      } catch {
        // the forwarder went away
      } finally {
        conn.close();
      }
    })();
  }
}

/** Open descriptors of `pid` (via `ls`: Deno reads nothing under /proc without -A). */
async function openFds(pid: number): Promise<number> {
  const out = await new Deno.Command("ls", { args: [`/proc/${pid}/fd`], stdout: "piped" }).output();
  return dec.decode(out.stdout).split("\n").filter((l) => l !== "").length;
}

const complete = (t: string) => t.endsWith(BODY);

/** `count` requests, each on its own connection with `Connection: close`; returns the answered. */
async function closeBurst(port: number, count: number, concurrency = 16): Promise<number> {
  let next = 0;
  let answered = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        if (complete(await readUntil(conn, complete))) answered++;
      } finally {
        conn.close();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return answered;
}

/** `count` requests on one keep-alive connection (the backend still closes after each). */
async function keepAliveRun(port: number, count: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let answered = 0;
  try {
    for (let i = 0; i < count; i++) {
      await conn.write(enc.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      if (!complete(await readUntil(conn, complete))) break;
      answered++;
    }
  } catch {
    // the forwarder closed the client connection: counted as unanswered
  } finally {
    conn.close();
  }
  return answered;
}

/** Waits for the forwarder's "ready" line, then lets the rest of its output drain. */
async function waitReady(stdout: ReadableStream<Uint8Array>): Promise<void> {
  const reader = stdout.getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { done, value } = await reader.read();
    if (done) throw new Error("the forwarder exited before it was ready");
    text += dec.decode(value);
  }
  reader.releaseLock();
  stdout.pipeTo(new WritableStream()).catch(() => {});
}

const count = Number(Deno.args[0] ?? 2000);
const backend = Deno.listen({ hostname: "127.0.0.1", port: 0 });
serveBackend(backend);
const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = probe.addr.port;
probe.close();
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-q",
    "-P=agent",
    join(HERE, "_bare_forwarder.ts"),
    String(port),
    String(backend.addr.port),
  ],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
let failed = false;
try {
  await waitReady(child.stdout);
  await closeBurst(port, 20);
  const before = await openFds(child.pid);
  const closed = await closeBurst(port, count);
  const kept = await keepAliveRun(port, count);
  // The forwarder may not have seen the last client close yet: give it a moment to settle.
  let after = await openFds(child.pid);
  for (let i = 0; i < 20 && after > before; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    after = await openFds(child.pid);
  }
  console.log(
    `Connection: close burst: ${closed}/${count} answered; one keep-alive client: ${kept}/${count}` +
      ` answered; forwarder fds before ${before}, after ${after}`,
  );
  failed = after > before || closed < count || kept < count;
} finally {
  child.kill("SIGTERM");
  await child.status;
  backend.close();
}
if (failed) {
  console.error("FAIL: the forwarder kept descriptors or dropped requests");
  Deno.exit(1);
}
console.log("ok");
