import assert from "node:assert/strict";
import { defaultAccountSpec, resolveAccount, silentLogger } from "../../lib/core/mod.ts";
import { parseNetTable, rotateIfNeeded } from "../../lib/backends/processes/mod.ts";
import { decodeWaitStatus, parseStat } from "../../lib/backends/procfs/mod.ts";
import {
  answerQuixRequest,
  backoffDelay,
  buildQuixHandlers,
  type Frame,
  type QuixOperations,
  ResentRequests,
} from "../../lib/protocols/quix/mod.ts";
import { tempDir } from "../_helpers/mod.ts";

Deno.test("parseStat() reads fields after a comm with spaces and parentheses", () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i));
  fields[0] = "S";
  fields[11] = "7";
  fields[12] = "3";
  fields[19] = "12345";
  fields[21] = "250";
  const s = parseStat(`42 (my (odd) proc) ${fields.join(" ")}\n`)!;
  assert.equal(s.pid, 42);
  assert.equal(s.comm, "my (odd) proc");
  assert.equal(s.state, "S");
  assert.equal(s.cpuTicks, 10);
  assert.equal(s.startTime, 12345);
  assert.equal(s.rssPages, 250);
  assert.deepEqual(decodeWaitStatus(3 << 8), { code: 3, signal: null });
  assert.deepEqual(decodeWaitStatus(9), { code: null, signal: "SIGKILL" });
});

Deno.test("parseNetTable() keeps listening TCP and bound UDP sockets", () => {
  const tcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1\n" +
    "   1: 0100007F:1F91 0100007F:D000 01 00000000:00000000 00:00000000 00000000     0        0 2222 1\n";
  const out = new Map<number, number>();
  parseNetTable(tcp, "0A", out);
  assert.deepEqual([...out], [[1111, 8080]]);
});

Deno.test("resolveAccount() reads passwd/group and numeric specs", () => {
  const passwd =
    "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n";
  const group = "root:x:0:\nnogroup:x:65534:\nstaff:x:50:\n";
  assert.deepEqual(resolveAccount("nobody", { passwd, group }), {
    name: "nobody",
    uid: 65534,
    gid: 65534,
    home: "/nonexistent",
  });
  assert.equal(resolveAccount("nobody:staff", { passwd, group }).gid, 50);
  assert.deepEqual(resolveAccount("1000:1000", { passwd, group }), {
    name: "1000",
    uid: 1000,
    gid: 1000,
    home: "/",
  });
  assert.equal(resolveAccount("65534", { passwd, group }).name, "nobody");
  assert.throws(() => resolveAccount("../etc", { passwd, group }));
  assert.throws(() => resolveAccount("ghost", { passwd, group }));
});

Deno.test("defaultAccountSpec(): agent.user, else the polyagent account when it exists, else nobody", () => {
  const passwd =
    "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n";
  assert.equal(defaultAccountSpec("www-data", { passwd }), "www-data");
  assert.equal(defaultAccountSpec("", { passwd }), "nobody");
  const withOwn = passwd + "polyagent:x:998:998::/nonexistent:/usr/sbin/nologin\n";
  assert.equal(defaultAccountSpec("", { passwd: withOwn }), "polyagent");
});

Deno.test("rotateIfNeeded() copies then truncates, keeping N generations", async () => {
  await using dir = await tempDir("pqx-rot");
  const path = `${dir.path}/p.log`;
  // An O_APPEND writer, as a child holds it: writes after truncation land at the new start.
  const writer = await Deno.open(path, { append: true, create: true });
  await writer.write(new TextEncoder().encode("a".repeat(200)));
  assert.equal(await rotateIfNeeded(path, { maxBytes: 100, keep: 2 }), true);
  await writer.write(new TextEncoder().encode("b".repeat(150)));
  assert.equal(await rotateIfNeeded(path, { maxBytes: 100, keep: 2 }), true);
  await writer.write(new TextEncoder().encode("c".repeat(150)));
  assert.equal(await rotateIfNeeded(path, { maxBytes: 100, keep: 2 }), true);
  await writer.write(new TextEncoder().encode("d"));
  writer.close();
  assert.equal(await Deno.readTextFile(path), "d");
  assert.equal(await Deno.readTextFile(`${path}.1`), "c".repeat(150));
  assert.equal(await Deno.readTextFile(`${path}.2`), "b".repeat(150));
  await assert.rejects(() => Deno.stat(`${path}.3`));
  assert.equal(await rotateIfNeeded(path, { maxBytes: 100, keep: 2 }), false);
});

Deno.test("backoffDelay() grows exponentially with jitter and stays under the cap", () => {
  assert.equal(backoffDelay(0, 1000, 60_000, () => 0), 500);
  assert.equal(backoffDelay(0, 1000, 60_000, () => 1), 1000);
  assert.equal(backoffDelay(3, 1000, 60_000, () => 1), 8000);
  assert.equal(backoffDelay(30, 1000, 60_000, () => 1), 60_000);
  assert.ok(backoffDelay(30, 1000, 60_000, () => 0) >= 30_000);
});

const idleOperations: QuixOperations = {
  execute: () => Promise.resolve({ pid: 1 }),
  viewRunning: () => Promise.resolve([]),
  signal: () => Promise.resolve(),
  telemetry: () => Promise.resolve({}),
};

Deno.test("the quix handler table fails loudly on a duplicate", () => {
  const table = buildQuixHandlers(idleOperations);
  const entry = { handler: () => Promise.resolve(1), mutating: false };
  assert.throws(() => table.register("execute", entry), /Duplicate quix request handler/);
});

Deno.test("answerQuixRequest() answers a resent state-changing request without running it twice", async () => {
  let runs = 0;
  const table = buildQuixHandlers({
    execute: () => {
      runs++;
      return new Promise((r) => setTimeout(() => r({ pid: 100 + runs }), 20));
    },
    viewRunning: () => Promise.resolve([]),
    signal: () => Promise.resolve(),
    telemetry: () => Promise.resolve({}),
  });
  const log = silentLogger();
  const resent = new ResentRequests({ log });
  const d = { handle: (f: Frame) => answerQuixRequest(f, table, resent, log) };
  const frame = { req: "execute", rid: 7, msg: { cmd: ["sleep", "1"] } };
  const [a, b] = await Promise.all([d.handle(frame), d.handle(frame)]);
  assert.deepEqual(a, { rid: 7, msg: { result: "success", proc_id: 101 } });
  assert.deepEqual(b, a);
  const c = await d.handle({ ...frame, msg: { cmd: ["sleep", "2"] } });
  assert.deepEqual(c.msg, { result: "success", proc_id: 102 });
  assert.equal(runs, 2);
  const unknown = await d.handle({ req: "nope", rid: 1 });
  assert.equal((unknown.msg as { reason: string }).reason, "unknown_request");
});
