/**
 * The built-in MASQ Node's settings (password hash, configuration) on a full or read-only disk:
 * a change that cannot be written is refused naming the cause, the Node keeps answering with what
 * is on disk, a reopen reads the last acknowledged settings, and writes succeed once the disk is
 * back. (The Node runs as its own process; its store is opened here on the real faulty disk.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openNodeDocument } from "../../lib/backends/masq_node/mod.ts";
import { silentLogger } from "../../lib/core/mod.ts";
import { NodeStore } from "../../lib/protocols/masq/node/node_store.ts";
import { backendTest } from "../_helpers/mod.ts";
import { mountSmallDisk, type SmallDisk } from "./tmpfs.ts";

function openStore(dir: string): Promise<NodeStore> {
  return NodeStore.open((options) => openNodeDocument(dir, options, silentLogger()));
}

async function refusedThenBack(
  fault: (disk: SmallDisk, on: boolean) => Promise<void>,
  cause: RegExp,
): Promise<void> {
  const base = await Deno.makeTempDir({ dir: "/tmp", prefix: "polyagent-node-" });
  try {
    await using disk = await mountSmallDisk(join(base, "disk"), 256);
    const dir = join(disk.path, "chain");
    const store = await openStore(dir);
    await store.setPassword("first");
    await store.setConfig("gas-price", "4");
    await fault(disk, true);
    await assert.rejects(() => store.setPassword("second"), cause);
    await assert.rejects(() => store.setConfig("gas-price", "9"), cause);
    // what the Node answers from is what is on disk
    assert.equal(await store.passwordMatches("first"), true);
    assert.equal(store.data.config["gas-price"], "4");
    const reopened = await openStore(dir);
    assert.equal(await reopened.passwordMatches("first"), true);
    assert.equal(reopened.data.config["gas-price"], "4");
    await fault(disk, false);
    await store.setPassword("second");
    assert.equal(await (await openStore(dir)).passwordMatches("second"), true);
    assert.deepEqual(disk.tempFiles("chain"), []);
  } finally {
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}

backendTest(
  "faults: the MASQ Node's settings on a full disk: refused naming ENOSPC, the acknowledged ones kept",
  { root: true, tools: ["mount", "umount", "dd"] },
  () =>
    refusedThenBack(
      (disk, on) => on ? disk.fill() : disk.free(),
      /ENOSPC/,
    ),
);

backendTest(
  "faults: the MASQ Node's settings on a read-only disk: refused naming EROFS, the acknowledged ones kept",
  { root: true, tools: ["mount", "umount"] },
  () => refusedThenBack((disk, on) => disk.readOnly(on), /EROFS/),
);
