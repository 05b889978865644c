/**
 * The polyagent data plane with one HTTPS listener, as a stand-alone process for
 * `deno task bench https`:
 * `deno run -P=agent bench/_https_server.ts LISTEN BACKEND ENGINE CERTS_JSON [WORKERS]`.
 * CERTS_JSON is a file holding `[{certificate, key, names}]`; the first one is the default.
 * One cluster routes `localhost` and `*.test` to BACKEND. Prints "ready", runs until
 * stdin closes.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { createDataPlane, type TlsEngineChoice } from "../lib/backends/http_proxy/mod.ts";
import { createLogger } from "../lib/core/mod.ts";

const [listen = "127.0.0.1:9443", backend = "127.0.0.1:9001", engine = "auto", certsFile = "", w] =
  Deno.args;
const certs = JSON.parse(Deno.readTextFileSync(certsFile)) as {
  certificate: string;
  key: string;
  names: string[];
}[];
const dp = createDataPlane({
  workerCount: Number(w ?? "1"),
  tlsEngine: engine as TlsEngineChoice,
  currentOrders: () => [],
  log: createLogger("bench-https", { level: "warn" }),
});
await dp.start();
await dp.apply({ op: "add_listener", listener: { address: listen, protocol: "https" } });
await dp.apply({ op: "add_cluster", cluster: { id: "bench" } });
for (const hostname of ["localhost", "*.test"]) {
  await dp.apply({
    op: "add_front",
    front: { listener: listen, clusterId: "bench", hostname, pathBegin: "" },
  });
}
await dp.apply({
  op: "add_backend",
  backend: { clusterId: "bench", backendId: "b0", address: backend },
});
for (const c of certs) {
  const fingerprint = new X509Certificate(c.certificate).fingerprint256.replaceAll(":", "")
    .toLowerCase();
  await dp.apply({
    op: "add_certificate",
    listener: listen,
    certificate: { fingerprint, certificate: c.certificate, chain: [], key: c.key, names: c.names },
  });
}
await dp.apply({ op: "activate_listener", address: listen });
console.log("ready");
for await (const _ of Deno.stdin.readable) {
  // run until stdin closes
}
await dp.hardStop();
Deno.exit(0);
