/**
 * `deno task bench masq`: time from `start` to its reply (target ≤ 300 ms; the real Daemon's
 * 250 ms probe loop cannot answer sooner than 250 ms after launch), and the round-trip latency of
 * an empty `setup` with 1 and 50 connected clients. References measured in the same run: the
 * bare time for the Node to print its readiness line when spawned directly, the same number
 * rounded up to the real Daemon's 250 ms probe steps, and a bare Deno WebSocket echo round trip.
 *
 * Options: --starts N (default 5), --requests N per client (default 500).
 *
 * @module
 */
import { agentSection, freePort, spawnAgent } from "../tests/_helpers/mod.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const value = i >= 0 ? Number(args[i + 1]) : fallback;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

function ms(n: number): string {
  return `${n.toFixed(2)} ms`;
}

async function waitForLine(stream: ReadableStream<Uint8Array>, re: RegExp): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  const reader = stream.getReader();
  while (true) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${re}: ${text.slice(-500)}`);
    text += decoder.decode(value, { stream: true });
    if (re.test(text)) break;
  }
  reader.releaseLock();
  stream.pipeTo(new WritableStream()).catch(() => {});
}

class Client {
  ws: WebSocket;
  #next = 1;
  #waiting = new Map<number, (data: Record<string, unknown>) => void>();
  onOneWay: (data: Record<string, unknown>) => void = () => {};
  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.onmessage = (e) => {
      const data = JSON.parse(e.data as string);
      const cb = typeof data.contextId === "number" ? this.#waiting.get(data.contextId) : undefined;
      if (cb) {
        this.#waiting.delete(data.contextId);
        cb(data);
      } else this.onOneWay(data);
    };
  }
  static open(port: number, protocol = "MASQNode-UIv2"): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, [protocol]);
      ws.onopen = () => resolve(new Client(ws));
      ws.onerror = () => reject(new Error(`cannot connect to ${port}`));
    });
  }
  transact(opcode: string, payload: unknown): Promise<Record<string, unknown>> {
    const contextId = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(contextId, resolve);
      this.ws.send(JSON.stringify({ opcode, contextId, payload }));
    });
  }
  close() {
    this.ws.close();
  }
}

async function measureLatency(port: number, clients: number, perClient: number): Promise<number[]> {
  const conns = await Promise.all(Array.from({ length: clients }, () => Client.open(port)));
  const samples: number[] = [];
  await Promise.all(conns.map(async (c) => {
    for (let i = 0; i < perClient; i++) {
      const t = performance.now();
      await c.transact("setup", { values: [] });
      samples.push(performance.now() - t);
    }
  }));
  for (const c of conns) c.close();
  return samples.sort((a, b) => a - b);
}

async function echoReference(clients: number, perClient: number): Promise<number[]> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req, { protocol: "MASQNode-UIv2" });
    socket.onmessage = (e) => {
      const data = JSON.parse(e.data as string);
      socket.send(JSON.stringify({ opcode: data.opcode, contextId: data.contextId, payload: {} }));
    };
    return response;
  });
  try {
    return await measureLatency(server.addr.port, clients, perClient);
  } finally {
    await server.shutdown();
  }
}

/** Runs the benchmark. */
export async function run(args: string[]): Promise<void> {
  const starts = arg(args, "--starts", 5);
  const perClient = arg(args, "--requests", 500);
  const dir = await Deno.makeTempDir({ prefix: "masq-bench-" });
  const port = freePort();
  const config = join(dir, "agent.toml");
  await Deno.writeTextFile(
    config,
    agentSection(dir, { log_level: "warn", log_format: "json" }) +
      `[admin]\nenabled = false\n[masq]\nenabled = true\nui_port = ${port}\ndata_root = "${dir}/masq"\n`,
  );
  const agent = spawnAgent({ args: ["serve", "--config", config] });
  const nodePids: number[] = [];
  try {
    await agent.waitForLine(/masq\s+ws:\/\/127\.0\.0\.1:\d+/);
    const ui = await Client.open(port);
    await ui.transact("setup", { values: [{ name: "neighborhood-mode", value: "zero-hop" }] });

    // 1. start → reply, then shut the Node down and wait for `crashed`.
    const startTimes: number[] = [];
    for (let i = 0; i < starts; i++) {
      const t = performance.now();
      const reply = await ui.transact("start", {});
      startTimes.push(performance.now() - t);
      const payload = reply.payload as { newProcessId: number; redirectUiPort: number } | undefined;
      if (!payload) throw new Error(`start failed: ${JSON.stringify(reply)}`);
      nodePids.push(payload.newProcessId);
      const crashed = new Promise<void>((resolve) =>
        ui.onOneWay = (m) => m.opcode === "crashed" && resolve()
      );
      const node = await Client.open(payload.redirectUiPort);
      await node.transact("shutdown", {});
      await crashed;
    }
    // Reference: the Node spawned directly, to its readiness line.
    const spawnTimes: number[] = [];
    for (let i = 0; i < starts; i++) {
      const t = performance.now();
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-q",
          "-P=agent",
          "--config",
          join(ROOT, "deno.json"),
          join(ROOT, "main.ts"),
          "masq-node",
          "--neighborhood-mode",
          "zero-hop",
          "--data-directory",
          `${dir}/ref`,
          "--ui-port",
          String(freePort()),
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      await waitForLine(child.stdout, /node ready on/);
      spawnTimes.push(performance.now() - t);
      child.kill("SIGKILL");
      await child.status;
    }
    startTimes.sort((a, b) => a - b);
    spawnTimes.sort((a, b) => a - b);
    const startMed = quantile(startTimes, 0.5);
    const spawnMed = quantile(spawnTimes, 0.5);
    const probeLoop = Math.max(250, Math.ceil(spawnMed / 250) * 250);
    console.log(
      `start → reply (${starts} runs): median ${ms(startMed)}, min ${ms(startTimes[0]!)}, max ${
        ms(startTimes.at(-1)!)
      } (target ≤ 300 ms)`,
    );
    console.log(
      `  reference: node spawned directly to its readiness line: median ${
        ms(spawnMed)
      }; overhead ratio ${(startMed / spawnMed).toFixed(2)}×`,
    );
    console.log(
      `  reference: real Daemon's 250 ms probe loop on the same node: ≥ ${ms(probeLoop)}; ratio ${
        (startMed / probeLoop).toFixed(2)
      }×`,
    );

    // 2. empty setup round trips.
    for (const clients of [1, 50]) {
      const n = clients === 1 ? perClient * 4 : perClient;
      const wall = performance.now();
      const ours = await measureLatency(port, clients, n);
      const elapsed = (performance.now() - wall) / 1000;
      const ref = await echoReference(clients, n);
      console.log(
        `empty setup, ${clients} client(s), ${ours.length} requests: p50 ${
          ms(quantile(ours, 0.5))
        }, p99 ${ms(quantile(ours, 0.99))}, ${(ours.length / elapsed).toFixed(0)} req/s`,
      );
      console.log(
        `  reference: bare Deno WebSocket echo: p50 ${ms(quantile(ref, 0.5))}, p99 ${
          ms(quantile(ref, 0.99))
        }; p50 ratio ${(quantile(ours, 0.5) / quantile(ref, 0.5)).toFixed(2)}×`,
      );
    }
    ui.close();
  } finally {
    for (const pid of nodePids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await agent.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
