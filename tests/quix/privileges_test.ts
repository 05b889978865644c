/**
 * Least privilege for `execute`: with the agent as root and no `run_as`, commands run as the
 * default unprivileged account (here `nobody`: no `agent.user`, no `polyagent` account), with no
 * supplementary groups, in a work folder that account can reach; root only when `run_as` says so,
 * with a warning; and a work folder out of the account's reach is named at start.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  defaultAccountSpec,
  makeTraversableFolder,
  resolveAccount,
  unreachableFolder,
} from "../../lib/core/mod.ts";
import { backendTest, ROOT, sh, spawnAgent, waitFor, worldTempDir } from "../_helpers/mod.ts";
import { QuixTestServer, type ServerSession } from "./_server.ts";
import { startAgent, writeConfig } from "./_agent.ts";

/** The Uid, Gid and Groups lines of every thread of `pid`, read by a helper process. */
async function identity(pid: number): Promise<string[]> {
  const out = await sh(["sh", "-c", `grep -h -E '^(Uid|Gid|Groups):' /proc/${pid}/task/*/status`]);
  return out.stdout.trim().split("\n").map((l) => l.replace(/\s+/g, " ").trim());
}

async function execute(server: QuixTestServer, s: ServerSession, cmd: string[]): Promise<number> {
  const r = await server.request(s, "execute", { cmd }) as { result: string; proc_id: number };
  assert.equal(r.result, "success", JSON.stringify(r));
  return r.proc_id;
}

function kill(pid: number): void {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    // gone
  }
}

Deno.test("unreachableFolder() names the folder in the way; makeTraversableFolder() ignores the umask", async () => {
  await using dir = await worldTempDir("pqx-reach");
  const nobody = { uid: 65534, gid: 65534 };
  await Deno.mkdir(join(dir.path, "closed"), { mode: 0o700 });
  await Deno.chmod(join(dir.path, "closed"), 0o700);
  assert.equal(
    unreachableFolder(join(dir.path, "closed", "work"), nobody),
    `"${dir.path}/closed" is mode 0700, owned by uid 0`,
  );
  assert.equal(unreachableFolder(join(dir.path, "missing", "work"), nobody), null);
  assert.match(unreachableFolder(dir.path, nobody, { write: true }) ?? "", /mode 0755/);
  // Under systemd's UMask=0077 (the installed unit): run in a child with that umask.
  const script = join(dir.path, "make.ts");
  await Deno.writeTextFile(
    script,
    `import { makeTraversableFolder } from "${
      pathToFileURL(join(ROOT, "lib/core/mod.ts")).href
    }";\n` +
      "console.log(await makeTraversableFolder(Deno.args[0], 0o750));\n",
  );
  const made = await sh([
    "sh",
    "-c",
    'umask 077 && exec "$@"',
    "sh",
    Deno.execPath(),
    "run",
    "-q",
    "--config",
    join(ROOT, "deno.json"),
    "--allow-read",
    `--allow-write=${dir.path}`,
    script,
    join(dir.path, "a", "b", "work"),
  ]);
  assert.equal(made.stdout.trim(), "true");
  for (const [path, mode] of [["a", 0o755], ["a/b", 0o755], ["a/b/work", 0o750]] as const) {
    assert.equal((await Deno.stat(join(dir.path, path))).mode! & 0o777, mode, path);
  }
  assert.equal(await makeTraversableFolder(join(dir.path, "a", "b", "work"), 0o750), false);
});

backendTest(
  "quix execute: as root with no run_as, commands run as the default account (nobody), groups cleared",
  { tools: ["sleep", "grep"], root: true },
  async () => {
    assert.equal(defaultAccountSpec(""), "nobody", "this test expects no polyagent account");
    const nobody = resolveAccount("nobody");
    await using dir = await worldTempDir("pqx-drop");
    const server = new QuixTestServer();
    await server.start();
    // Missing parents of the work folder are created traversable for the account.
    const work = join(dir.path, "deep", "er", "work");
    const world = await writeConfig(dir.path, server.url, { work_dir: work });
    await using agent = await startAgent(world);
    let pid = 0;
    try {
      const s = await server.nextAuthenticated();
      pid = await execute(server, s, ["sleep", "1000"]);
      const lines = await identity(pid);
      const expected = [
        `Uid: ${nobody.uid} ${nobody.uid} ${nobody.uid} ${nobody.uid}`,
        `Gid: ${nobody.gid} ${nobody.gid} ${nobody.gid} ${nobody.gid}`,
        "Groups:",
      ];
      assert.deepEqual(lines, expected);
      const info = await Deno.stat(work);
      assert.deepEqual([info.uid, info.gid], [nobody.uid, nobody.gid]);
      assert.equal((await Deno.stat(join(dir.path, "deep"))).mode! & 0o777, 0o755);
      assert.match(agent.stderr(), /execute runs processes as an unprivileged account/);
      assert.doesNotMatch(agent.stderr(), /quix\.run_as/);
    } finally {
      kill(pid);
      await agent.stop();
      await server.stop();
    }
  },
);

backendTest(
  'quix execute: run_as = "root" runs commands as root and warns at start',
  { tools: ["sleep", "grep"], root: true },
  async () => {
    await using dir = await worldTempDir("pqx-root");
    const server = new QuixTestServer();
    await server.start();
    const world = await writeConfig(dir.path, server.url, { run_as: "root" });
    await using agent = await startAgent(world);
    let pid = 0;
    try {
      const s = await server.nextAuthenticated();
      pid = await execute(server, s, ["sleep", "1000"]);
      assert.equal((await identity(pid))[0], "Uid: 0 0 0 0");
      const warning = agent.stderr().split("\n").find((l) => l.includes("quix.run_as"));
      assert.ok(warning, agent.stderr());
      assert.equal(JSON.parse(warning).level, "warn");
      assert.match(warning, /runs as root/);
    } finally {
      kill(pid);
      await agent.stop();
      await server.stop();
    }
  },
);

backendTest(
  "quix: a work_dir the dropped account cannot reach fails the start, naming the folder in the way",
  { root: true },
  async () => {
    await using dir = await worldTempDir("pqx-closed");
    const closed = join(dir.path, "closed");
    await Deno.mkdir(closed);
    await Deno.chmod(closed, 0o700);
    const server = new QuixTestServer();
    await server.start();
    const world = await writeConfig(dir.path, server.url, { work_dir: join(closed, "work") });
    await using agent = spawnAgent({ args: ["serve", "--config", world.config] });
    try {
      await agent.waitForLine(/^admin /, 30_000);
      const quix = await waitFor(async () => {
        const body = await (await fetch(`http://127.0.0.1:${world.admin}/healthz`)).json() as {
          services: { name: string; state: string; lastError: string | null }[];
        };
        const entry = body.services.find((e) => e.name === "quix");
        return entry?.lastError ? entry : null;
      }, { what: "quix start failure in /healthz" });
      assert.notEqual(quix.state, "running");
      assert.equal(
        quix.lastError,
        `quix.work_dir "${closed}/work" is not reachable by nobody (uid 65534): ` +
          `"${closed}" is mode 0700, owned by uid 0`,
      );
    } finally {
      await agent.stop();
      await server.stop();
    }
  },
);
