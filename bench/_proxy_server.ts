/**
 * The polyagent data plane as a stand-alone process for `deno task bench proxy`:
 * `deno run -P=agent bench/_proxy_server.ts LISTEN BACKEND [FRONTS] [WORKERS] [FEATURES]`. It
 * creates the data plane, applies the orders (one listener, one cluster, FRONTS fronts of which
 * the last matches the benchmark's Host, one backend), prints "ready", and runs until stdin
 * closes. FEATURES (bench/_feature_costs.ts) is a comma list: "plain" (metrics off), "metrics",
 * "sticky" (a sticky cluster), "accesslog=PATH"; absent = the defaults (metrics on).
 *
 * @module
 */
import { createDataPlane } from "../lib/backends/http_proxy/mod.ts";
import { createLogger } from "../lib/core/mod.ts";

const [
  listen = "127.0.0.1:9100",
  backend = "127.0.0.1:9001",
  frontsArg = "1",
  workersArg = "1",
  featuresArg,
] = Deno.args;
const fronts = Number(frontsArg);
const features = featuresArg?.split(",") ?? null;
const accessLog = features?.find((f) => f.startsWith("accesslog="))?.slice(10);
const dp = createDataPlane({
  workerCount: Number(workersArg),
  currentOrders: () => [],
  ...(features ? { metrics: features.includes("metrics") } : {}),
  ...(accessLog ? { accessLog: { path: accessLog, listeners: ["*"] } } : {}),
  log: createLogger("bench-proxy", { level: "warn" }),
});
await dp.start();
await dp.apply({ op: "add_listener", listener: { address: listen, protocol: "http" } });
await dp.apply({
  op: "add_cluster",
  cluster: { id: "bench", stickySession: features?.includes("sticky") ?? false },
});
for (let i = 0; i < fronts - 1; i++) {
  await dp.apply({
    op: "add_front",
    front: {
      listener: listen,
      clusterId: "bench",
      hostname: `host${i}.example.com`,
      pathBegin: `/p${i % 7}`,
    },
  });
}
await dp.apply({
  op: "add_front",
  front: { listener: listen, clusterId: "bench", hostname: "127.0.0.1", pathBegin: "" },
});
await dp.apply({
  op: "add_backend",
  backend: { clusterId: "bench", backendId: "b0", address: backend },
});
await dp.apply({ op: "activate_listener", address: listen });
console.log("ready");
for await (const _ of Deno.stdin.readable) {
  // run until stdin closes
}
await dp.hardStop();
Deno.exit(0);
