/**
 * The service around the sockets, without openvpn: SIGUSR1 and SIGHUP reload the profiles while
 * the agent keeps running (the real clients send SIGUSR1 to the pid in the pid files), the pid
 * files name the agent and go when it stops, each socket can be turned off, and a socket path
 * that is a regular file or a directory is refused and never removed, however often the service
 * is retried.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnAgent, waitFor } from "../_helpers/mod.ts";
import { Cmd, V1Cmd } from "../../lib/protocols/cryptoded/mod.ts";
import { agentEnv, ask, writeProfile } from "./_env.ts";

const PROFILE = "client\ndev tun\nremote 10.77.0.1 1194\n";

async function names(socket: string): Promise<string[]> {
  const r = await ask(socket, Cmd.STATUS, "all");
  return (r.data as { name: string }[]).map((s) => s.name);
}

Deno.test("SIGUSR1 and SIGHUP reload the profiles; the pid files name the agent", async () => {
  await using env = await agentEnv({ openvpn: "/nonexistent/openvpn" });
  const agent = await env.start();
  for (const path of [env.pidFile, env.v1PidFile]) {
    assert.equal((await Deno.readTextFile(path)).trim(), String(agent.pid));
  }
  assert.deepEqual(await names(env.socket), []);
  await writeProfile(env.profiles, "alpha", PROFILE);
  Deno.kill(agent.pid, "SIGUSR1");
  await waitFor(async () => (await names(env.socket)).includes("alpha"), { what: "alpha" });
  await writeProfile(env.profiles, "beta", PROFILE);
  await Deno.remove(join(env.profiles, "alpha.ovpn"));
  Deno.kill(agent.pid, "SIGHUP");
  await waitFor(async () => (await names(env.socket)).join() === "beta", { what: "beta only" });
  // the v1.x socket serves the same profiles by its own numbers
  const v1 = await ask(env.v1Socket, V1Cmd.STATUS, "beta");
  assert.equal(
    (v1.data as { CryptodedConnectionStatus: { state: string } })
      .CryptodedConnectionStatus.state,
    "DISCONNECTED",
  );
  assert.match(agent.stderr(), /"msg":"profiles reloaded","signal":"SIGUSR1"/);
  assert.match(
    agent.stderr(),
    /"msg":"signal handled","signal":"SIGHUP","services":\["cryptoded"\]/,
  );
  const status = await agent.stop("SIGTERM");
  env.agent = null;
  assert.equal(status.code, 0);
  for (const path of [env.pidFile, env.v1PidFile, env.socket, env.v1Socket]) {
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound, path);
  }
});

Deno.test("each socket can be off; requests and refusals are logged with their code", async () => {
  await using env = await agentEnv({ socket: "", pid_file: "" }, { logLevel: "debug" });
  await env.start();
  assert.deepEqual(env.agent!.stdoutLines.filter((l) => l.startsWith("cryptoded ")), [
    `cryptoded  ${env.v1Socket} (v1 dialect)`,
  ]);
  assert.equal((await ask(env.v1Socket, V1Cmd.STATUS, "nosuch")).code, 14);
  assert.equal((await ask(env.v1Socket, V1Cmd.GET_CONFDIR)).code, 0);
  const log = env.agent!.stderr();
  assert.match(
    log,
    /"level":"info".*"msg":"request refused","dialect":"v1","cmd":3,"command":"status","code":14,"reply":"CONN_NOT_FOUND","param":"nosuch"/,
  );
  assert.match(
    log,
    /"level":"debug".*"msg":"request","dialect":"v1","cmd":10,"command":"get-confdir","code":0/,
  );
});

Deno.test("a socket path that is a regular file or a directory is refused and kept", async () => {
  await using env = await agentEnv();
  const file = join(env.dir, "not-a-socket");
  await Deno.writeTextFile(file, "x\n");
  const dir = join(env.dir, "a-dir");
  await Deno.mkdir(dir);
  const config = await Deno.readTextFile(env.configFile);
  await Deno.writeTextFile(
    env.configFile,
    config.replace(/^socket = .*$/m, `socket = ${JSON.stringify(file)}`)
      .replace(/^v1_socket = .*$/m, `v1_socket = ${JSON.stringify(dir)}`),
  );
  await using agent = spawnAgent({ args: ["serve", "--config", env.configFile] });
  // the first attempt and at least one retry after the stop that used to delete the file
  await waitFor(
    () => (agent.stderr().match(/exists and is a regular file, not a socket/g) ?? []).length >= 2,
    { timeoutMs: 15_000, what: "two refused attempts" },
  );
  assert.equal(await Deno.readTextFile(file), "x\n");
  assert.ok((await Deno.stat(dir)).isDirectory);
});
