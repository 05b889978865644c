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
import {
  backendTest,
  closedFolder,
  ROOT,
  sh,
  spawnAgent,
  threadIdentities,
  waitFor,
  worldTempDir,
} from "../_helpers/mod.ts";
import { QuixTestServer, type ServerSession } from "./_server.ts";
import { startAgent, writeConfig } from "./_agent.ts";

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
  await closedFolder(dir.path);
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

/**
 * Starts an agent with `quix` keys in a world-traversable folder, has the server `execute`
 * `sleep 1000`, and hands the pid and the agent's stderr to `check`.
 */
async function withExecutedSleep(
  quix: Record<string, unknown>,
  check: (pid: number, stderr: () => string) => Promise<void>,
): Promise<void> {
  await using dir = await worldTempDir("pqx-priv");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url, quix);
  await using agent = await startAgent(world);
  let pid = 0;
  try {
    const s = await server.nextAuthenticated();
    pid = await execute(server, s, ["sleep", "1000"]);
    await check(pid, () => agent.stderr());
  } finally {
    kill(pid);
    await agent.stop();
    await server.stop();
  }
}

backendTest(
  "quix execute: as root with no run_as, commands run as the default account (nobody), groups cleared",
  { tools: ["sleep", "grep"], root: true },
  async () => {
    assert.equal(defaultAccountSpec(""), "nobody", "this test expects no polyagent account");
    const nobody = resolveAccount("nobody");
    // Missing parents of the work folder are created traversable for the account.
    const work = (dir: string) => join(dir, "deep", "er", "work");
    await using holder = await worldTempDir("pqx-drop");
    await withExecutedSleep({ work_dir: work(holder.path) }, async (pid, stderr) => {
      assert.deepEqual(await threadIdentities(pid), [
        `Uid: ${nobody.uid} ${nobody.uid} ${nobody.uid} ${nobody.uid}`,
        `Gid: ${nobody.gid} ${nobody.gid} ${nobody.gid} ${nobody.gid}`,
        "Groups:",
      ]);
      const info = await Deno.stat(work(holder.path));
      assert.deepEqual([info.uid, info.gid], [nobody.uid, nobody.gid]);
      assert.equal((await Deno.stat(join(holder.path, "deep"))).mode! & 0o777, 0o755);
      assert.match(stderr(), /execute runs processes as an unprivileged account/);
      assert.doesNotMatch(stderr(), /quix\.run_as/);
    });
  },
);

backendTest(
  'quix execute: run_as = "root" runs commands as root and warns at start',
  { tools: ["sleep", "grep"], root: true },
  async () => {
    await withExecutedSleep({ run_as: "root" }, async (pid, stderr) => {
      assert.equal((await threadIdentities(pid))[0], "Uid: 0 0 0 0");
      const warning = stderr().split("\n").find((l) => l.includes("quix.run_as"));
      assert.ok(warning, stderr());
      assert.equal(JSON.parse(warning).level, "warn");
      assert.match(warning, /runs as root/);
    });
  },
);

backendTest(
  "quix: a work_dir the dropped account cannot reach fails the start, naming the folder in the way",
  { root: true },
  async () => {
    await using dir = await worldTempDir("pqx-closed");
    const closed = await closedFolder(dir.path);
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
