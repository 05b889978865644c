import assert from "node:assert/strict";
import { createLogger, readWhole } from "../../lib/core/mod.ts";

Deno.test("createLogger() writes JSON lines naming the service, with fields and errors as text", () => {
  const lines: string[] = [];
  const root = createLogger("agent", { format: "json", level: "info", sink: (l) => lines.push(l) });
  const log = root.child("sozu");
  log.debug("hidden");
  log.info("listener up", { address: "127.0.0.1:80", n: 3n });
  log.error("failed", { error: new Error("outer", { cause: new Error("inner") }) });
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0]!);
  assert.equal(first.service, "sozu");
  assert.equal(first.level, "info");
  assert.equal(first.msg, "listener up");
  assert.equal(first.address, "127.0.0.1:80");
  assert.equal(first.n, "3");
  assert.match(first.ts, /^\d{4}-\d\d-\d\dT/);
  assert.equal(JSON.parse(lines[1]!).error, "outer: inner");
});

Deno.test("setLevel() changes the level of every logger of the root at run time", () => {
  const lines: string[] = [];
  const root = createLogger("agent", { format: "json", level: "info", sink: (l) => lines.push(l) });
  const sozu = root.child("sozu");
  const other = root.child("masq");
  sozu.debug("hidden");
  sozu.setLevel("debug");
  sozu.debug("shown");
  other.debug("shown too");
  assert.ok(root.enabled("debug"));
  other.setLevel("error");
  sozu.warn("hidden");
  root.error("shown");
  assert.deepEqual(lines.map((l) => JSON.parse(l).msg), ["shown", "shown too", "shown"]);
});

Deno.test("createLogger() text format is readable and names the service", () => {
  const lines: string[] = [];
  const log = createLogger("masq", { format: "text", level: "debug", sink: (l) => lines.push(l) });
  log.warn("port taken", { port: 5333, detail: "in use" });
  const esc = String.fromCharCode(27);
  const plain = lines[0]!.replaceAll(esc, "<ESC>");
  assert.match(
    plain,
    /^\d\d:\d\d:\d\d\.\d{3} <ESC>\[33mWARN <ESC>\[0m \[masq\] port taken port=5333 detail="in use"$/,
  );
  assert.equal(log.enabled("debug"), true);
});

Deno.test("readWhole() reads one message per connection and refuses an oversized one", async () => {
  const chunks = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])];
  const reader = (list: Uint8Array[]) => ({
    read(p: Uint8Array): Promise<number | null> {
      const next = list.shift();
      if (!next) return Promise.resolve(null);
      p.set(next);
      return Promise.resolve(next.length);
    },
  });
  const ok = await readWhole(reader([...chunks]), 10);
  assert.deepEqual(ok, { kind: "message", data: new Uint8Array([1, 2, 3, 4, 5]) });
  const big = await readWhole(reader([...chunks]), 4);
  assert.equal(big.kind, "oversized");
  const line = await readWhole(reader([new Uint8Array([65, 10]), new Uint8Array([66])]), 10, {
    until: 10,
  });
  assert.deepEqual(line, { kind: "message", data: new Uint8Array([65, 10]) });
});
