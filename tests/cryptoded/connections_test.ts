/**
 * The connection set without root: every command still answers, and CONNECT says why openvpn
 * cannot start (the dev configuration run by a normal user).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../_helpers/mod.ts";
import { createLogger, DomainError, runCommand, StateStore } from "../../lib/core/mod.ts";
import { CryptodedConnections, emptySaved } from "../../lib/protocols/cryptoded/tunnels/mod.ts";
import { cryptodedConfigSchema } from "../../lib/protocols/cryptoded/config.ts";
import { loadCryptodedBackends } from "../../lib/protocols/cryptoded/definition.ts";
import { cryptodedFailure } from "../../lib/protocols/cryptoded/errors.ts";

Deno.test("CryptodedConnections without root: CONNECT reports why openvpn cannot start", async () => {
  await using dir = await tempDir("cvconn");
  const profiles = join(dir.path, "vpn.d");
  await Deno.mkdir(profiles);
  await Deno.writeTextFile(join(profiles, "home.ovpn"), "client\n", { mode: 0o600 });
  await Deno.chmod(join(profiles, "home.ovpn"), 0o600);
  const log = createLogger("t", { sink: () => {} });
  const saved = await new StateStore(join(dir.path, "state"), log).open("cryptoded", {
    version: 1,
    empty: emptySaved,
  });
  const config = cryptodedConfigSchema().parse({ enabled: true, profile_dir: profiles });
  const backends = (await loadCryptodedBackends())({
    config,
    runDir: join(dir.path, "run"),
    logDir: join(dir.path, "log"),
    runner: runCommand,
    log,
  });
  // the agent as a normal user, whoever runs the test
  const ownUid = (Deno.uid() ?? 0) === 0 ? 65534 : Deno.uid()!;
  const c = new CryptodedConnections({
    config,
    backends: { ...backends, ownUid },
    saved,
    log,
    agentUser: "",
  });
  await c.load();
  assert.deepEqual(c.names(), ["home"]);
  await assert.rejects(c.connect("home"), (e: unknown) => {
    assert.ok(e instanceof DomainError);
    assert.equal(cryptodedFailure(e, log).resp, "ERR_INVALID_OVPN_BIN");
    assert.match(
      e.message,
      /cannot start openvpn: the agent runs as uid \d+, and openvpn needs root/,
    );
    return true;
  });
  const [s] = c.status({ all: false, name: "home" });
  assert.equal(s!.status, "DISCONNECTED");
  assert.match(s!.lastError ?? "", /needs root/);
  await c.setScriptSecurity(true);
  assert.equal(saved.value.scriptSecurity, true);
});
