/**
 * Helpers of the sozu 0.14 / router / import tests: one raw HTTP/1.1 request with any method, and
 * order senders that can name a worker (`worker_id`).
 */
import assert from "node:assert/strict";
import type { CommandResponse, SozuClient } from "../../lib/protocols/sozu/mod.ts";

/** One request on a new connection: the status and body, or null when the proxy closed. */
export async function request(
  port: number,
  host: string,
  path = "/",
  method = "GET",
): Promise<{ status: number; body: string } | null> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(
        `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
      ),
    );
    let text = "";
    const buf = new Uint8Array(16384);
    const decoder = new TextDecoder();
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        break;
      }
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
    if (text === "") return null;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
    return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    try {
      conn.close();
    } catch {
      // closed
    }
  }
}

/** Sends a PROXY order (optionally to one worker); the reply. */
export function order(
  c: SozuClient,
  type: string,
  data?: unknown,
  workerId?: number,
): Promise<CommandResponse> {
  return c.request(
    {
      type: "PROXY",
      data: { type, data },
      ...(workerId === undefined ? {} : { worker_id: workerId }),
    },
    { timeoutMs: 15_000 },
  );
}

/** Sends a PROXY order and asserts OK. */
export async function ok(
  c: SozuClient,
  type: string,
  data?: unknown,
  workerId?: number,
): Promise<CommandResponse> {
  const r = await order(c, type, data, workerId);
  assert.equal(r.status, "OK", `${type}: ${r.message}`);
  return r;
}

/** Sends a top-level command and asserts OK. */
export async function command(c: SozuClient, type: string, data?: unknown) {
  const r = await c.request({ type, ...(data === undefined ? {} : { data }) }, {
    timeoutMs: 15_000,
  });
  assert.equal(r.status, "OK", `${type}: ${r.message}`);
  return r;
}
