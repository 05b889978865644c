import assert from "node:assert/strict";
import { backendTest, freePort, sh, waitFor, worldTempDir } from "../_helpers/mod.ts";
import { readProcFile } from "../../lib/backends/procfs/mod.ts";
import { QuixTestServer, type ServerSession } from "./_server.ts";
import { ctl, startAgent, writeConfig } from "./_agent.ts";

type Entry = {
  title: string;
  pid: number;
  cpu_util: number;
  mem_util: number;
  reqc: string;
  port_util: number[];
};

async function running(server: QuixTestServer, s: ServerSession): Promise<Entry[]> {
  return await server.request(s, "view_running", { verb: 1 }) as Entry[];
}

async function statOf(pid: number): Promise<string[] | null> {
  const text = await readProcFile(`/proc/${pid}/stat`);
  return text === null ? null : text.slice(text.lastIndexOf(")") + 2).split(" ");
}

async function alive(pid: number): Promise<boolean> {
  const s = await statOf(pid);
  return s !== null && s[0] !== "Z";
}

Deno.test("quix requests: every bad request gets its error reply and the link stays up", async () => {
  await using dir = await worldTempDir("pqx-bad");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url, {
    allowed_commands: ["sleep", "/bin/true", "nonexistent-cmd"],
    max_frame_bytes: 4096,
  });
  await using agent = await startAgent(world);
  try {
    const s = await server.nextAuthenticated();
    const err = (msg: unknown) => msg as { result: string; reason: string; detail: string };

    let r = err(await server.request(s, "reboot", {}));
    assert.equal(r.result, "error");
    assert.equal(r.reason, "unknown_request");

    const notJson = await server.raw(s, "{nope");
    assert.equal(notJson.rid, null);
    assert.equal(err(notJson.msg).reason, "bad_request");

    const arr = await server.raw(s, "[1,2]");
    assert.equal(err(arr.msg).reason, "bad_request");

    const noReq = await server.raw(s, JSON.stringify({ msg: {} }));
    assert.equal(err(noReq.msg).reason, "bad_request");
    assert.match(err(noReq.msg).detail, /req/);

    const badRid = await server.raw(
      s,
      JSON.stringify({ req: "telemetry", rid: { x: 1 }, msg: {} }),
    );
    assert.equal(err(badRid.msg).reason, "bad_request");
    assert.match(err(badRid.msg).detail, /rid/);

    const big = await server.raw(
      s,
      JSON.stringify({ req: "execute", rid: 5, pad: "x".repeat(5000) }),
    );
    assert.equal(err(big.msg).reason, "bad_request");
    assert.match(err(big.msg).detail, /larger/);

    const binary = await server.raw(s, new Uint8Array([1, 2, 3]));
    assert.equal(err(binary.msg).reason, "bad_request");

    r = err(await server.request(s, "execute", { cmd: "sleep 1" }));
    assert.equal(r.reason, "bad_request");
    assert.match(r.detail, /msg\.cmd/);

    r = err(await server.request(s, "execute", {}));
    assert.match(r.detail, /msg\.cmd/);

    r = err(await server.request(s, "execute", { cmd: ["rm", "-rf", "/tmp/x"] }));
    assert.equal(r.reason, "not_permitted");

    r = err(await server.request(s, "execute", { cmd: ["nonexistent-cmd"] }));
    assert.equal(r.reason, "spawn_failed");

    r = err(await server.request(s, "proc_signal", { pid: 1, mode: "SIGTERM" }));
    assert.equal(r.reason, "not_permitted");
    r = err(await server.request(s, "proc_signal", { pid: Deno.pid, mode: "SIGKILL" }));
    assert.equal(r.reason, "not_permitted");

    r = err(await server.request(s, "proc_signal", { pid: 1, mode: "SIGSTOP" }));
    assert.equal(r.reason, "bad_request");
    assert.match(r.detail, /msg\.mode/);
    r = err(await server.request(s, "proc_signal", { pid: "1", mode: "SIGTERM" }));
    assert.match(r.detail, /msg\.pid/);

    r = err(await server.request(s, "telemetry", { stat_types: ["ttl_cpu_usage", "bogus"] }));
    assert.equal(r.reason, "bad_request");
    assert.match(r.detail, /msg\.stat_types\.1/);
    r = err(await server.request(s, "telemetry", null));
    assert.equal(r.reason, "bad_request");

    // A reply to a request nobody sent is ignored (no reply storm); the link still serves.
    s.socket.send(JSON.stringify({ rid: 424242, msg: { result: "success" } }));
    const ok = await server.request(s, "view_running", { verb: 1 });
    assert.ok(Array.isArray(ok));
    assert.equal(server.sessions.length, 1, "the link was never dropped");
  } finally {
    await agent.stop();
    await server.stop();
  }
});

backendTest(
  "quix requests: execute, view_running (ports, cpu), proc_signal, log files, re-adoption after kill -9",
  { tools: ["busybox", "sha256sum", "sleep", "readlink"], root: true },
  async () => {
    await using dir = await worldTempDir("pqx-proc");
    const server = new QuixTestServer();
    await server.start();
    const port = freePort();
    const www = `${dir.path}/work`;
    const world = await writeConfig(dir.path, server.url, {
      run_as: "nobody",
      titles: { busybox: "Test Server v0.1" },
    });
    let agent = await startAgent(world);
    const started: number[] = [];
    try {
      let s = await server.nextAuthenticated();
      const exec = async (cmd: string[], rid?: number) => {
        const r = await server.request(s, "execute", { cmd }, rid) as {
          result: string;
          proc_id: number;
        };
        assert.equal(r.result, "success", JSON.stringify(r));
        started.push(r.proc_id);
        return r.proc_id;
      };
      const httpd = await exec(["busybox", "httpd", "-f", "-p", `127.0.0.1:${port}`, "-h", www]);
      const busy = await exec(["sha256sum", "/dev/zero"]);
      const sleeper = await exec(["sleep", "1000"], 31337);
      // The same request resent (same rid and body) is answered, not run twice.
      const resent = await server.request(s, "execute", { cmd: ["sleep", "1000"] }, 31337) as {
        proc_id: number;
      };
      assert.equal(resent.proc_id, sleeper);
      const echo = await exec(["busybox", "echo", "hello from quix"]);

      // Runs as nobody, in its own process group, with the work folder as cwd.
      const status = await readProcFile(`/proc/${httpd}/status`);
      assert.match(status ?? "", /Uid:\s+65534/);
      assert.equal((await statOf(httpd))![2], String(httpd));
      assert.equal((await sh(["readlink", `/proc/${httpd}/cwd`])).stdout.trim(), www);

      // The port shows up in port_util; cpu_util rises under the busy loop.
      const list = await waitFor(async () => {
        const l = await running(server, s);
        const h = l.find((e) => e.pid === httpd);
        return h && h.port_util.includes(port) ? l : null;
      });
      const h = list.find((e) => e.pid === httpd)!;
      assert.equal(h.title, "Test Server v0.1");
      assert.equal(h.reqc, `busybox httpd -f -p 127.0.0.1:${port} -h ${www}`);
      assert.ok(h.mem_util >= 0);
      assert.equal(list.filter((e) => e.pid === sleeper).length, 1);
      await waitFor(async () => {
        const b = (await running(server, s)).find((e) => e.pid === busy);
        return b && b.cpu_util > 20;
      }, { stepMs: 300 });

      // The exit of a process started by this agent is recorded with its exact status.
      const echoExit = await waitFor(async () => {
        const st = await ctl(world, "status", "--json");
        assert.equal(st.code, 0, st.stderr);
        return JSON.parse(st.stdout).exited.find((x: { pid: number }) => x.pid === echo);
      }, { stepMs: 200 });
      assert.deepEqual([echoExit.exit.code, echoExit.exit.source], [0, "wait"]);
      // stdout/stderr went to the per-process log file.
      const logs = [...Deno.readDirSync(`${dir.path}/log/quix`)].map((e) => e.name);
      const echoLog = logs.find((n) =>
        n.startsWith("busybox") &&
        Deno.readTextFileSync(`${dir.path}/log/quix/${n}`).includes("hello from quix")
      );
      assert.ok(echoLog, `no log with the output among ${logs.join(", ")}`);

      // kill -9 the agent: the processes live on and the next agent re-adopts them.
      agent.child.kill("SIGKILL");
      await agent.child.status;
      await agent[Symbol.asyncDispose]();
      assert.ok((await alive(httpd)) && (await alive(busy)) && (await alive(sleeper)));
      const back = server.nextAuthenticated();
      agent = await startAgent(world);
      s = await back;
      const after = await running(server, s);
      for (const pid of [httpd, busy, sleeper]) {
        assert.ok(after.some((e) => e.pid === pid), `pid ${pid} re-adopted`);
      }
      const text = await ctl(world, "status");
      assert.match(text.stdout, /link\s+online/);
      assert.match(text.stdout, /3 running/);

      // proc_signal in each mode, on re-adopted processes.
      for (
        const [pid, mode] of [[sleeper, "SIGHUP"], [busy, "SIGKILL"], [httpd, "SIGTERM"]] as const
      ) {
        const r = await server.request(s, "proc_signal", { pid, mode }) as { result: string };
        assert.equal(r.result, "success");
        await waitFor(async () => !(await alive(pid)));
      }
      const gone = await waitFor(async () => {
        const l = await running(server, s);
        return l.length === 0 ? l : null;
      });
      assert.deepEqual(gone, []);
      const again = await server.request(s, "proc_signal", { pid: sleeper, mode: "SIGTERM" }) as {
        reason: string;
      };
      assert.equal(again.reason, "not_found");
      const exited = JSON.parse((await ctl(world, "status", "--json")).stdout).exited as {
        pid: number;
        exit: { source: string };
      }[];
      assert.ok(exited.some((e) => e.pid === sleeper));

      // A process started by the restarted agent: SIGTERM is recorded as its exit signal.
      const fresh = await exec(["sleep", "1000"]);
      const t = await server.request(s, "proc_signal", { pid: fresh, mode: "SIGTERM" }) as {
        result: string;
      };
      assert.equal(t.result, "success");
      const freshExit = await waitFor(async () => {
        const st = JSON.parse((await ctl(world, "status", "--json")).stdout);
        return st.exited.find((x: { pid: number }) => x.pid === fresh);
      }, { stepMs: 200 });
      assert.deepEqual([freshExit.exit.signal, freshExit.exit.source], ["SIGTERM", "wait"]);
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
  },
);
