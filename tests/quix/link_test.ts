import assert from "node:assert/strict";
import { waitFor, worldTempDir } from "../_helpers/mod.ts";
import { QuixTestServer } from "./_server.ts";
import { quixHealth, startAgent, writeConfig } from "./_agent.ts";

function authFrames(server: QuixTestServer) {
  return server.frames.filter((f) => f.frame.req === "authenticate");
}

Deno.test("quix link: first auth saves the token 0600, reconnects with it, falls back to the password once", async () => {
  await using dir = await worldTempDir("pqx-link");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url);
  await using agent = await startAgent(world);
  try {
    const first = await server.nextAuthenticated();
    const [auth] = authFrames(server);
    assert.equal(auth!.frame.auth, null);
    assert.deepEqual(auth!.frame.msg, { username: "quix123", password: "bright01" });
    const token = [...server.tokens.keys()][0]!;
    const saved = await waitFor(async () => {
      const text = await Deno.readTextFile(world.tokenFile).catch(() => "");
      return text.includes(token) ? text : null;
    });
    assert.ok(saved);
    assert.equal((await Deno.stat(world.tokenFile)).mode! & 0o777, 0o600);
    assert.equal(first.token, token);

    // The server restarts: the agent comes back with the saved token (auth = token, empty msg).
    await server.stop();
    const again = server.nextAuthenticated();
    await server.start();
    await again;
    const tokenAuth = authFrames(server).at(-1)!.frame;
    assert.equal(tokenAuth.auth, token);
    assert.deepEqual(tokenAuth.msg, {});
    assert.equal(authFrames(server).filter((f) => f.frame.auth === null).length, 1);

    // The token is revoked while the link is down: one token attempt, then the password once.
    await server.stop();
    server.tokens.clear();
    const third = server.nextAuthenticated();
    await server.start();
    await third;
    const tail = authFrames(server).slice(-2).map((f) => f.frame);
    assert.equal(tail[0]!.auth, token);
    assert.equal(tail[1]!.auth, null);
    const newToken = [...server.tokens.keys()][0]!;
    assert.notEqual(newToken, token);
    await waitFor(async () => (await Deno.readTextFile(world.tokenFile)).includes(newToken));
    const detail = await quixHealth(world);
    assert.equal(detail.link, "online");
    assert.equal(detail.tokenValid, true);
  } finally {
    await agent.stop();
    await server.stop();
  }
});

Deno.test("quix link: a wrong password backs off and shows in /healthz", async () => {
  await using dir = await worldTempDir("pqx-pw");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url, {
    password: "wrong",
    backoff_base_ms: 400,
  });
  await using agent = await startAgent(world);
  try {
    const detail = await waitFor(async () => {
      const d = await quixHealth(world);
      return (d.authFailures as number) >= 2 ? d : null;
    });
    assert.match(String(detail.lastError), /password_invalid/);
    assert.equal(detail.tokenValid, false);
    // Exponential backoff: the failures do not come in a tight loop.
    const failures = authFrames(server).length;
    assert.ok(failures < 10, `too many attempts: ${failures}`);
    assert.match(agent.stderr(), /authentication failed; backing off/);
  } finally {
    await agent.stop();
    await server.stop();
  }
});

Deno.test("quix link: the same token connected elsewhere is logged and backed off, not fought", async () => {
  await using dir = await worldTempDir("pqx-dup");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url, { superseded_backoff_ms: 4000 });
  await using agent = await startAgent(world);
  let other: WebSocket | null = null;
  try {
    const session = await server.nextAuthenticated();
    const token = session.token!;
    // Another client shows up with the same token: the server drops the agent's socket.
    other = new WebSocket(server.url);
    await new Promise((r) => other!.onopen = r);
    other.send(JSON.stringify({ auth: token, req: "authenticate", rid: 1, msg: {} }));
    const closed = await session.closed;
    assert.equal(closed.code, 4409);
    const detail = await waitFor(async () => {
      const d = await quixHealth(world);
      return d.superseded === 1 ? d : null;
    });
    assert.equal(detail.link, "backoff");
    assert.ok((detail.nextRetryAt as number) - Date.now() > 500, "retry is scheduled later");
    await waitFor(() => /same token connected elsewhere/.test(agent.stderr()));
    const connections = server.connections;
    // The first superseded delay is at least half of 4 s: no reconnect within a second.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(server.connections, connections);
  } finally {
    other?.close();
    await agent.stop();
    await server.stop();
  }
});

Deno.test("quix link: an execute in flight when the link drops is not run twice when resent", async () => {
  await using dir = await worldTempDir("pqx-resend");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url);
  await using agent = await startAgent(world);
  const started: number[] = [];
  try {
    const first = await server.nextAuthenticated();
    // The request goes out and the link drops before the reply can arrive.
    first.socket.send(
      JSON.stringify({ req: "execute", rid: 4242, msg: { cmd: ["sleep", "300"] } }),
    );
    first.socket.close(1011, "server restarting");
    const second = await server.nextAuthenticated();
    const reply = await server.request(second, "execute", { cmd: ["sleep", "300"] }, 4242) as {
      result: string;
      proc_id: number;
    };
    assert.equal(reply.result, "success");
    started.push(reply.proc_id);
    const list = await server.request(second, "view_running", { verb: 1 }) as { pid: number }[];
    assert.deepEqual(list.map((e) => e.pid), [reply.proc_id], "one process, not two");
  } finally {
    for (const pid of started) {
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await agent.stop();
    await server.stop();
  }
});

Deno.test("quix link: an expired saved token is not offered; the password is used", async () => {
  await using dir = await worldTempDir("pqx-exp");
  const server = new QuixTestServer({ validity: 1 });
  await server.start();
  const world = await writeConfig(dir.path, server.url);
  await using agent = await startAgent(world);
  try {
    await server.nextAuthenticated();
    await server.stop();
    // The token's one-second validity runs out while the link is down.
    await waitFor(async () => {
      const saved = JSON.parse(await Deno.readTextFile(world.tokenFile)).data;
      return saved.expiresAt !== null && saved.expiresAt < Date.now();
    });
    const back = server.nextAuthenticated();
    await server.start();
    await back;
    const last = authFrames(server).at(-1)!.frame;
    assert.equal(last.auth, null);
    assert.equal(authFrames(server).filter((f) => typeof f.frame.auth === "string").length, 0);
    assert.match(agent.stderr(), /saved token expired/);
  } finally {
    await agent.stop();
    await server.stop();
  }
});
