import assert from "node:assert/strict";
import { join } from "node:path";
import { agentSection, freePort, polyagent, ROOT, spawnAgent, tempDir } from "../_helpers/mod.ts";
import { plainServeArgs } from "../../lib/cli/mod.ts";

Deno.test("polyagent --help lists the commands", async () => {
  const r = await polyagent(["--help"]);
  assert.equal(r.code, 0);
  for (const cmd of ["serve", "config", "version", "ctl"]) {
    assert.match(r.stdout, new RegExp(`^  ${cmd}\\b`, "m"));
  }
});

Deno.test("polyagent <command> --help describes the command", async () => {
  const r = await polyagent(["serve", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: polyagent serve/);
  assert.match(r.stdout, /--config <file>/);
  assert.match(r.stdout, /--set <section.key=value>/);
  const c = await polyagent(["config", "check", "--help"]);
  assert.equal(c.code, 0);
  assert.match(c.stdout, /Usage: polyagent config check \[options\] \[file\]/);
});

Deno.test("polyagent with an unknown command or option exits 2", async () => {
  assert.equal((await polyagent(["frobnicate"])).code, 2);
  assert.equal((await polyagent(["serve", "--nope"])).code, 2);
});

Deno.test("polyagent version names polyagent, deno, the target and the services", async () => {
  const r = await polyagent(["version"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^polyagent \d+\.\d+\.\d+$/m);
  assert.match(r.stdout, /^deno \d+\.\d+\.\d+/m);
  assert.match(r.stdout, new RegExp(`^target ${Deno.build.target}$`, "m"));
  assert.match(r.stdout, /^services admin, cryptoded, sozu, intervirt, masq, quix$/m);
});

Deno.test("polyagent config check exits 2 with one message naming the key, no stack trace", async () => {
  await using dir = await tempDir("cli");
  const file = join(dir.path, "bad.toml");
  await Deno.writeTextFile(file, "[admin]\nlisten = 9150\n");
  const r = await polyagent(["config", "check", file]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.trim(),
    `polyagent: ${file}: admin.listen: expected an address "host:port", got 9150`,
  );
  assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/);
  const ok = await polyagent(["config", "check", join(ROOT, "config/dev.toml")]);
  assert.equal(ok.code, 0);
  assert.match(ok.stdout, /dev\.toml: ok/);
});

Deno.test("polyagent config print shows the effective config with --set applied", async () => {
  const r = await polyagent([
    "config",
    "print",
    "--config",
    join(ROOT, "config/dev.toml"),
    "--set",
    "admin.listen=127.0.0.1:9999",
  ]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^\[admin\]\nenabled = true\nlisten = "127\.0\.0\.1:9999"$/m);
  assert.match(r.stdout, /^shutdown_timeout_ms = 2000$/m);
});

Deno.test("polyagent serve prints its listeners and exits 0 within 2 s of SIGTERM", async () => {
  await using dir = await tempDir("cli");
  const port = freePort();
  const config = join(dir.path, "agent.toml");
  await Deno.writeTextFile(
    config,
    agentSection(dir.path) +
      `[admin]\nlisten = "127.0.0.1:${port}"\n`,
  );
  await using agent = spawnAgent({ args: ["serve", "--config", config] });
  const line = await agent.waitForLine(/^admin /);
  assert.equal(line, `admin      http://127.0.0.1:${port}`);
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const t0 = performance.now();
  const status = await agent.stop("SIGTERM");
  const elapsed = performance.now() - t0;
  assert.equal(status.code, 0, agent.stderr());
  assert.ok(elapsed < 2000, `stopped in ${elapsed} ms`);
  assert.match(agent.stderr(), /"msg":"stopped"/);
});

Deno.test("polyagent serve with a bad config exits 2", async () => {
  const r = await polyagent(["serve", "--set", "agent.log_level=loud"]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /agent\.log_level: expected one of "debug", "info", "warn", "error", got "loud"/,
  );
});

Deno.test("plainServeArgs() takes only a plain serve; anything else is left to commander", () => {
  assert.deepEqual(plainServeArgs(["serve"]), { config: undefined, sets: [] });
  assert.deepEqual(
    plainServeArgs(["serve", "-c", "a.toml", "--set", "x.y=1", "--set=x.z=2", "--config=b.toml"]),
    { config: "b.toml", sets: ["x.y=1", "x.z=2"] },
  );
  for (
    const argv of [
      ["serve", "--help"],
      ["serve", "-h"],
      ["serve", "--config"],
      ["serve", "--config", "--set"],
      ["serve", "--verbose"],
      ["serve", "extra"],
      ["config", "print"],
      [],
    ]
  ) assert.equal(plainServeArgs(argv), null, argv.join(" "));
});
