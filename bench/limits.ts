/**
 * `deno task bench limits`: the agent on its dev config (ports and directories moved to free ones
 * and a temporary folder) under abuse, listener by listener: `--clients N` slowloris clients (an
 * unfinished frame or request head, one more byte every 2 s) and N idle clients (connected after
 * one complete exchange — an open WebSocket, a keep-alive connection — or, on the Unix sockets,
 * connected and silent) are opened, then a normal client is timed (a fresh connection, one
 * request, its reply) right after the crowd's burst of connects (a Unix socket's accept queue may
 * still be draining) and again once the crowd has been held for `--seconds S`. Prints per
 * listener the normal client's latencies, how many of the crowd the agent still holds after
 * `--seconds S`, and the agent's RSS (VmRSS of its process) before, under the crowd, and after
 * the crowd left; then rows with `--idle N` idle WebSocket clients on
 * MASQ and Intervirt and N idle keep-alive proxy connections at once (past a listener's cap the
 * longest idle are closed, so "held" shows what the agent kept). Last, the floor any Deno
 * server pays per idle connection: `--idle N` connections held by bench/_idle_floor.ts (one
 * 64-byte read pending each, nothing else), its RSS per connection, and what that floor plus the
 * agent's RSS at start comes to for N idle clients.
 *
 * Options: --clients N (200), --idle N (= clients), --seconds S (5), --samples N (20),
 * --rounds N (2: idle crowd rounds; RSS climbing round after round would be a leak),
 * --idle-on masq,intervirt,proxy (the listeners of the idle rounds; "" for none),
 * --only admin,proxy,masq,intervirt,sozu,cryptoded (the listeners of the crowd rows).
 *
 * @module
 */
import { join } from "node:path";
import { percentile, printTable } from "./_util.ts";
import { freePort, ROOT, spawnAgent, tempDir } from "../tests/_helpers/mod.ts";
import { SozuClient } from "../lib/protocols/sozu/mod.ts";
import { connectUnix } from "../lib/core/mod.ts";

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Raises the open-file limit of `pid` (the bench itself, the agent) with util-linux prlimit. */
async function raiseNofile(pid: number, n: number): Promise<void> {
  await new Deno.Command("prlimit", { args: ["--pid", String(pid), `--nofile=${n}:${n}`] })
    .output().catch(() => {});
}

async function rssKiB(pid: number): Promise<number> {
  const out = await new Deno.Command("grep", { args: ["VmRSS", `/proc/${pid}/status`] }).output();
  return Number(/(\d+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? NaN);
}

/** One listener under test: how to reach it, start a slow or idle client, and time a normal one. */
interface Target {
  name: string;
  connect(): Promise<Deno.Conn>;
  /** The first bytes of a request a slowloris client sends (never finished). */
  slowHead: string;
  /** Opens one idle client; resolves to something to close later. */
  idle(): Promise<{ close(): void; open(): boolean }>;
  /** One normal request on a fresh connection. */
  normal(): Promise<void>;
}

function tcp(port: number) {
  return () => Deno.connect({ hostname: "127.0.0.1", port });
}

/**
 * A Unix client connects as a blocking connect(2) would (sozu's and cryptoded's own clients do
 * too): while the agent's accept queue is full after a burst, it waits instead of failing at once
 * with EAGAIN; the wait counts in the normal client's time.
 */
function unix(path: string) {
  return () => connectUnix(path, 5000);
}

/** Reads until `done(text)` or EOF. */
async function readUntil(conn: Deno.Conn, done: (text: string) => boolean): Promise<string> {
  const buf = new Uint8Array(16384);
  let text = "";
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    text += new TextDecoder().decode(buf.subarray(0, n));
    if (done(text)) break;
  }
  return text;
}

/** A connection that stays open until closed; `open()` is false once the agent closed it. */
function held(conn: Deno.Conn): { close(): void; open(): boolean } {
  let open = true;
  const sink = new Uint8Array(256);
  void (async () => {
    try {
      while ((await conn.read(sink)) !== null) { /* drain */ }
    } catch { /* reset */ }
    open = false;
  })();
  return {
    close: () => {
      try {
        conn.close();
      } catch { /* closed */ }
    },
    open: () => open,
  };
}

/** One request on a fresh connection; throws when the reply is a refusal (a cap, a deadline). */
async function request(connect: () => Promise<Deno.Conn>, bytes: string, end: RegExp) {
  const conn = await connect();
  try {
    await conn.write(enc.encode(bytes));
    const reply = await readUntil(conn, (t) => end.test(t));
    if (reply === "" || /too many|HTTP\/1\.1 50[23]/.test(reply)) {
      throw new Error(`refused: ${reply.slice(0, 80)}`);
    }
  } finally {
    conn.close();
  }
}

function webSocket(url: string, protocol?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`WebSocket ${url} failed`));
  });
}

async function wsRequest(url: string, protocol: string | undefined, message: string) {
  const ws = await webSocket(url, protocol);
  await new Promise<void>((resolve) => {
    ws.onmessage = () => resolve();
    ws.onclose = () => resolve();
    ws.send(message);
  });
  ws.close();
}

function wsIdle(url: string, protocol?: string) {
  return async () => {
    const ws = await webSocket(url, protocol);
    let open = true;
    ws.onclose = () => open = false;
    return { close: () => ws.close(), open: () => open };
  };
}

const HTTP_GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
const HTTP_END = /\r\n\r\n[\s\S]*$/;

function targets(dir: string, ports: Record<string, number>): Target[] {
  const run = join(dir, "run");
  const http = (name: string, port: number, path: string): Target => ({
    name,
    connect: tcp(port),
    slowHead: `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`,
    idle: async () => {
      const conn = await tcp(port)();
      await conn.write(enc.encode(HTTP_GET(path)));
      await readUntil(conn, (t) => HTTP_END.test(t));
      return held(conn);
    },
    normal: () =>
      request(tcp(port), HTTP_GET(path).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"), /$^/),
  });
  const masqUrl = `ws://127.0.0.1:${ports.masq}/`;
  const ivUrl = `ws://127.0.0.1:${ports.intervirt}/containerManagement`;
  return [
    http("admin", ports.admin!, "/healthz"),
    http("proxy", ports.proxy!, "/"),
    {
      name: "masq",
      connect: tcp(ports.masq!),
      slowHead: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n",
      idle: wsIdle(masqUrl, "MASQNode-UIv2"),
      normal: () =>
        wsRequest(masqUrl, "MASQNode-UIv2", '{"opcode":"bogus","contextId":1,"payload":{}}'),
    },
    {
      name: "intervirt",
      connect: tcp(ports.intervirt!),
      slowHead: "GET /containerManagement HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n",
      idle: wsIdle(ivUrl),
      normal: () => wsRequest(ivUrl, undefined, '{"type":"Bogus","refID":"1"}'),
    },
    {
      name: "sozu",
      connect: unix(join(run, "sozu.sock")),
      slowHead: '{"id":"slow","version":0,"type":"DUMP_STATE"',
      idle: async () => held(await unix(join(run, "sozu.sock"))()),
      normal: () =>
        request(unix(join(run, "sozu.sock")), '{"id":"n","version":0,"type":"DUMP_STATE"}\0', /\0/),
    },
    {
      name: "cryptoded",
      connect: unix(join(run, "rvd")),
      slowHead: '{"cmd": 4, "param": ',
      idle: async () => held(await unix(join(run, "rvd"))()),
      normal: () => request(unix(join(run, "rvd")), '{"cmd": 99}', /\}/),
    },
  ];
}

/** Routes every request on the proxy listener to the bench's backend. */
async function route(socket: string, proxyPort: number, backendPort: number): Promise<void> {
  const c = await SozuClient.connect(socket, 10_000);
  const order = async (type: string, data: unknown) => {
    const r = await c.request({ type: "PROXY", data: { type, data } }, { timeoutMs: 10_000 });
    if (r.status !== "OK") throw new Error(`${type}: ${r.message}`);
  };
  try {
    await order("ADD_APPLICATION", { app_id: "bench" });
    await order("ADD_HTTP_FRONT", {
      app_id: "bench",
      address: `127.0.0.1:${proxyPort}`,
      hostname: "127.0.0.1",
      path_begin: "/",
    });
    await order("ADD_BACKEND", {
      app_id: "bench",
      backend_id: "b0",
      address: `127.0.0.1:${backendPort}`,
    });
  } finally {
    c.close();
  }
}

/** Opens `n` clients with `open`, 50 at a time; failures are counted, not fatal. */
async function crowd<T>(
  n: number,
  open: () => Promise<T>,
): Promise<{ items: T[]; failed: number }> {
  const items: T[] = [];
  let failed = 0;
  for (let i = 0; i < n; i += 50) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(50, n - i) }, () => open()),
    );
    for (const r of batch) r.status === "fulfilled" ? items.push(r.value) : failed++;
  }
  return { items, failed };
}

/** A slowloris client: the head's bytes, then one more byte every 2 s. */
async function slowClient(t: Target) {
  const conn = await t.connect();
  await conn.write(enc.encode(t.slowHead));
  const h = held(conn);
  const timer = setInterval(() => {
    if (!h.open()) return clearInterval(timer);
    conn.write(enc.encode("x")).catch(() => clearInterval(timer));
  }, 2000);
  return { close: () => (clearInterval(timer), h.close()), open: h.open };
}

async function timeNormal(t: Target, samples: number): Promise<string> {
  const times: number[] = [];
  let failed = 0;
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    try {
      await Promise.race([
        t.normal(),
        sleep(5000).then(() => Promise.reject(new Error("timeout"))),
      ]);
      times.push(performance.now() - t0);
    } catch {
      failed++;
    }
  }
  const p = (q: number) => percentile(times, q).toFixed(1);
  return `${p(50)} / ${p(95)} / ${p(100)}${failed ? ` (${failed} failed)` : ""}`;
}

/** Runs the bench. */
export async function run(args: string[]): Promise<void> {
  const clients = arg(args, "--clients", 200);
  const idleN = arg(args, "--idle", clients);
  const seconds = arg(args, "--seconds", 5);
  const samples = arg(args, "--samples", 20);
  const rounds = arg(args, "--rounds", 2);
  const on = args.indexOf("--idle-on");
  const idleOn = on >= 0
    ? args[on + 1]!.split(",").filter(Boolean)
    : ["masq", "intervirt", "proxy"];
  const o = args.indexOf("--only");
  const only = o >= 0 ? args[o + 1]!.split(",") : null;
  const nofile = Math.max(4096, 2 * (6 * 2 * clients + 3 * idleN) + 1024);
  await raiseNofile(Deno.pid, nofile);
  await using dir = await tempDir("bench-limits");
  const ports = {
    admin: freePort(),
    proxy: freePort(),
    masq: freePort(),
    intervirt: freePort(),
  };
  const sets = [
    `agent.state_dir=${dir.path}/state`,
    `agent.run_dir=${dir.path}/run`,
    `agent.log_dir=${dir.path}/log`,
    "agent.log_level=error",
    `admin.listen=127.0.0.1:${ports.admin}`,
    `sozu.command_socket=${dir.path}/run/sozu.sock`,
    `sozu.listeners=["127.0.0.1:${ports.proxy}"]`,
    // every bench client comes from 127.0.0.1: the proxy's per-address cap (256) would refuse the
    // crowd past 256 and then the normal client too; the rows measure the listener caps instead
    "sozu.max_connections_per_client=0",
    `cryptoded.socket=${dir.path}/run/rvd`,
    `cryptoded.pid_file=${dir.path}/run/rvd.pid`,
    `cryptoded.v1_socket=${dir.path}/run/cryptoded.sock`,
    `cryptoded.v1_pid_file=${dir.path}/run/cryptoded.pid`,
    `cryptoded.profile_dir=${dir.path}/vpn.d`,
    `cryptoded.resolv_conf=${dir.path}/resolv.conf`,
    `intervirt.listen=127.0.0.1:${ports.intervirt}`,
    `intervirt.lxc_path=${dir.path}/lxc`,
    `masq.ui_port=${ports.masq}`,
    `masq.data_root=${dir.path}/masq`,
  ].flatMap((s) => ["--set", s]);
  await using agent = spawnAgent({
    args: ["serve", "--config", join(ROOT, "config/dev.toml"), ...sets],
  });
  await agent.waitForLine(/masq/i, 30_000).catch(() => {});
  await sleep(1000);
  await raiseNofile(agent.pid, nofile);
  const backend = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("ok\n"),
  );
  await route(join(dir.path, "run/sozu.sock"), ports.proxy, backend.addr.port);
  const base = await rssKiB(agent.pid);
  console.log(
    `agent pid ${agent.pid}, RSS at start ${(base / 1024).toFixed(1)} MB; ` +
      `${clients} slowloris + ${clients} idle clients per listener, held ${seconds} s`,
  );
  const rows: string[][] = [];
  for (const t of targets(dir.path, ports)) {
    if (only && !only.includes(t.name)) continue;
    const before = await rssKiB(agent.pid);
    const slow = await crowd(clients, () => slowClient(t));
    const idle = await crowd(clients, () => t.idle());
    const latency = await timeNormal(t, samples);
    await sleep(seconds * 1000);
    const settled = await timeNormal(t, samples);
    const under = await rssKiB(agent.pid);
    const slowOpen = slow.items.filter((c) => c.open()).length;
    const idleOpen = idle.items.filter((c) => c.open()).length;
    for (const c of [...slow.items, ...idle.items]) c.close();
    await sleep(1500);
    const after = await rssKiB(agent.pid);
    rows.push([
      t.name,
      latency,
      settled,
      `${slowOpen}/${slow.items.length}${slow.failed ? ` (${slow.failed} refused)` : ""}`,
      `${idleOpen}/${idle.items.length}${idle.failed ? ` (${idle.failed} refused)` : ""}`,
      (before / 1024).toFixed(1),
      (under / 1024).toFixed(1),
      (after / 1024).toFixed(1),
    ]);
  }
  printTable([
    "listener",
    "normal client ms p50 / p95 / max, just after the crowd arrived",
    `same, the crowd held for ${seconds} s`,
    `slow still open after ${seconds} s`,
    `idle still open after ${seconds} s`,
    "RSS before MB",
    "RSS under crowd MB",
    "RSS after MB",
  ], rows);
  if (idleOn.length > 0) {
    await idleRows(targets(dir.path, ports), idleN, agent.pid, ports.admin, rounds, idleOn);
    await idleFloor(idleN, base, nofile);
  }
  await agent.stop();
  await backend.shutdown();
}

/** The main isolate's V8 heap in use, MB, from the admin listener's /metrics. */
async function heapMB(adminPort: number): Promise<string> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    const m = /^polyagent_heap_used_bytes (\d+)/m.exec(text);
    return m ? (Number(m[1]) / 1048576).toFixed(1) : "?";
  } catch {
    return "?";
  }
}

/**
 * `idleN` idle WebSockets on MASQ and on Intervirt and idle keep-alive proxy connections at once,
 * `rounds` times (a leak shows as RSS climbing round after round).
 */
async function idleRows(
  all: Target[],
  idleN: number,
  pid: number,
  adminPort: number,
  rounds: number,
  only: readonly string[],
): Promise<void> {
  const pick = (name: string) => all.find((t) => t.name === name)!;
  const rows: string[][] = [];
  for (let round = 1; round <= rounds; round++) {
    const before = await rssKiB(pid);
    const held: { close(): void; open(): boolean }[] = [];
    const opened: string[] = [];
    for (const name of only) {
      const c = await crowd(idleN, () => pick(name).idle());
      held.push(...c.items);
      await sleep(500);
      const rss = ((await rssKiB(pid)) / 1024).toFixed(1);
      const still = c.items.filter((x) => x.open()).length;
      opened.push(`${name} ${still} held of ${idleN} → ${rss} MB`);
    }
    await sleep(2000);
    const under = await rssKiB(pid);
    for (const c of held) c.close();
    await sleep(3000);
    const after = await rssKiB(pid);
    rows.push([
      String(round),
      opened.join(", "),
      (before / 1024).toFixed(1),
      (under / 1024).toFixed(1),
      (after / 1024).toFixed(1),
      await heapMB(adminPort),
    ]);
  }
  console.log();
  printTable([
    "round",
    "idle crowd at once (clients still open → agent RSS)",
    "RSS before MB",
    "RSS with crowd MB",
    "RSS after MB",
    "heap after MB",
  ], rows);
}

/**
 * The floor: `n` idle connections on bench/_idle_floor.ts; prints its RSS before and with them,
 * the cost per connection, and the agent's RSS at start (`agentBase` KiB) plus `n` times that.
 */
async function idleFloor(n: number, agentBase: number, nofile: number): Promise<void> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "--allow-net", join(ROOT, "bench", "_idle_floor.ts"), String(port)],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  try {
    await reader.read(); // "ready"
    await raiseNofile(child.pid, nofile);
    await sleep(500);
    const before = await rssKiB(child.pid);
    const conns = await crowd(n, () => Deno.connect({ hostname: "127.0.0.1", port }));
    await sleep(2000);
    const under = await rssKiB(child.pid);
    for (const c of conns.items) c.close();
    const perConn = (under - before) / conns.items.length;
    console.log();
    printTable([
      "floor: bare Deno server, idle connections",
      "RSS before MB",
      "RSS with them MB",
      "KiB per connection",
      `agent at start + ${n} × floor, MB`,
    ], [[
      `${conns.items.length} of ${n}${conns.failed ? ` (${conns.failed} refused)` : ""}`,
      (before / 1024).toFixed(1),
      (under / 1024).toFixed(1),
      perConn.toFixed(2),
      ((agentBase + n * perConn) / 1024).toFixed(1),
    ]]);
  } finally {
    reader.releaseLock();
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel().catch(() => {});
  }
}
