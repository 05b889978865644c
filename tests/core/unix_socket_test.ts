/**
 * Unix sockets never remove what they did not create: a regular file, a directory, a symlink or a
 * live socket at the configured path is an error and stays as it was, also after the failed
 * service is stopped (which used to delete it, so the next retry succeeded); a dead socket is
 * replaced, and close removes only the socket its listener bound. Checked for the core helper and
 * for the sozu command socket and the quix status socket.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sh, tempDir } from "../_helpers/mod.ts";
import { closeUnix, createLogger, listenUnix } from "../../lib/core/mod.ts";
import { QuixStatusSocket } from "../../lib/protocols/quix/mod.ts";
import { SozuCommandServer } from "../../lib/protocols/sozu/server.ts";

/** Puts each kind of non-socket at a path; returns how to check it is untouched. */
async function obstacles(dir: string) {
  const file = join(dir, "file");
  await Deno.writeTextFile(file, "x\n");
  const emptyDir = join(dir, "empty-dir");
  await Deno.mkdir(emptyDir);
  const link = join(dir, "link");
  await sh(["ln", "-s", file, link]); // Deno.symlink needs unscoped permissions
  return {
    paths: [file, emptyDir, link],
    async untouched() {
      assert.equal(await Deno.readTextFile(file), "x\n");
      assert.ok((await Deno.stat(emptyDir)).isDirectory);
      assert.equal(await Deno.readLink(link), file);
    },
  };
}

Deno.test("listenUnix refuses anything that is not a dead socket, and close keeps it", async () => {
  await using dir = await tempDir("usock");
  const o = await obstacles(dir.path);
  for (const path of o.paths) {
    await assert.rejects(
      listenUnix(path),
      (e: Error) =>
        e instanceof Deno.errors.AlreadyExists && /not a socket: refusing/.test(e.message),
    );
    await closeUnix(null, path); // what a failed service's stop does
  }
  await o.untouched();
  // a live socket is refused and kept; a dead one is replaced
  const live = join(dir.path, "live.sock");
  const first = await listenUnix(live);
  await assert.rejects(listenUnix(live), Deno.errors.AddrInUse);
  first.close(); // dies without removing its file, as a killed agent
  const second = await listenUnix(live);
  assert.equal((await Deno.stat(live)).mode! & 0o777, 0o600);
  // close removes its own socket, but not one bound in its place by someone else
  await closeUnix(second, live);
  await assert.rejects(Deno.lstat(live), Deno.errors.NotFound);
  const third = await listenUnix(live);
  await Deno.remove(live);
  const other = Deno.listen({ transport: "unix", path: live });
  await closeUnix(third, live);
  assert.ok((await Deno.lstat(live)).isSocket, "the other listener's socket stays");
  other.close();
});

Deno.test("the sozu command socket and the quix status socket keep a non-socket path", async () => {
  await using dir = await tempDir("usock");
  const o = await obstacles(dir.path);
  const log = createLogger("t", { sink: () => {} });
  for (const path of o.paths) {
    await assert.rejects(
      SozuCommandServer.listen(path, {} as never, () => {}),
      /not a socket: refusing/,
    );
    const quix = new QuixStatusSocket(path, {
      status: () => ({}),
      vpnRefresh: () => Promise.resolve({}),
    }, log);
    await assert.rejects(quix.listen(), /not a socket: refusing/);
    await quix.close();
  }
  await o.untouched();
});
