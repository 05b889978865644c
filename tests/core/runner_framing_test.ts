import assert from "node:assert/strict";
import {
  CommandError,
  type CommandRunner,
  DelimitedFramer,
  lineFramer,
  nulFramer,
  runCommand,
  withDefaults,
} from "../../lib/core/mod.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("nulFramer() splits frames across chunk boundaries", () => {
  const f = nulFramer(100);
  assert.deepEqual(f.push(enc('{"a"')), []);
  const events = f.push(enc(':1}\0{"b":2}\0{"c"'));
  assert.deepEqual(events.map((e) => e.kind === "frame" ? dec(e.data) : e.kind), [
    '{"a":1}',
    '{"b":2}',
  ]);
  assert.equal(f.buffered, 4);
});

Deno.test("DelimitedFramer reports an oversized frame once and stays usable", () => {
  const f = new DelimitedFramer({ delimiter: 0, maxFrame: 10 });
  const events = [
    ...f.push(enc("x".repeat(8))),
    ...f.push(enc("y".repeat(30))),
    ...f.push(enc("zz\0ok\0")),
  ];
  assert.deepEqual(events.map((e) => e.kind === "frame" ? dec(e.data) : `${e.kind}:${e.size}`), [
    "oversized:40",
    "ok",
  ]);
});

Deno.test("lineFramer() strips CR and skips empty lines", () => {
  const f = lineFramer(100);
  const events = f.push(enc("a\r\n\nb\n"));
  assert.deepEqual(events.map((e) => e.kind === "frame" ? dec(e.data) : e.kind), ["a", "b"]);
});

Deno.test("runCommand() captures output and exit status", async () => {
  const r = await runCommand(["sh", "-c", "echo out; echo err >&2; exit 3"], { check: false });
  assert.equal(r.code, 3);
  assert.equal(r.stdout, "out\n");
  assert.equal(r.stderr, "err\n");
});

Deno.test("runCommand() throws CommandError with argv, status and stderr tail", async () => {
  const error = await runCommand(["sh", "-c", "echo bad thing >&2; exit 2"]).catch((e) => e);
  assert.ok(error instanceof CommandError);
  assert.equal(error.code, 2);
  assert.deepEqual(error.argv, ["sh", "-c", "echo bad thing >&2; exit 2"]);
  assert.match(error.stderrTail, /bad thing/);
  assert.match(error.message, /status 2/);
});

Deno.test("runCommand() kills the whole process group on timeout", async () => {
  const t0 = performance.now();
  // The grandchild would keep stdout open for 30 s if only the direct child were killed.
  const error = await runCommand(["sh", "-c", "sleep 30 & sleep 30"], { timeoutMs: 200 }).catch((
    e,
  ) => e);
  assert.ok(error instanceof CommandError);
  assert.equal(error.timedOut, true);
  assert.ok(performance.now() - t0 < 5000, "returned promptly");
});

Deno.test("runCommand() caps captured output", async () => {
  const r = await runCommand(["head", "-c", "100000", "/dev/zero"], { maxOutput: 1000 });
  assert.equal(r.stdout.length, 1000);
});

Deno.test("runCommand() reports a missing program as CommandError", async () => {
  const error = await runCommand(["/nonexistent/prog"]).catch((e) => e);
  assert.ok(error instanceof CommandError);
  assert.match(error.message, /Cannot run/);
});

Deno.test("runCommand() without a process group still kills the command on timeout", async () => {
  const error = await runCommand(["sleep", "30"], { timeoutMs: 100, processGroup: false }).catch((
    e,
  ) => e);
  assert.ok(error instanceof CommandError);
  assert.equal(error.timedOut, true);
});

Deno.test("withDefaults() lets each call's options win over the defaults", async () => {
  const seen: unknown[] = [];
  const fake: CommandRunner = (argv, options) => {
    seen.push(options);
    return Promise.resolve({
      argv,
      code: 0,
      signal: null,
      stdout: "",
      stderr: "",
      timedOut: false,
      durationMs: 0,
    });
  };
  const runner = withDefaults(fake, { processGroup: false, timeoutMs: 5 });
  await runner(["x"], { timeoutMs: 9 });
  assert.deepEqual(seen, [{ processGroup: false, timeoutMs: 9 }]);
});
