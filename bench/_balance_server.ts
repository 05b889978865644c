/**
 * The polyagent data plane for the balancing benchmark:
 * `deno run -P=agent bench/_balance_server.ts LISTEN POLICY METRIC BACKENDS`, BACKENDS being
 * comma-separated addresses, a `+` prefix marking a backup. One cluster on Host 127.0.0.1;
 * prints "ready", runs until stdin closes.
 *
 * @module
 */
import {
  createDataPlane,
  type LoadBalancing,
  type LoadMetric,
} from "../lib/backends/http_proxy/mod.ts";
import { createLogger } from "../lib/core/mod.ts";

const [listen = "127.0.0.1:9100", policy = "round_robin", metric = "connections", list = ""] =
  Deno.args;
const dp = createDataPlane({
  workerCount: 1,
  currentOrders: () => [],
  log: createLogger("bench-balance", { level: "warn" }),
});
await dp.start();
await dp.apply({ op: "add_listener", listener: { address: listen, protocol: "http" } });
await dp.apply({
  op: "add_cluster",
  cluster: {
    id: "bench",
    loadBalancing: policy as LoadBalancing,
    loadMetric: metric as LoadMetric,
  },
});
await dp.apply({
  op: "add_front",
  front: { listener: listen, clusterId: "bench", hostname: "127.0.0.1", pathBegin: "" },
});
for (const [i, entry] of list.split(",").filter((e) => e !== "").entries()) {
  const backup = entry.startsWith("+");
  await dp.apply({
    op: "add_backend",
    backend: {
      clusterId: "bench",
      backendId: `b${i}`,
      address: backup ? entry.slice(1) : entry,
      ...(backup ? { backup: true } : {}),
    },
  });
}
await dp.apply({ op: "activate_listener", address: listen });
console.log("ready");
for await (const _ of Deno.stdin.readable) {
  // run until stdin closes
}
await dp.hardStop();
Deno.exit(0);
