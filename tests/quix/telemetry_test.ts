import assert from "node:assert/strict";
import { cpus } from "node:os";
import { sh, worldTempDir } from "../_helpers/mod.ts";
import { readProcFile } from "../../lib/backends/procfs/mod.ts";
import {
  busyFractions,
  memoryUsage,
  parseCpuTimes,
  parseDf,
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

Deno.test("parseDf() keeps /dev sources once, as [used, free] bytes", () => {
  const disks = parseDf([
    "Filesystem     1-blocks      Used Available Capacity Mounted on",
    "/dev/vda   270553174016 23372623872 233320525824      10% /",
    "tmpfs        1048576         0   1048576       0% /run",
    "/dev/vda   270553174016 23372623872 233320525824      10% /mnt/bind",
    "/dev/vdb      1000    400    600      40% /data with space",
  ].join("\n"));
  assert.deepEqual(disks, {
    "/dev/vda": [23372623872, 233320525824],
    "/dev/vdb": [400, 600],
  });
});

Deno.test("quix telemetry: answers only the requested stat types with values that match /proc", async () => {
  await using dir = await worldTempDir("pqx-tele");
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
    const procStat = (await readProcFile("/proc/stat")) ?? "";
    const cores = procStat.split("\n").filter((l) => /^cpu\d/.test(l));
    assert.equal(cores.length, cpus().length);
    const cpu = t.ttl_cpu_usage as number[];
    assert.equal(cpu.length, cores.length);
    for (const v of cpu) assert.ok(v >= 0 && v <= 1);

    const mem = t.ttl_mem_usage as number[];
    const meminfo = (await readProcFile("/proc/meminfo")) ?? "";
    const total = Number(/MemTotal:\s+(\d+)/.exec(meminfo)![1]) / 1024;
    const sum = mem[0]! + mem[1]! + mem[2]!;
    assert.ok(Math.abs(sum - total) < total * 0.05, `${sum} vs MemTotal ${total}`);
    const free = Number(/MemFree:\s+(\d+)/.exec(meminfo)![1]) / 1024;
    assert.ok(Math.abs(mem[2]! - free) < total * 0.05, `${mem[2]} vs MemFree ${free}`);

    const disks = t.disk_util as Record<string, [number, number]>;
    const df = (await sh(["df", "-P", "-B1", "/"])).stdout.trim().split("\n")[1]!.split(/\s+/);
    if (df[0]!.startsWith("/dev/")) {
      const [used, avail] = disks[df[0]!]!;
      assert.ok(Math.abs(used - Number(df[2])) < 512 * 1024 * 1024, `${used} vs ${df[2]}`);
      assert.ok(Math.abs(avail - Number(df[3])) < 512 * 1024 * 1024, `${avail} vs ${df[3]}`);
    }
    for (const [dev, pair] of Object.entries(disks)) {
      assert.match(dev, /^\/dev\//);
      assert.ok(pair[0] >= 0 && pair[1] >= 0);
    }
    // No tunnel: the document's object, with a down state, not null.
    const tunHere = Deno.networkInterfaces().some((a) => /^(tun|tap)\d*$/.test(a.name));
    if (tunHere) assert.equal((t.vpn_status as { state: string }).state, "up");
    else {
      assert.deepEqual(t.vpn_status, {
        ifname: "quixwg0",
        conn_type: "wireguard",
        conn_host: "",
        conn_ip4: "",
        conn_ip6: "",
        state: "down",
      });
    }
  } finally {
    await agent.stop();
    await server.stop();
  }
});
