/**
 * `deno task bench cryptoded [--runs N] [--status-requests N]`: in one run, on this machine,
 * 1. CONNECT → CONNECTED through polyagent (CONNECT sent, then STATUS every 2 ms until it says
 *    CONNECTED), next to the same openvpn
 *    reaching CONNECTED on its own (spawned with a management socket; `hold release` at once and
 *    the time to `>STATE:…CONNECTED`). The difference is the overhead polyagent adds.
 * 2. STATUS `all` latency with 100 profiles (one connection per request, as real clients do), on
 *    the document socket and on the v1.x socket.
 *
 * Needs root, openvpn, ip and openssl; uses `pcv` namespaces, removed at the end.
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Cmd, request, V1Cmd } from "../lib/protocols/cryptoded/mod.ts";
import { agentEnv, vpnLab, writeProfile } from "../tests/cryptoded/_env.ts";

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function summary(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return `median ${pct(s, 0.5).toFixed(1)} ms, mean ${mean.toFixed(1)} ms, min ${
    s[0]!.toFixed(1)
  }, max ${s[s.length - 1]!.toFixed(1)} (n=${s.length})`;
}

/** Plain openvpn: spawn, answer HOLD at once, time to >STATE:CONNECTED. */
async function bareOpenvpn(netns: string, profile: string, dir: string): Promise<number> {
  const mgmt = join(dir, "bare.sock");
  await Deno.remove(mgmt).catch(() => {});
  const started = performance.now();
  const child = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      netns,
      "openvpn",
      "--config",
      profile,
      "--management",
      mgmt,
      "unix",
      "--management-hold",
      "--log",
      join(dir, "bare.log"),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const watcher = Deno.watchFs(dir);
    let conn: Deno.UnixConn | null = null;
    const tryConnect = async () => {
      try {
        conn = await Deno.connect({ transport: "unix", path: mgmt });
      } catch {
        conn = null;
      }
    };
    await tryConnect();
    if (!conn) {
      for await (const ev of watcher) {
        if (!ev.paths.includes(mgmt)) continue;
        for (let i = 0; i < 8 && !conn; i++) {
          await tryConnect();
          if (!conn) await new Promise((r) => setTimeout(r, 2 << i));
        }
        if (conn) break;
      }
    }
    watcher.close();
    const c = conn as Deno.UnixConn | null;
    if (!c) throw new Error("no management socket");
    await c.write(new TextEncoder().encode("state on\nhold release\n"));
    let buf = "";
    for await (const chunk of c.readable) {
      buf += new TextDecoder().decode(chunk);
      if (/>STATE:\d+,CONNECTED/.test(buf)) break;
    }
    const elapsed = performance.now() - started;
    try {
      c.close();
    } catch {
      // closed
    }
    return elapsed;
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

/** Through polyagent: CONNECT, then STATUS until CONNECTED. */
async function throughAgent(socket: string, name: string): Promise<number> {
  const started = performance.now();
  const r = await request(socket, Cmd.CONNECT, name);
  if (r.code !== 0) throw new Error(`CONNECT failed: ${r.raw}`);
  for (;;) {
    // poll every 2 ms: a tight loop would steal the CPU openvpn needs on a 2-core machine
    await new Promise((r) => setTimeout(r, 2));
    const s = await request(socket, Cmd.STATUS, name);
    if ((s.data as { status: string }).status === "CONNECTED") break;
    if ((s.data as { status: string }).status === "DISCONNECTED") {
      throw new Error(`connect failed: ${s.raw}`);
    }
  }
  const elapsed = performance.now() - started;
  const d = await request(socket, Cmd.DISCONNECT, name);
  if (d.code !== 0) throw new Error(`DISCONNECT failed: ${d.raw}`);
  for (;;) {
    const s = await request(socket, Cmd.STATUS, name);
    if ((s.data as { status: string }).status === "DISCONNECTED") break;
  }
  return elapsed;
}

/** Runs the benchmark. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      runs: { type: "string", default: "10" },
      "status-requests": { type: "string", default: "2000" },
    },
  });
  const runs = Number(values.runs);
  const statusRequests = Number(values["status-requests"]);
  if (Deno.uid() !== 0) {
    console.error("bench cryptoded needs root (network namespaces, openvpn)");
    Deno.exit(2);
  }
  await using lab = await vpnLab();
  await using env = await agentEnv({ netns: lab.clientNs, bytecount_interval: 1 });
  const profile = lab.profile();
  await writeProfile(env.profiles, "bench", profile);
  for (let i = 0; i < 100; i++) {
    await writeProfile(env.profiles, `p${String(i).padStart(3, "0")}`, profile);
  }
  await Deno.writeTextFile(join(env.dir, "bare.ovpn"), profile, { mode: 0o600 });
  await env.start();

  console.log(`cryptoded benchmark (${runs} alternating runs; shared 2-vCPU machine, noisy)`);
  const bare: number[] = [];
  const agent: number[] = [];
  // warm-up one of each
  await bareOpenvpn(lab.clientNs, join(env.dir, "bare.ovpn"), env.dir);
  await throughAgent(env.socket, "bench");
  for (let i = 0; i < runs; i++) {
    bare.push(await bareOpenvpn(lab.clientNs, join(env.dir, "bare.ovpn"), env.dir));
    agent.push(await throughAgent(env.socket, "bench"));
  }
  const mb = pct([...bare].sort((a, b) => a - b), 0.5);
  const ma = pct([...agent].sort((a, b) => a - b), 0.5);
  console.log(`openvpn alone, spawn → CONNECTED:        ${summary(bare)}`);
  console.log(`polyagent, CONNECT → STATUS CONNECTED:  ${summary(agent)}`);
  console.log(
    `overhead (median difference): ${(ma - mb).toFixed(1)} ms (target ≤ 50 ms); ratio ${
      (ma / mb).toFixed(2)
    }×`,
  );

  // STATUS all with 101 profiles (100 + the bench one), connection per request, on both sockets
  for (
    const [dialect, socket, cmd] of [
      ["document", env.socket, Cmd.STATUS],
      ["v1.x", env.v1Socket, V1Cmd.STATUS],
    ] as const
  ) {
    const lat = await statusLatency(socket, cmd, statusRequests);
    console.log(
      `STATUS all (101 profiles, ${dialect} socket), ${statusRequests} requests, one connection ` +
        `each: p50 ${pct(lat, 0.5).toFixed(2)} ms, p90 ${pct(lat, 0.9).toFixed(2)} ms, p99 ${
          pct(lat, 0.99).toFixed(2)
        } ms (target p99 ≤ 5 ms), max ${lat[lat.length - 1]!.toFixed(2)} ms`,
    );
  }
}

/** Sorted latencies of `n` STATUS all requests (after 100 to warm up). */
async function statusLatency(socket: string, cmd: number, n: number): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < 100; i++) await request(socket, cmd, "all");
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await request(socket, cmd, "all");
    lat.push(performance.now() - t0);
    if (r.code !== 0 || (r.data as unknown[]).length !== 101) throw new Error("bad STATUS reply");
  }
  return lat.sort((a, b) => a - b);
}
