/**
 * connectUnix waits like a blocking connect(2): while a listener's accept queue is full, Deno's
 * own connect fails at once with WouldBlock (EAGAIN) — which made the sozu command socket look
 * dead to a normal client right after a crowd of 2,000 connected in a burst — and connectUnix
 * instead gets through once the listener accepts again.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../_helpers/mod.ts";
import { connectUnix } from "../../lib/core/mod.ts";

Deno.test("connectUnix waits for room in a full accept queue instead of failing", async () => {
  await using dir = await tempDir("unix-connect");
  const path = join(dir.path, "s.sock");
  const listener = Deno.listen({ transport: "unix", path });
  const queued: Deno.Conn[] = [];
  try {
    // nobody accepts yet: fill the queue until the kernel refuses
    let refused: unknown = null;
    while (refused === null && queued.length < 10_000) {
      await Deno.connect({ transport: "unix", path }).then((c) => queued.push(c), (e) => {
        refused = e;
      });
    }
    assert.ok(refused instanceof Deno.errors.WouldBlock, `a plain connect failed: ${refused}`);
    const waiting = connectUnix(path, 60_000);
    let settled = false;
    void waiting.then(() => settled = true, () => settled = true);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(settled, false, "connectUnix waits while the queue is full");
    // the listener accepts again: the waiting client gets through and is served
    const accepted: Deno.Conn[] = [];
    const total = queued.length + 1;
    const accepting = (async () => {
      while (accepted.length < total) accepted.push(await listener.accept());
    })();
    const conn = await waiting;
    queued.push(conn);
    await accepting;
    await accepted.at(-1)!.write(new TextEncoder().encode("hi"));
    const buf = new Uint8Array(2);
    assert.equal(await conn.read(buf), 2);
    assert.equal(new TextDecoder().decode(buf), "hi");
    for (const c of accepted) c.close();
  } finally {
    for (const c of queued) c.close();
    listener.close();
  }
});

Deno.test("connectUnix throws at once when nobody listens", async () => {
  await using dir = await tempDir("unix-connect");
  await assert.rejects(connectUnix(join(dir.path, "absent.sock"), 60_000), Deno.errors.NotFound);
});
