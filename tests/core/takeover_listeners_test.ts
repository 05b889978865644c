/**
 * The listener moves of an upgrade, in one process: a Unix socket bound beside a live one and
 * renamed over it (new clients reach it, the old listener keeps its clients and does not remove
 * it, the service's `listenUnix` picks it up), and TCP servers that share a port with
 * SO_REUSEPORT yet still refuse an address someone else holds, held servers that answer once a
 * service claims them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, tempDir } from "../_helpers/mod.ts";
import {
  bindBeside,
  closeUnix,
  holdTcpServers,
  listeningTcpAddresses,
  listeningUnixPaths,
  listenUnix,
  releaseHeldTcpServers,
  serveTcp,
} from "../../lib/core/mod.ts";

async function roundTrip(path: string, listener: Deno.UnixListener): Promise<void> {
  const client = await Deno.connect({ transport: "unix", path });
  const served = await listener.accept();
  await client.write(new Uint8Array([7]));
  const buf = new Uint8Array(1);
  assert.equal(await served.read(buf), 1);
  assert.equal(buf[0], 7);
  client.close();
  served.close();
}

Deno.test("bindBeside + moveIn: new clients reach the new socket, the old one keeps its own", async () => {
  await using dir = await tempDir("beside");
  const path = join(dir.path, "ctl.sock");
  const old = await listenUnix(path, { mode: 0o640 });
  assert.ok(listeningUnixPaths().includes(path));
  const oldClient = await Deno.connect({ transport: "unix", path });
  const oldServed = await old.accept();

  const beside = await bindBeside(path);
  const tmp = join(dir.path, `.ctl.sock.${Deno.pid}.tmp`);
  assert.equal((await Deno.lstat(tmp)).mode! & 0o777, 0o640, "mode copied from the live socket");
  await beside.moveIn();
  await assert.rejects(Deno.lstat(tmp), Deno.errors.NotFound);

  // the service listening on the path gets the moved-in listener
  const fresh = await listenUnix(path, { mode: 0o600 });
  assert.equal((await Deno.lstat(path)).mode! & 0o777, 0o600);
  await roundTrip(path, fresh);
  // the old listener still serves the client it had, and closing it leaves the new socket
  await oldClient.write(new Uint8Array([1]));
  assert.equal(await oldServed.read(new Uint8Array(1)), 1);
  oldClient.close();
  oldServed.close();
  await closeUnix(old, path);
  assert.ok((await Deno.lstat(path)).isSocket);
  await beside.discard(); // claimed: nothing happens
  await roundTrip(path, fresh);
  await closeUnix(fresh, path);
  await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
});

Deno.test("bindBeside: discard before the move removes only the temporary socket", async () => {
  await using dir = await tempDir("beside");
  const path = join(dir.path, "ctl.sock");
  const old = await listenUnix(path);
  const beside = await bindBeside(path);
  await beside.discard();
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name), ["ctl.sock"]);
  await roundTrip(path, old);
  await closeUnix(old, path);
});

Deno.test("serveTcp shares its port only with its own kind: anyone else is AddrInUse", async () => {
  const port = freePort();
  const { server, addr } = await serveTcp(
    { hostname: "127.0.0.1", port },
    () => new Response("first"),
  );
  assert.equal(addr.port, port);
  assert.ok(listeningTcpAddresses().some((a) => a.port === port));
  // a second agent on the same address fails as before SO_REUSEPORT
  await assert.rejects(
    serveTcp({ hostname: "127.0.0.1", port }, () => new Response("second")),
    Deno.errors.AddrInUse,
  );
  await server.shutdown();
  const held = Deno.listen({ hostname: "127.0.0.1", port });
  await assert.rejects(
    serveTcp({ hostname: "127.0.0.1", port }, () => new Response("x")),
    Deno.errors.AddrInUse,
  );
  held.close();
});

Deno.test("held TCP servers serve beside the old one and answer once a service claims them", async () => {
  const port = freePort();
  const old = await serveTcp({ hostname: "127.0.0.1", port }, () => new Response("old"));
  const other = freePort();
  const unused = await serveTcp({ hostname: "127.0.0.1", port: other }, () => new Response("o"));
  assert.deepEqual(
    await holdTcpServers([{ hostname: "127.0.0.1", port }, { hostname: "127.0.0.1", port: other }]),
    { failed: [] },
  );
  await old.server.shutdown();
  await unused.server.shutdown();
  // only the held server is left: a request waits until the service claims it
  const pending = fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
  await new Promise((r) => setTimeout(r, 100));
  const claimed = await serveTcp({ hostname: "127.0.0.1", port }, () => new Response("new"));
  assert.equal(await pending, "new");
  assert.deepEqual(await releaseHeldTcpServers(), [`127.0.0.1:${other}`]);
  await assert.rejects(fetch(`http://127.0.0.1:${other}/`));
  await claimed.server.shutdown();
});
