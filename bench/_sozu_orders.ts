/**
 * ADD_BACKEND orders per second over one command-socket connection against a real agent (sozu
 * service with the real data plane and automatic state save on). Requests are pipelined with a
 * bounded window, as a client that does not wait for each reply would send them; every reply is
 * checked. A one-at-a-time run is reported alongside for comparison.
 *
 * @module
 */
import { agentSection, freePort, spawnAgent } from "../tests/_helpers/mod.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SozuClient } from "../lib/protocols/sozu/mod.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Options for {@linkcode ordersBench}. */
export interface OrdersBenchOptions {
  /** Pipelined orders. @default {20000} */
  orders?: number;
  /** Requests in flight at once. @default {512} */
  window?: number;
  /** One-at-a-time orders. @default {500} */
  sequential?: number;
}

async function waitForSocket(path: string, child: Deno.ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadline && !exited) {
    try {
      const conn = await Deno.connect({ transport: "unix", path });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`the agent did not open ${path}`);
}

/** Applications the backends are spread over (a realistic ~100 backends per application). */
const APPS = 200;

function backendOrder(i: number) {
  return {
    type: "PROXY",
    data: {
      type: "ADD_BACKEND",
      data: {
        app_id: `app${i % APPS}`,
        backend_id: `b${i}`,
        address: `127.0.0.${1 + (i >> 16)}:${1024 + (i & 0xffff) % 60000}`,
      },
    },
  };
}

/** Measures ADD_BACKEND orders/s over one connection. */
export async function ordersBench(
  options: OrdersBenchOptions = {},
): Promise<{ ordersPerSecond: number; detail: string }> {
  const total = options.orders ?? 20_000;
  const window = options.window ?? 512;
  const sequential = options.sequential ?? 500;
  const base = join(ROOT, "var", "bench");
  await Deno.mkdir(base, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: base, prefix: "sozu-orders-" });
  const socket = join(dir, "run", "sozu.sock");
  const config = join(dir, "agent.toml");
  await Deno.writeTextFile(
    config,
    agentSection(dir, { log_level: "warn" }) + [
      "[admin]",
      `listen = "127.0.0.1:${freePort()}"`,
      "[sozu]",
      "enabled = true",
      `command_socket = "${socket}"`,
      "automatic_state_save = true",
      "",
    ].join("\n"),
  );
  const agent = spawnAgent({ args: ["serve", "--config", config] });
  try {
    await waitForSocket(socket, agent.child, 30_000);
    const client = await SozuClient.connect(socket, 5000);
    try {
      const timeoutMs = 60_000;
      const apps = await Promise.all(Array.from({ length: APPS }, (_, i) =>
        client.request(
          { type: "PROXY", data: { type: "ADD_APPLICATION", data: { app_id: `app${i}` } } },
          { timeoutMs },
        )));
      const refused = apps.find((r) => r.status !== "OK");
      if (refused) throw new Error(`ADD_APPLICATION failed: ${refused.message}`);

      // one at a time (each waits for its fsync)
      let t0 = performance.now();
      for (let i = 0; i < sequential; i++) {
        const r = await client.request(backendOrder(i) as never, { timeoutMs });
        if (r.status !== "OK") throw new Error(`order ${i}: ${r.message}`);
      }
      const sequentialRate = sequential / ((performance.now() - t0) / 1000);

      // pipelined with a window
      let next = sequential;
      const end = sequential + total;
      let failures = 0;
      t0 = performance.now();
      const lane = async () => {
        while (next < end) {
          const i = next++;
          const r = await client.request(backendOrder(i) as never, { timeoutMs });
          if (r.status !== "OK") failures++;
        }
      };
      await Promise.all(Array.from({ length: window }, lane));
      const seconds = (performance.now() - t0) / 1000;
      if (failures > 0) throw new Error(`${failures} orders failed`);
      const ordersPerSecond = total / seconds;
      const dump = await client.request({ type: "DUMP_STATE" }, { timeoutMs });
      const backends = (dump.data?.data as { backends: Record<string, unknown[]> } | undefined)
        ?.backends ?? {};
      const stored = Object.values(backends).reduce((n, list) => n + list.length, 0);
      if (stored !== end) throw new Error(`state holds ${stored} backends, expected ${end}`);
      return {
        ordersPerSecond,
        detail: `${total} ADD_BACKEND over ${APPS} applications, pipelined (window ${window}) in ` +
          `${seconds.toFixed(2)} s; ` +
          `one at a time: ${sequentialRate.toFixed(0)} orders/s; automatic_state_save on, ` +
          `${stored} backends in the final state`,
      };
    } finally {
      client.close();
    }
  } finally {
    await agent.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
