/**
 * The control socket against the real agent (no tunnels needed): every response code the daemon
 * produces, bad input of every kind, text mode, several requests on one connection, IMPORT
 * (ovpn, inline, tblk), REMOVE, RELOAD, DNS_OVERRIDE against a temp resolv.conf, SUDO_REQUIRED for
 * an unprivileged peer, and the ctl client's exit status and client-side codes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, polyagent, sh, tempDir } from "../_helpers/mod.ts";
import { Cmd, Resp, sendRaw } from "../../lib/protocols/cryptoded/mod.ts";
import { agentEnv, ask, writeProfile } from "./_env.ts";

const PROFILE = "client\ndev tun\nremote 10.77.0.1 1194\n";

function ctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return polyagent(["ctl", "cryptode", ...args]);
}

backendTest(
  "cryptoded answers every command and bad input",
  { tools: ["ss"], root: true },
  async (t) => {
    await using env = await agentEnv({ openvpn: "/nonexistent/openvpn" });
    const sock = env.socket;
    await env.start();

    await t.step(
      "sockets are 0600, pid files name the agent, no profiles is an empty list",
      async () => {
        for (const path of [sock, env.v1Socket]) {
          assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600, path);
        }
        for (const path of [env.pidFile, env.v1PidFile]) {
          assert.equal((await Deno.readTextFile(path)).trim(), String(env.agent!.pid), path);
        }
        // as the original daemons: an empty list, not an error
        assert.deepEqual(await ask(sock, Cmd.STATUS, "all"), { code: Resp.OK, data: [] });
        assert.deepEqual(await ask(sock, Cmd.CONNECT, "all"), { code: Resp.OK, data: [] });
        assert.equal(await sendRaw(sock, '{"cmd":2,"param":"all","json":false}'), "Success");
        assert.equal(
          await sendRaw(env.v1Socket, '{"cmd":3,"param":"all","json":false}'),
          `{ "code": 0, "data": "no VPNs found in '${env.profiles.replaceAll("/", "\\/")}'" }`,
        );
      },
    );

    await t.step("bad input gets the protocol's own error and the socket stays up", async () => {
      const bad = async (payload: string | Uint8Array) => JSON.parse(await sendRaw(sock, payload));
      assert.equal((await bad('{"cmd": 2, "param": ')).code, Resp.JSON_INVALID); // EOF mid-object
      assert.equal((await bad("hello\n")).code, Resp.JSON_INVALID);
      assert.equal((await bad('{"cmd": 2,, }')).code, Resp.JSON_INVALID);
      const wrongType = await bad('{"cmd": "status", "param": "all"}');
      assert.equal(wrongType.code, Resp.JSON_INVALID);
      assert.match(wrongType.data, /^cmd: /);
      assert.equal((await bad('{"cmd": 99}')).code, Resp.INVALID_CMD);
      assert.equal((await bad('{"cmd": 2}')).code, Resp.INVALID_CMD); // no param
      assert.equal((await bad('{"cmd": 3, "param": "maybe"}')).code, Resp.INVALID_CMD);
      const big = '{"cmd": 2, "param": "' + "a".repeat(70 * 1024) + '"}';
      const over = await bad(big);
      assert.equal(over.code, Resp.JSON_INVALID);
      assert.match(over.data, /larger than 65536/);
      for (const name of ["../x", "a/b", ".hidden", "x".repeat(129), "bad name", "-"]) {
        assert.equal((await ask(sock, Cmd.STATUS, name)).code, Resp.CONN_NOT_FOUND, name);
        assert.equal((await ask(sock, Cmd.CONNECT, name)).code, Resp.CONN_NOT_FOUND, name);
      }
      assert.equal((await ask(sock, Cmd.STATUS, "nope")).code, Resp.CONN_NOT_FOUND);
      assert.equal((await ask(sock, Cmd.GET_CONFDIR)).code, Resp.OK);
    });

    await t.step(
      "50 concurrent clients, half of them sending garbage, all get answers",
      async () => {
        const garbage = [
          "\u0000\u0001\u0002",
          "{{{{",
          '{"cmd":[1,2]}',
          "]",
          '{"cmd":2,"param":{"a":1}}',
        ];
        const replies = await Promise.all(
          Array.from(
            { length: 50 },
            (_, i) =>
              sendRaw(sock, i % 2 === 0 ? '{"cmd":8}' : garbage[i % garbage.length]!)
                .then((raw) => JSON.parse(raw.split("\n")[0]!).code as number),
          ),
        );
        replies.forEach((code, i) => {
          if (i % 2 === 0) assert.equal(code, Resp.OK);
          else {assert.ok(
              [Resp.JSON_INVALID, Resp.INVALID_CMD].includes(code as 3),
              `reply ${code}`,
            );}
        });
        assert.equal((await ask(sock, Cmd.GET_CONFDIR)).code, Resp.OK);
      },
    );

    await t.step("several requests on one connection, back to back or by line", async () => {
      const raw = await sendRaw(
        sock,
        '{"cmd":8}{"cmd":2,"param":"all"}\n{"cmd":8,"json":false}\n',
      );
      // the first reply exactly as the original (no newline), the next ones after a newline
      const lines = raw.split("\n");
      assert.equal(lines.length, 3);
      assert.deepEqual(JSON.parse(lines[0]!), { code: 0, data: env.profiles });
      assert.deepEqual(JSON.parse(lines[1]!), { code: Resp.OK, data: [] });
      assert.equal(lines[2], env.profiles);
    });

    await t.step("IMPORT of an .ovpn file, inline text, and its error codes", async () => {
      await using src = await tempDir("cvsrc");
      const file = join(src.path, "office.ovpn");
      await Deno.writeTextFile(file, PROFILE);
      const r = await ask(sock, Cmd.IMPORT, { type: "new-from-ovpn", path: file });
      assert.equal(r.code, Resp.OK, JSON.stringify(r));
      const info = await Deno.stat(join(env.profiles, "office.ovpn"));
      assert.equal(info.mode! & 0o777, 0o600);
      assert.equal(
        (await ask(sock, Cmd.IMPORT, { type: "new-from-ovpn", path: file })).code,
        Resp.IMPORT_EXIST_PROFILE,
      );
      // the string form of the real CLI
      await Deno.writeTextFile(join(src.path, "home.ovpn"), PROFILE);
      assert.equal(
        (await ask(sock, Cmd.IMPORT, `new-from-ovpn ${join(src.path, "home.ovpn")}`)).code,
        Resp.OK,
      );
      await Deno.writeTextFile(join(src.path, "notes.txt"), PROFILE);
      assert.equal(
        (await ask(sock, Cmd.IMPORT, { type: "new-from-ovpn", path: join(src.path, "notes.txt") }))
          .code,
        Resp.INVALID_PROFILE_TYPE,
      );
      assert.equal(
        (await ask(sock, Cmd.IMPORT, { type: "new-from-zip", path: file })).code,
        Resp.INVALID_PROFILE_TYPE,
      );
      assert.equal(
        (await ask(sock, Cmd.IMPORT, { name: "../evil", content: PROFILE })).code,
        Resp.INVALID_PROFILE_TYPE,
      );
      assert.equal((await ask(sock, Cmd.IMPORT, { type: 5 })).code, Resp.JSON_INVALID);
      await Deno.writeTextFile(join(src.path, "big.ovpn"), "#".repeat(10_241));
      assert.equal(
        (await ask(sock, Cmd.IMPORT, { type: "new-from-ovpn", path: join(src.path, "big.ovpn") }))
          .code,
        Resp.IMPORT_TOO_LARGE,
      );
      await Deno.writeTextFile(join(src.path, "empty.ovpn"), "");
      assert.equal(
        (await ask(sock, Cmd.IMPORT, { type: "new-from-ovpn", path: join(src.path, "empty.ovpn") }))
          .code,
        Resp.IMPORT_TOO_LARGE,
      );
      assert.equal(
        (await ask(sock, Cmd.IMPORT, { name: "inline1", content: "x".repeat(10_241) })).code,
        Resp.IMPORT_TOO_LARGE,
      );
      assert.equal(
        (await ask(sock, Cmd.IMPORT, { name: "inline1", content: PROFILE })).code,
        Resp.OK,
      );
      const all = await ask(sock, Cmd.STATUS, "all");
      assert.deepEqual((all.data as { name: string }[]).map((s) => s.name), [
        "home",
        "inline1",
        "office",
      ]);
    });

    await t.step("IMPORT of a Tunnelblick bundle inlines its files (DER converted)", async () => {
      await using src = await tempDir("cvtblk");
      const res = join(src.path, "Work.tblk", "Contents", "Resources");
      await Deno.mkdir(res, { recursive: true });
      await sh([
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(res, "client.key"),
        "-out",
        join(res, "ca.pem"),
        "-days",
        "2",
        "-subj",
        "/CN=pcv-tblk",
      ]);
      await sh([
        "openssl",
        "x509",
        "-in",
        join(res, "ca.pem"),
        "-outform",
        "DER",
        "-out",
        join(res, "ca.der"),
      ]);
      await Deno.writeTextFile(
        join(res, "config.ovpn"),
        `${PROFILE}ca ca.der\ncert ca.pem\nkey client.key\n`,
      );
      const r = await ask(sock, Cmd.IMPORT, {
        type: "new-from-tblk",
        path: join(src.path, "Work.tblk"),
      });
      assert.equal(r.code, Resp.OK, JSON.stringify(r));
      const text = await Deno.readTextFile(join(env.profiles, "Work.ovpn"));
      assert.match(text, /<ca>\n-----BEGIN CERTIFICATE-----[\s\S]+<\/ca>/);
      assert.match(text, /<key>\n-----BEGIN PRIVATE KEY-----/);
      assert.doesNotMatch(text, /^ca ca\.der/m);
      assert.equal(
        (await ask(sock, Cmd.IMPORT, {
          type: "new-from-tblk",
          path: join(src.path, "nothing.tblk"),
        }))
          .code,
        Resp.INVALID_PROFILE_TYPE,
      );
    });

    await t.step("WRONG_PERMISSION for wide or foreign profiles, with a log line", async () => {
      await writeProfile(env.profiles, "wide", PROFILE, undefined, 0o644);
      await writeProfile(env.profiles, "foreign", PROFILE);
      await Deno.chown(join(env.profiles, "foreign.ovpn"), 65534, 65534);
      const reload = await ask(sock, Cmd.RELOAD);
      assert.equal(reload.code, Resp.OK);
      assert.deepEqual((reload.data as { refused: string[] }).refused.sort(), ["foreign", "wide"]);
      const wide = await ask(sock, Cmd.CONNECT, "wide");
      assert.equal(wide.code, Resp.WRONG_PERMISSION);
      assert.match(String(wide.data), /wide\.ovpn is mode 0644 is wider than 0600|wider than 0600/);
      assert.equal((await ask(sock, Cmd.STATUS, "foreign")).code, Resp.WRONG_PERMISSION);
      assert.match(env.agent!.stderr(), /profile refused.*foreign\.ovpn.*owned by uid 65534/);
      assert.match(env.agent!.stderr(), /profile refused.*wide\.ovpn.*wider than 0600/);
    });

    await t.step("CONNECT says why openvpn cannot start; DISCONNECT of an idle one", async () => {
      const r = await ask(sock, Cmd.CONNECT, "office");
      assert.equal(r.code, Resp.UNKNOWN_ERR);
      assert.match(
        String(r.data),
        /cannot start openvpn: openvpn binary "\/nonexistent\/openvpn" not found/,
      );
      assert.equal(
        (await ask(sock, Cmd.DISCONNECT, "office")).code,
        Resp.CONN_ALREADY_DISCONNECTED,
      );
      assert.equal((await ask(sock, Cmd.CONNECT, "all")).code, Resp.UNKNOWN_ERR);
      const all = await ask(sock, Cmd.DISCONNECT, "all");
      assert.equal(all.code, Resp.OK);
      assert.ok((all.data as { status: string }[]).every((s) => s.status === "DISCONNECTED"));
      const text = await sendRaw(
        sock,
        JSON.stringify({ cmd: Cmd.STATUS, param: "office", json: false }),
      );
      assert.match(text, /^name: office\n\tprofile: .*office\.ovpn\n\tstatus: DISCONNECTED\n/);
      const phrase = await sendRaw(
        sock,
        JSON.stringify({ cmd: Cmd.STATUS, param: "zzz", json: false }),
      );
      assert.match(phrase, /^Connection not found/);
    });

    await t.step(
      "REMOVE deletes a disconnected profile; unknown names are CONN_NOT_FOUND",
      async () => {
        assert.equal((await ask(sock, Cmd.REMOVE, "home")).code, Resp.OK);
        await assert.rejects(Deno.stat(join(env.profiles, "home.ovpn")));
        assert.equal((await ask(sock, Cmd.REMOVE, "home")).code, Resp.CONN_NOT_FOUND);
        assert.equal((await ask(sock, Cmd.REMOVE, { name: "../x" })).code, Resp.CONN_NOT_FOUND);
        assert.equal((await ask(sock, Cmd.REMOVE, { nom: "x" })).code, Resp.JSON_INVALID);
      },
    );

    await t.step("DNS_OVERRIDE enable/status/disable restores the file exactly", async () => {
      const original = "# original\nsearch example.test\nnameserver 10.1.2.3\noptions ndots:2\n";
      await Deno.writeTextFile(env.resolvConf, original, { mode: 0o640 });
      await Deno.chmod(env.resolvConf, 0o640);
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "enable 10.9.9.9,fd12::53")).code, Resp.OK);
      const during = await Deno.readTextFile(env.resolvConf);
      assert.match(during, /^nameserver 10\.9\.9\.9\nnameserver fd12::53\nsearch example\.test\n/m);
      assert.doesNotMatch(during, /10\.1\.2\.3/);
      const st = await ask(sock, Cmd.DNS_OVERRIDE, "status");
      assert.equal(st.code, Resp.OK);
      assert.deepEqual(st.data, {
        enabled: true,
        servers: ["10.9.9.9", "fd12::53"],
        method: "file",
        current: ["10.9.9.9", "fd12::53"],
      });
      // a second enable keeps the first backup
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "enable 10.8.8.8")).code, Resp.OK);
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "disable")).code, Resp.OK);
      assert.equal(await Deno.readTextFile(env.resolvConf), original);
      assert.equal((await Deno.stat(env.resolvConf)).mode! & 0o777, 0o640);
      // the backup is durable: an agent killed while the override is on still restores it
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "enable 10.7.7.7")).code, Resp.OK);
      await env.kill9();
      await env.start();
      const after = await ask(sock, Cmd.DNS_OVERRIDE, "status");
      assert.deepEqual((after.data as { servers: string[] }).servers, ["10.7.7.7"]);
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "disable")).code, Resp.OK);
      assert.equal(await Deno.readTextFile(env.resolvConf), original);
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "enable 999.1.1.1")).code, Resp.JSON_INVALID);
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "flip")).code, Resp.INVALID_CMD);
    });

    await t.step("DNS_OVERRIDE restores a symlinked or absent resolv.conf as it was", async () => {
      const target = join(env.dir, "stub-resolv.conf");
      await Deno.writeTextFile(target, "nameserver 10.5.5.5\n");
      await Deno.remove(env.resolvConf).catch(() => {});
      await sh(["ln", "-s", target, env.resolvConf]);
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "enable 10.9.9.9")).code, Resp.OK);
      assert.ok((await Deno.lstat(env.resolvConf)).isFile);
      assert.equal(await Deno.readTextFile(target), "nameserver 10.5.5.5\n");
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "disable")).code, Resp.OK);
      assert.equal(await Deno.readLink(env.resolvConf), target);
      await Deno.remove(env.resolvConf);
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "enable 10.9.9.9")).code, Resp.OK);
      assert.match(await Deno.readTextFile(env.resolvConf), /nameserver 10\.9\.9\.9/);
      assert.equal((await ask(sock, Cmd.DNS_OVERRIDE, "disable")).code, Resp.OK);
      await assert.rejects(Deno.lstat(env.resolvConf), Deno.errors.NotFound);
    });

    await t.step("SCRIPT_SECURITY enable and disable", async () => {
      assert.equal((await ask(sock, Cmd.SCRIPT_SECURITY, "enable")).code, Resp.OK);
      assert.equal((await ask(sock, Cmd.SCRIPT_SECURITY, "disable")).code, Resp.OK);
    });

    await t.step("ctl: table, --json, exit status and code names", async () => {
      const status = await ctl(["status", "--socket", sock]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^NAME\s+STATUS\s+OPENVPN/);
      assert.match(status.stdout, /\noffice\s+DISCONNECTED\s+DISCONNECTED/);
      const json = await ctl(["status", "office", "--json", "--socket", sock]);
      assert.equal(JSON.parse(json.stdout).data.name, "office");
      const missing = await ctl(["connect", "nope", "--socket", sock]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /CONN_NOT_FOUND/);
      const confdir = await ctl(["confdir", "--socket", sock]);
      assert.equal(confdir.stdout.trim(), env.profiles);
      const notRunning = await ctl(["status", "--socket", join(env.dir, "absent.sock")]);
      assert.equal(notRunning.code, 1);
      assert.match(notRunning.stderr, /COD_NOT_RUNNING/);
      // a listener that hangs up without answering
      const mute = Deno.listen({ transport: "unix", path: join(env.dir, "mute.sock") });
      const accepting = (async () => {
        for await (const c of mute) c.close();
      })();
      const broken = await ctl(["status", "--socket", join(env.dir, "mute.sock")]);
      mute.close();
      await accepting.catch(() => {});
      assert.equal(broken.code, 1);
      assert.match(broken.stderr, /SOCK_CONN/);
    });
  },
);

backendTest("cryptoded service-level codes: conf dir, DNS utilities, client limit", {
  tools: ["ss"],
  root: true,
}, async (t) => {
  // evict_idle off: at the cap an idle client would otherwise be closed to make room (limits)
  await using env = await agentEnv({
    max_clients: 1,
    "limits.evict_idle": false,
    dns_method: "resolvconf",
  });
  await Deno.remove(env.profiles, { recursive: true });
  await Deno.writeTextFile(env.profiles, "not a directory");
  await env.start();
  const sock = env.socket;

  await t.step("INVALID_CONF_DIR when the profile directory is not a directory", async () => {
    assert.equal((await ask(sock, Cmd.GET_CONFDIR)).code, Resp.INVALID_CONF_DIR);
    assert.equal(
      (await ask(sock, Cmd.IMPORT, { name: "x", content: PROFILE })).code,
      Resp.INVALID_CONF_DIR,
    );
    assert.equal((await ask(sock, Cmd.RELOAD)).code, Resp.INVALID_CONF_DIR);
  });

  await t.step("NO_EXIST_DNS_UTIL when the configured utility is missing", async () => {
    const r = await ask(sock, Cmd.DNS_OVERRIDE, "enable 10.9.9.9");
    assert.equal(r.code, Resp.NO_EXIST_DNS_UTIL);
    assert.match(String(r.data), /resolvconf is not installed/);
  });

  await t.step("NO_MEMORY when the client limit is reached", async () => {
    const hold = await Deno.connect({ transport: "unix", path: sock });
    try {
      const raw = await sendRaw(sock, '{"cmd":8}');
      assert.equal(JSON.parse(raw).code, Resp.NO_MEMORY);
    } finally {
      hold.close();
    }
    // the slot frees up again
    let code = -1;
    for (let i = 0; i < 50 && code !== Resp.INVALID_CONF_DIR; i++) {
      code = JSON.parse(await sendRaw(sock, '{"cmd":8}')).code;
    }
    assert.equal(code, Resp.INVALID_CONF_DIR);
  });
});

backendTest("cryptoded ERR_DNS_UTIL when the resolver file cannot be written", {
  tools: ["ss"],
  root: true,
}, async () => {
  await using env = await agentEnv();
  await Deno.mkdir(env.resolvConf); // a directory where the file should be
  await env.start();
  const r = await ask(env.socket, Cmd.DNS_OVERRIDE, "enable 10.9.9.9");
  assert.equal(r.code, Resp.ERR_DNS_UTIL);
  const st = await ask(env.socket, Cmd.DNS_OVERRIDE, "status");
  assert.equal((st.data as { enabled: boolean }).enabled, false);
});

backendTest("cryptoded SUDO_REQUIRED for an unprivileged peer on a group socket", {
  tools: ["ss", "python3"],
  root: true,
}, async () => {
  const shared = await Deno.makeTempDir({ dir: "/tmp", prefix: "pcv-" });
  try {
    await Deno.chmod(shared, 0o755);
    await using env = await agentEnv({ socket_group: "nogroup" }, { socketDir: shared });
    await env.start();
    const info = await Deno.stat(env.socket);
    assert.equal(info.mode! & 0o777, 0o660);
    assert.equal(info.gid, 65534);
    const script = [
      "import socket, sys",
      "for req in sys.argv[2:]:",
      "    s = socket.socket(socket.AF_UNIX)",
      "    s.connect(sys.argv[1])",
      "    s.sendall(req.encode())",
      "    s.shutdown(socket.SHUT_WR)",
      "    data = b''",
      "    while True:",
      "        chunk = s.recv(65536)",
      "        if not chunk: break",
      "        data += chunk",
      "    print(data.decode().strip())",
    ].join("\n");
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [
        "-c",
        script,
        env.socket,
        '{"cmd":4}',
        '{"cmd":2,"param":"all"}',
        '{"cmd":7,"param":"status"}',
      ],
      uid: 65534,
      gid: 65534,
      // its own world-traversable folder: the checkout may sit under a 0700 home or mktemp -d
      cwd: shared,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[0].code, Resp.SUDO_REQUIRED);
    assert.equal(lines[1].code, Resp.OK); // unprivileged commands still work
    assert.equal(lines[2].code, Resp.SUDO_REQUIRED);
    // a root peer on the same socket is identified as root
    assert.equal((await ask(env.socket, Cmd.RELOAD)).code, Resp.OK);
  } finally {
    await Deno.remove(shared, { recursive: true });
  }
});
