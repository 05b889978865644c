/**
 * What the unit install.sh writes does, without systemd (PID 1 here is not systemd): the
 * installed launcher started as `ExecStart=` starts it, `ExecReload=` (`polyagent upgrade`)
 * replaces the agent through the launcher, and the pid file `PIDFile=` reads names the successor.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT, sh, tempDir, waitFor } from "../_helpers/mod.ts";
import { alive, healthz, stopPid, writeWorld } from "./_agent.ts";

Deno.test("the installed launcher: ExecStart, then ExecReload upgrades and PIDFile follows", async () => {
  await using dir = await tempDir("upgrade-unit");
  const root = join(dir.path, "root");
  await sh(["bash", join(ROOT, "scripts/install.sh"), "--root", root, "--launcher"]);
  const launcher = join(root, "usr/local/bin/polyagent");
  const unit = await Deno.readTextFile(join(root, "etc/systemd/system/polyagent.service"));
  const world = await writeWorld(dir.path);
  const pidFile = join(dir.path, "run", "unit.pid");
  // the unit's command lines, with this test's config and pid file
  const execStart = /^ExecStart=\S+ (.*)$/m.exec(unit)![1]!.split(" ")
    .map((a) => a.replace("/etc/polyagent/polyagent.toml", world.config))
    .map((a) => a.replace("/run/polyagent/polyagent.pid", pidFile));
  const execReload = /^ExecReload=\S+ (.*)$/m.exec(unit)![1]!.split(" ")
    .map((a) => a.replace("/etc/polyagent/polyagent.toml", world.config));
  const main = new Deno.Command(launcher, {
    args: execStart,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  let successor: number | null = null;
  try {
    const first = await waitFor(async () => {
      const text = await Deno.readTextFile(pidFile).catch(() => "");
      return Number(text.trim()) || null;
    }, { timeoutMs: 30_000, what: "the pid file" });
    assert.equal(first, main.pid, "the launcher execs the agent in place");
    const reload = await sh([launcher, ...execReload], { check: false });
    assert.equal(reload.code, 0, reload.stdout + reload.stderr);
    successor = Number(/launched with pid (\d+)/.exec(reload.stdout)?.[1]);
    assert.equal(Number((await Deno.readTextFile(pidFile)).trim()), successor);
    assert.equal((await main.status).code, 0);
    assert.equal((await healthz(world) as { agent: { pid: number } }).agent.pid, successor);
    // the successor runs with the same arguments (the pid file included)
    const cmdline = await sh(["cat", `/proc/${successor}/cmdline`]);
    const argv = cmdline.stdout.split("\0");
    assert.ok(argv.includes("--set") && argv.includes(`agent.pid_file=${pidFile}`), argv.join(" "));
  } finally {
    if (successor) await stopPid(successor);
    if (alive(main.pid)) main.kill("SIGKILL");
    await main.status;
  }
});
