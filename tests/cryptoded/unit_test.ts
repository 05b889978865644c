/**
 * Pure logic and the state machine against a scripted management peer: the request splitter, the
 * management line parser, `ss` parsing, error mapping, both dialects' tables, and Tunnel
 * transitions (HOLD answered, RECONNECTING and back, SEND_SIG when no stop can be delivered).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, waitFor } from "../_helpers/mod.ts";
import {
  BusyError,
  ConflictError,
  createLogger,
  NotFoundError,
  runCommand,
  UnavailableError,
} from "../../lib/core/mod.ts";
import {
  parseRealtime,
  SendSignalError,
  Tunnel,
  type TunnelOptions,
} from "../../lib/backends/openvpn/mod.ts";
import { parseEffectiveUid, parseSsUnix } from "../../lib/backends/peercred/mod.ts";
import {
  documentDialect,
  JsonStreamParser,
  Resp,
  V1Cmd,
  v1Dialect,
  V1Resp,
} from "../../lib/protocols/cryptoded/mod.ts";
import { cryptodedFailure } from "../../lib/protocols/cryptoded/errors.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("JsonStreamParser splits back-to-back, newline and chunked requests", () => {
  const p = new JsonStreamParser(1000);
  assert.deepEqual(p.push(enc('{"cmd":1}{"cmd":2,"param":"a}b"}\n{"c')), [
    { kind: "value", text: '{"cmd":1}' },
    { kind: "value", text: '{"cmd":2,"param":"a}b"}' },
  ]);
  assert.deepEqual(p.push(enc('md":3,"p":"\\"}"}')), [{
    kind: "value",
    text: '{"cmd":3,"p":"\\"}"}',
  }]);
  assert.deepEqual(p.push(enc("junk here\n")), [{ kind: "bad", text: "junk here" }]);
  assert.deepEqual(p.push(enc("{")), []);
  assert.deepEqual(p.end(), [{ kind: "bad", text: "{" }]);
  const small = new JsonStreamParser(10);
  assert.equal(small.push(enc('{"cmd": 12345678}'))[0]!.kind, "oversized");
  assert.equal(new JsonStreamParser(10).push(enc("{" + " ".repeat(20)))[0]!.kind, "oversized");
});

Deno.test("parseRealtime reads HOLD, STATE and BYTECOUNT lines", () => {
  assert.deepEqual(parseRealtime("HOLD:Waiting for hold release:0"), {
    type: "hold",
    text: "Waiting for hold release:0",
  });
  assert.deepEqual(parseRealtime("STATE:1795305753,CONNECTED,SUCCESS,10.78.0.2,10.77.0.1,1194,,"), {
    type: "state",
    time: 1795305753,
    state: "CONNECTED",
    detail: "SUCCESS",
    localIp: "10.78.0.2",
    remoteIp: "10.77.0.1",
    remotePort: "1194",
  });
  assert.deepEqual(parseRealtime("BYTECOUNT:2372,2468"), {
    type: "bytecount",
    bytesIn: 2372,
    bytesOut: 2468,
  });
  assert.equal(parseRealtime("BYTECOUNT:x,y").type, "other");
});

Deno.test("parseSsUnix and parseEffectiveUid read ss and /proc output", () => {
  const table = parseSsUnix(
    'u_str ESTAB 0 0 /run/x.sock 14712 * 14711 users:(("deno",pid=8622,fd=23))\n' +
      'u_str ESTAB 0 0 * 14711 * 14712 users:(("python3",pid=9000,fd=3),("python3",pid=9000,fd=4))\n',
  );
  assert.deepEqual(table.get(14712), {
    path: "/run/x.sock",
    inode: 14712,
    peer: 14711,
    pids: [8622],
  });
  assert.deepEqual(table.get(14711)!.pids, [9000]);
  assert.equal(parseEffectiveUid("Name:\tx\nUid:\t1000\t0\t0\t0\n"), 0);
});

Deno.test("typed errors map to responses, the same in both dialects up to UNKNOWN_ERR", () => {
  const log = createLogger("t", { sink: () => {} });
  assert.equal(cryptodedFailure(new SendSignalError("no"), log).resp, "SEND_SIG");
  assert.deepEqual(cryptodedFailure(new Error("boom"), log), {
    resp: "UNKNOWN_ERR",
    message: "boom",
  });
  const exists = new ConflictError("x", { reason: "profile-exists" });
  assert.deepEqual(cryptodedFailure(exists, log), { resp: "IMPORT_EXIST_PROFILE", message: "x" });
  assert.equal(cryptodedFailure(new NotFoundError("x"), log).resp, "CONN_NOT_FOUND");
  assert.equal(cryptodedFailure(new BusyError("x"), log).resp, "CONN_IN_PROGRESS");
  const openvpn = cryptodedFailure(new UnavailableError("no openvpn", { reason: "openvpn" }), log);
  assert.equal(documentDialect.code(openvpn.resp), Resp.UNKNOWN_ERR);
  assert.equal(v1Dialect.code(openvpn.resp), V1Resp.ERR_INVALID_OVPN_BIN);
  assert.equal(documentDialect.code("UNKNOWN_ERR"), 20);
  assert.equal(v1Dialect.code("UNKNOWN_ERR"), 25);
});

/** A scripted management peer on a Unix socket. */
function fakeManagement(path: string, onCommand: (line: string) => string) {
  const listener = Deno.listen({ transport: "unix", path });
  const conns: Deno.UnixConn[] = [];
  const received: string[] = [];
  const send = (text: string) => {
    for (const c of conns) c.write(enc(text)).catch(() => {});
  };
  const loop = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      await conn.write(enc(">INFO:OpenVPN Management Interface Version 5\r\n"));
      (async () => {
        let buf = "";
        for await (const chunk of conn.readable) {
          buf += new TextDecoder().decode(chunk);
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            received.push(line);
            await conn.write(enc(onCommand(line))).catch(() => {});
          }
        }
      })().catch(() => {});
    }
  })().catch(() => {});
  return {
    received,
    send,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await loop;
    },
  };
}

Deno.test("Tunnel follows management events and reports SEND_SIG when no stop gets through", async () => {
  await using dir = await tempDir("cvunit");
  const mgmtPath = join(dir.path, "m.sock");
  // a process whose command line carries "--management <path>", as adoption checks
  const keeper = new Deno.Command("/usr/bin/python3", {
    args: ["-c", "import time; time.sleep(60)", "--management", mgmtPath, "unix"],
    stdin: "null",
  }).spawn();
  const peer = fakeManagement(mgmtPath, (line) => {
    if (line === "state") {
      return "1795305753,CONNECTED,SUCCESS,10.78.0.2,10.77.0.1,1194,,\r\nEND\r\n";
    }
    if (line === "status 2") {
      return "OpenVPN STATISTICS\r\nTCP/UDP read bytes,1234\r\nTCP/UDP write bytes,99\r\nEND\r\n";
    }
    if (line.startsWith("signal")) return "ERROR: signal refused\r\n";
    return "SUCCESS: ok\r\n";
  });
  const changes: string[] = [];
  const options: TunnelOptions = {
    name: "fake",
    spec: {
      openvpn: "/usr/sbin/openvpn",
      netns: "",
      profile: "/dev/null",
      management: mgmtPath,
      pidFile: join(dir.path, "fake.pid"),
      logFile: join(dir.path, "fake.log"),
      scriptSecurity: 1,
      extraArgs: [],
    },
    connectTimeoutMs: 10_000,
    stopTimeoutMs: 200,
    bytecountInterval: 1,
    log: createLogger("t", { sink: () => {} }),
    runner: runCommand,
    onChange: (s) => changes.push(s.status),
    signal: () => {
      throw new Error("EPERM: Operation not permitted");
    },
  };
  try {
    const tunnel = await Tunnel.adopt(options, keeper.pid);
    assert.ok(tunnel);
    assert.equal(tunnel.status, "CONNECTED");
    assert.equal(tunnel.snapshot().bytesIn, 1234);
    assert.equal(tunnel.snapshot().connectedTime, 1795305753);
    peer.send(">BYTECOUNT:5000,6000\r\n>STATE:1795305760,RECONNECTING,ping-restart,,,,,\r\n");
    await waitFor(() => tunnel.status === "RECONNECTING", { what: "RECONNECTING" });
    assert.equal(tunnel.snapshot().bytesIn, 5000);
    peer.send(">HOLD:Waiting for hold release:1\r\n");
    await waitFor(() => peer.received.filter((l) => l === "hold release").length >= 2, {
      what: "hold release after >HOLD",
    });
    peer.send(">STATE:1795305770,CONNECTED,SUCCESS,10.78.0.2,10.77.0.1,1194,,\r\n");
    await waitFor(() => tunnel.status === "CONNECTED", { what: "CONNECTED again" });
    assert.equal(tunnel.snapshot().connectedTime, 1795305770);
    await assert.rejects(tunnel.stop(), SendSignalError);
    assert.equal(tunnel.status, "CONNECTED", "a failed stop leaves the state as it was");
    assert.ok(changes.includes("RECONNECTING"));
    tunnel.detach();
  } finally {
    keeper.kill("SIGKILL");
    await keeper.status;
    await peer.close();
  }
});

Deno.test("each dialect's table serves its commands by its numbers and refuses a duplicate", async () => {
  const { createCryptodedHandlers } = await import("../../lib/protocols/cryptoded/handlers.ts");
  const doc = createCryptodedHandlers(documentDialect);
  assert.deepEqual(doc.types().map((c) => doc.get(c)!.command), [
    "connect",
    "disconnect",
    "status",
    "script-security",
    "reload",
    "import",
    "remove",
    "dns-override",
    "get-confdir",
  ]);
  assert.deepEqual(doc.types(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  const v1 = createCryptodedHandlers(v1Dialect);
  assert.deepEqual(v1.types().map((c) => [c, v1.get(c)!.command]), [
    [0, "connect"],
    [1, "disconnect"],
    [2, "reconnect"],
    [3, "status"],
    [4, "script-security"],
    [5, "reload"],
    [6, "import"],
    [7, "edit"],
    [8, "remove"],
    [9, "dns-override"],
    [10, "get-confdir"],
  ]);
  assert.equal(v1.get(11), undefined);
  assert.equal(v1.get(V1Cmd.STATUS)!.privileged, false);
  assert.equal(v1.get(V1Cmd.EDIT)!.privileged, true);
  const handle = () => Promise.resolve({ kind: "value" } as const);
  assert.throws(
    () => doc.register(0, { command: "connect", privileged: false, handle }),
    /Duplicate cryptoded document command handler/,
  );
});

Deno.test("DnsResolver rewrites resolv.conf in place when only the file itself is writable", async () => {
  await using dir = await tempDir("cvdns");
  const file = join(dir.path, "resolv.conf");
  const original = "nameserver 10.1.1.1\nsearch x.test\n";
  await Deno.writeTextFile(file, original);
  await Deno.chmod(file, 0o644);
  const script = join(dir.path, "run.ts");
  const mod = new URL("../../lib/backends/resolver/mod.ts", import.meta.url).href;
  const core = new URL("../../lib/core/mod.ts", import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { DnsResolver } from "${mod}";
import { runCommand } from "${core}";
const r = new DnsResolver({ method: "file", resolvConf: ${JSON.stringify(file)}, interface: "",
  runner: runCommand, timeoutMs: 5000 });
const backup = await r.backup("file");
await r.apply(["10.9.9.9"], backup);
console.log(JSON.stringify(await r.current()));
await r.restore(backup);
`,
  );
  // exactly the shape of the shipped permission set: the file, not its directory
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "--allow-read", `--allow-write=${file}`, "--allow-run", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(new TextDecoder().decode(out.stdout).trim(), '["10.9.9.9"]');
  assert.equal(await Deno.readTextFile(file), original);
  assert.equal((await Deno.stat(file)).mode! & 0o777, 0o644);
  assert.deepEqual(
    [...Deno.readDirSync(dir.path)].map((e) => e.name).sort(),
    ["resolv.conf", "run.ts"],
  );
});
