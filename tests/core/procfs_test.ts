import assert from "node:assert/strict";
import {
  listProcDirs,
  openFdCount,
  readProcFile,
  readProcFiles,
} from "../../lib/backends/procfs/mod.ts";

Deno.test("readProcFiles() reads several /proc files in one call, skipping missing ones", async () => {
  const stat = `/proc/${Deno.pid}/stat`;
  const statm = `/proc/${Deno.pid}/statm`;
  const files = await readProcFiles(["/proc/meminfo", stat, statm, "/proc/999999999/stat"]);
  assert.match(files.get("/proc/meminfo") ?? "", /^MemTotal:\s+\d+ kB$/m);
  assert.match(files.get(stat) ?? "", new RegExp(`^${Deno.pid} \\(`));
  assert.match(files.get(statm) ?? "", /^\d+ \d+ /);
  assert.equal(files.has("/proc/999999999/stat"), false);
});

Deno.test("readProcFile() keeps NUL-separated content such as cmdline", async () => {
  const cmdline = await readProcFile(`/proc/${Deno.pid}/cmdline`);
  assert.ok(cmdline?.includes("\0"));
  assert.equal(await readProcFile("/proc/999999999/cmdline"), null);
});

Deno.test("listProcDirs() lists fd symlinks with their targets", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const entries = await listProcDirs([`/proc/${Deno.pid}/fd`]);
    assert.ok(entries.some((e) => /^socket:\[\d+\]$/.test(e.target)), "a socket fd is listed");
    // Other tests' handles may close between the two listings, so only the order of magnitude is stable.
    const count = await openFdCount();
    assert.ok(count >= 3, `openFdCount() = ${count}`);
  } finally {
    listener.close();
  }
});
