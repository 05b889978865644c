import assert from "node:assert/strict";
import { statfsSync } from "node:fs";
import { tempDir } from "../_helpers/mod.ts";
import {
  busyFractions,
  memoryUsage,
  parseCpuTimes,
  parseMountinfo,
} from "../../lib/backends/telemetry/mod.ts";
import { QuixTestServer } from "./_server.ts";
import { startAgent, writeConfig } from "./_agent.ts";

Deno.test("parseCpuTimes() and busyFractions() compute per-core fractions", () => {
  const a = parseCpuTimes("cpu  1 1 1 1\ncpu0 100 0 100 800 0 0 0 0\ncpu1 0 0 0 1000 0 0 0 0\n");
  const b = parseCpuTimes("cpu  1 1 1 1\ncpu0 150 0 150 900 0 0 0 0\ncpu1 0 0 0 1100 0 0 0 0\n");
  assert.equal(a.length, 2);
  assert.deepEqual(busyFractions(a, b), [0.5, 0]);
});

Deno.test("memoryUsage() follows free(1): used = total - free - buff/cache", () => {
  const text =
    "MemTotal: 4096000 kB\nMemFree: 1024000 kB\nBuffers: 102400 kB\nCached: 512000 kB\nSReclaimable: 10240 kB\n";
  const [used, cache, free] = memoryUsage(text);
  assert.equal(cache, Math.round((102400 + 512000 + 10240) / 1024));
  assert.equal(free, 1000);
  assert.equal(used, Math.round((4096000 - 1024000 - 102400 - 512000 - 10240) / 1024));
});

Deno.test("parseMountinfo() keeps /dev sources, unescapes, prefers the shortest mount point", () => {
  const mounts = parseMountinfo([
    "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw",
    "23 22 8:1 /x /mnt/a\\040b rw - ext4 /dev/sda1 rw",
    "24 22 0:5 / /proc rw - proc proc rw",
    "25 22 8:16 / /data\\040x rw - xfs /dev/sdb rw",
  ].join("\n"));
  assert.deepEqual(mounts.map((m) => [m.source, m.mountPoint]), [
    ["/dev/sda1", "/"],
    ["/dev/sdb", "/data x"],
  ]);
});

Deno.test("quix telemetry: answers only the requested stat types with values that match /proc", async () => {
  await using dir = await tempDir("pqx-tele");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url);
  await using agent = await startAgent(world);
  try {
    const s = await server.nextAuthenticated();
    const only = await server.request(s, "telemetry", { stat_types: ["ttl_mem_usage"] }) as {
      tele_data: Record<string, unknown>;
    };
    assert.deepEqual(Object.keys(only.tele_data), ["ttl_mem_usage"]);

    const all = await server.request(s, "telemetry", {
      stat_types: ["ttl_cpu_usage", "ttl_mem_usage", "disk_util", "vpn_status"],
    }) as { tele_data: Record<string, unknown> };
    const t = all.tele_data;
    const cores = Deno.readTextFileSync("/proc/stat").split("\n").filter((l) => /^cpu\d/.test(l));
    const cpu = t.ttl_cpu_usage as number[];
    assert.equal(cpu.length, cores.length);
    for (const v of cpu) assert.ok(v >= 0 && v <= 1);

    const mem = t.ttl_mem_usage as number[];
    const total = Number(/MemTotal:\s+(\d+)/.exec(Deno.readTextFileSync("/proc/meminfo"))![1]) /
      1024;
    const sum = mem[0]! + mem[1]! + mem[2]!;
    assert.ok(Math.abs(sum - total) < total * 0.05, `${sum} vs MemTotal ${total}`);

    const disks = t.disk_util as Record<string, [number, number]>;
    const rootLine = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").find((l) =>
      l.split(" ")[4] === "/"
    )!;
    const rootSource = rootLine.slice(rootLine.indexOf(" - ") + 3).split(" ")[1]!;
    if (rootSource.startsWith("/dev/")) {
      const [used, free] = disks[rootSource]!;
      const fs = statfsSync("/");
      assert.ok(Math.abs(free - fs.bavail * fs.bsize) < 512 * 1024 * 1024);
      assert.ok(Math.abs(used - (fs.blocks - fs.bfree) * fs.bsize) < 512 * 1024 * 1024);
    }
    for (const [dev, pair] of Object.entries(disks)) {
      assert.match(dev, /^\/dev\//);
      assert.ok(pair[0] >= 0 && pair[1] >= 0);
    }
    assert.ok("vpn_status" in t);
  } finally {
    await agent.stop();
    await server.stop();
  }
});
