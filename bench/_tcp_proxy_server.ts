/**
 * The polyagent TCP proxy as a stand-alone process for `deno task bench proxy`:
 * `deno run -P=agent bench/_tcp_proxy_server.ts LISTEN BACKEND [WORKERS]`. It creates the data
 * plane, applies the orders (one TCP listener, one cluster with one backend, the listener's
 * front), prints "ready", and runs until stdin closes.
 *
 * @module
 */
import { createDataPlane } from "../lib/backends/http_proxy/mod.ts";
import { createLogger } from "../lib/core/mod.ts";

const [listen = "127.0.0.1:9100", backend = "127.0.0.1:9001", workersArg = "1"] = Deno.args;
const dp = createDataPlane({
  workerCount: Number(workersArg),
  currentOrders: () => [],
  log: createLogger("bench-tcp-proxy", { level: "warn" }),
});
await dp.start();
await dp.apply({ op: "add_listener", listener: { address: listen, protocol: "tcp" } });
await dp.apply({ op: "add_cluster", cluster: { id: "bench" } });
await dp.apply({
  op: "add_backend",
  backend: { clusterId: "bench", backendId: "b0", address: backend },
});
await dp.apply({ op: "add_tcp_front", front: { listener: listen, clusterId: "bench" } });
await dp.apply({ op: "activate_listener", address: listen });
console.log("ready");
for await (const _ of Deno.stdin.readable) {
  // run until stdin closes
}
await dp.hardStop();
Deno.exit(0);
