/**
 * Helpers for the balancing tests: a proxy with one cluster of named backends (policy, metric
 * and weights of the test's choice), and a load loop that counts which backend answered.
 */
import type {
  LoadBalancing,
  LoadMetric,
  ProxyEvent,
  WorkerEngineOptions,
} from "../../lib/backends/http_proxy/mod.ts";
import { startHttpBackend, startProxy, type TestBackend, type TestProxy } from "./_helpers.ts";

/** One backend of the cluster: its name (its answer), weight, delay and role. */
export interface BackendPlan {
  name: string;
  weight?: number;
  delayMs?: number;
  backup?: boolean;
  /** An address to use instead of starting a backend (e.g. a closed port). */
  address?: string;
}

/** A proxy with cluster "app" on Host 127.0.0.1, and its backends. */
export interface BalanceSetup extends AsyncDisposable {
  proxy: TestProxy;
  backends: TestBackend[];
  events: ProxyEvent[];
  /** Re-sends the cluster with another policy / metric. */
  policy(policy: LoadBalancing, metric?: LoadMetric): Promise<void>;
  /** Re-sends a backend (same id and address) with a new weight. */
  weight(name: string, weight: number): Promise<void>;
}

/** Starts the backends and the proxy. */
export async function startBalance(
  plans: BackendPlan[],
  policy: LoadBalancing,
  options: { metric?: LoadMetric; engine?: WorkerEngineOptions; workerCount?: number } = {},
): Promise<BalanceSetup> {
  const backends: TestBackend[] = [];
  const addresses = new Map<string, string>();
  for (const plan of plans) {
    if (plan.address) {
      addresses.set(plan.name, plan.address);
      continue;
    }
    const backend = startHttpBackend(async () => {
      if (plan.delayMs) await new Promise((r) => setTimeout(r, plan.delayMs));
      return new Response(plan.name);
    });
    backends.push(backend);
    addresses.set(plan.name, backend.address);
  }
  const events: ProxyEvent[] = [];
  const proxy = await startProxy({
    workerCount: options.workerCount ?? 1,
    engine: { seed: 42, ...options.engine },
    onEvent: (event) => events.push(event),
  });
  const cluster = (p: LoadBalancing, metric?: LoadMetric) =>
    proxy.apply({
      op: "add_cluster",
      cluster: { id: "app", loadBalancing: p, ...(metric ? { loadMetric: metric } : {}) },
    });
  const backend = (plan: BackendPlan, weight = plan.weight) =>
    proxy.apply({
      op: "add_backend",
      backend: {
        clusterId: "app",
        backendId: plan.name,
        address: addresses.get(plan.name)!,
        ...(weight === undefined ? {} : { weight }),
        ...(plan.backup ? { backup: true } : {}),
      },
    });
  await cluster(policy, options.metric);
  for (const plan of plans) await backend(plan);
  await proxy.apply({
    op: "add_front",
    front: { listener: proxy.address, clusterId: "app", hostname: "127.0.0.1", pathBegin: "" },
  });
  return {
    proxy,
    backends,
    events,
    policy: cluster,
    weight: (name, weight) => backend(plans.find((p) => p.name === name)!, weight),
    async [Symbol.asyncDispose]() {
      await proxy[Symbol.asyncDispose]();
      for (const b of backends) await b[Symbol.asyncDispose]();
    },
  };
}

/** What a load run saw: answers per backend name, and failed requests (status, or error). */
export interface Spread {
  counts: Record<string, number>;
  failed: number;
  statuses: Record<number, number>;
}

/**
 * Sends `total` GETs over `concurrency` keep-alive connections (or until `until()` is true when
 * `total` is Infinity), counting the answering backend.
 */
export async function spread(
  port: number,
  total: number,
  concurrency = 1,
  until: () => boolean = () => false,
): Promise<Spread> {
  const client = Deno.createHttpClient({});
  const out: Spread = { counts: {}, failed: 0, statuses: {} };
  let sent = 0;
  const loop = async () => {
    while (sent < total && !until()) {
      sent++;
      try {
        const r = await fetch(`http://127.0.0.1:${port}/`, { client });
        const text = await r.text();
        if (r.status === 200) out.counts[text] = (out.counts[text] ?? 0) + 1;
        else {
          out.failed++;
          out.statuses[r.status] = (out.statuses[r.status] ?? 0) + 1;
        }
      } catch {
        out.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  client.close();
  return out;
}

/** A port nothing listens on (refuses connections). */
export function closedPort(): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return `127.0.0.1:${port}`;
}
