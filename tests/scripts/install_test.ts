import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, ROOT, sh, tempDir } from "../_helpers/mod.ts";

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test("install.sh --root installs a launcher, config, dirs and a systemd unit, idempotently", async () => {
  await using dir = await tempDir("install");
  const root = dir.path;
  // --launcher: the checkout may hold a dist/ build, which install.sh would otherwise prefer.
  const install = ["bash", join(ROOT, "scripts/install.sh"), "--root", root, "--launcher"];
  await sh([...install, "--init", "systemd"]);

  const bin = join(root, "usr/local/bin/polyagent");
  assert.equal(await mode(bin), 0o755);
  assert.match(
    await Deno.readTextFile(bin),
    /-P=agent --v8-flags=\S+ --no-code-cache --config ".*\/deno\.json" ".*\/main\.ts"/,
  );
  const version = await sh([bin, "version"]);
  assert.match(version.stdout, /^polyagent \d+\.\d+\.\d+$/m);

  const config = join(root, "etc/polyagent/polyagent.toml");
  assert.equal(await mode(config), 0o640);
  const check = await sh([bin, "config", "check", config]);
  assert.match(check.stdout, /: ok$/m);

  // 0751: the account children run as can reach its folders below (quix work, masq data).
  assert.equal(await mode(join(root, "var/lib/polyagent")), 0o751);
  assert.equal(await mode(join(root, "var/log/polyagent")), 0o750);
  assert.equal(await mode(join(root, "run/polyagent")), 0o755);

  const unit = await Deno.readTextFile(join(root, "etc/systemd/system/polyagent.service"));
  assert.match(
    unit,
    /^ExecStart=\/usr\/local\/bin\/polyagent serve --config \/etc\/polyagent\/polyagent\.toml --set agent\.pid_file=\/run\/polyagent\/polyagent\.pid$/m,
  );
  assert.match(unit, /^KillSignal=SIGTERM$/m);
  assert.match(unit, /^StateDirectoryMode=0751$/m);
  // reload is the zero-downtime upgrade; the successor becomes the main process via PIDFile, and
  // what the agent manages survives a restart (only the agent is signalled)
  assert.match(
    unit,
    /^ExecReload=\/usr\/local\/bin\/polyagent upgrade --config \/etc\/polyagent\/polyagent\.toml$/m,
  );
  assert.match(unit, /^PIDFile=\/run\/polyagent\/polyagent\.pid$/m);
  assert.match(unit, /^KillMode=process$/m);
  assert.match(
    await Deno.readTextFile(bin),
    /^export POLYAGENT_LAUNCHER="\$0"$/m,
  );

  // A second run keeps an operator's config and leaves no temp files.
  await Deno.writeTextFile(config, "# edited by the operator\n");
  const again = await sh([...install, "--init", "systemd"]);
  assert.match(again.stdout, /kept the existing \/etc\/polyagent\/polyagent\.toml/);
  assert.equal(await Deno.readTextFile(config), "# edited by the operator\n");
  const leftovers = (await sh(["find", root, "-name", ".*.new"])).stdout.trim();
  assert.equal(leftovers, "");
});

Deno.test("install.sh installs a given binary and an OpenRC script with another prefix", async () => {
  await using dir = await tempDir("install");
  const fake = join(dir.path, "polyagent-bin");
  await Deno.writeTextFile(fake, "#!/bin/sh\necho fake polyagent\n");
  await Deno.chmod(fake, 0o755);
  const root = join(dir.path, "root");
  await sh([
    "bash",
    join(ROOT, "scripts/install.sh"),
    "--root",
    root,
    "--prefix",
    "/opt/polyagent",
    "--binary",
    fake,
    "--init",
    "openrc",
  ]);
  assert.equal((await sh([join(root, "opt/polyagent/bin/polyagent")])).stdout, "fake polyagent\n");
  assert.ok((await Deno.stat(join(root, "opt/polyagent/etc/polyagent/polyagent.toml"))).isFile);
  const rc = await Deno.readTextFile(join(root, "etc/init.d/polyagent"));
  assert.match(rc, /^#!\/sbin\/openrc-run$/m);
  assert.match(
    rc,
    /^command_args="serve --config \/opt\/polyagent\/etc\/polyagent\/polyagent\.toml --set agent\.pid_file=\/run\/polyagent\.pid"$/m,
  );
  assert.match(rc, /^extra_started_commands="reload"$/m);
  assert.match(rc, /^ {2}"\/opt\/polyagent\/bin\/polyagent" upgrade --config \S+$/m);
  assert.match(rc, /^rc_cgroup_cleanup="no"$/m);
  assert.equal((await sh(["bash", "-n", join(root, "etc/init.d/polyagent")])).code, 0);
  assert.equal(await mode(join(root, "etc/init.d/polyagent")), 0o755);
});

Deno.test("install.sh refuses unknown or conflicting arguments with status 2", async () => {
  await using dir = await tempDir("install");
  const script = join(ROOT, "scripts/install.sh");
  for (const args of [["--frob"], ["--binary", "/bin/true", "--launcher"]]) {
    // --root first: were the refusal to come late, nothing would land outside the temp dir.
    const r = await sh(["bash", script, "--root", dir.path, ...args], { check: false });
    assert.equal(r.code, 2, args.join(" "));
    assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing installed");
  }
});

backendTest(
  "install.sh creates the polyagent system account (in a private mount namespace)",
  { tools: ["unshare", "useradd", "getent"], root: true },
  async () => {
    await using dir = await tempDir("install-account");
    // The system's /etc, /usr/local, /var/lib, /var/log and /run stay untouched: the install runs
    // in its own mount namespace over a copy of /etc and empty tmpfs folders.
    const script = [
      "set -eu",
      `cp -a /etc/. "${dir.path}/etc/"`,
      `mount --bind "${dir.path}/etc" /etc`,
      "for d in /usr/local /var/lib /var/log /run; do mount -t tmpfs tmpfs $d; done",
      "getent passwd polyagent && exit 3",
      `bash "${ROOT}/scripts/install.sh" --launcher --init systemd`,
      `bash "${ROOT}/scripts/install.sh" --launcher --init systemd`,
      "getent passwd polyagent",
      "stat -c '%a %U' /var/lib/polyagent",
    ].join("\n");
    await Deno.mkdir(join(dir.path, "etc"));
    const out = await sh(["unshare", "-m", "--propagation", "private", "bash", "-c", script]);
    const lines = out.stdout.trim().split("\n");
    assert.equal(lines.filter((l) => l.includes("created the system account polyagent")).length, 1);
    assert.match(lines.at(-2)!, /^polyagent:x:\d+:\d+:[^:]*:\/nonexistent:\/usr\/sbin\/nologin$/);
    assert.equal(lines.at(-1), "751 root");
  },
);
