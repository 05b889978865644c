/**
 * The polyagent data plane with one HTTPS listener, as a stand-alone process for
 * `deno task bench https`:
 * `deno run -P=agent bench/_https_server.ts LISTEN BACKEND ENGINE CERTS_JSON [WORKERS]`.
 * CERTS_JSON is a file holding `{certificates: [{certificate, key, names}], alternate?}`; the
 * first certificate is the default. One cluster routes `localhost` and `*.test` to BACKEND.
 * Prints "ready", runs until stdin closes; each "swap" line on stdin replaces the last certificate
 * with `alternate` (and back on the next one), as REPLACE_CERTIFICATE does.
 *
 * @module
 */
import { X509Certificate } from "node:crypto";
import { createDataPlane, type TlsEngineChoice } from "../lib/backends/http_proxy/mod.ts";
import { createLogger } from "../lib/core/mod.ts";

const [listen = "127.0.0.1:9443", backend = "127.0.0.1:9001", engine = "auto", certsFile = "", w] =
  Deno.args;
interface Pem {
  certificate: string;
  key: string;
  names: string[];
}
const { certificates: certs, alternate } = JSON.parse(Deno.readTextFileSync(certsFile)) as {
  certificates: Pem[];
  alternate?: Pem;
};
const specOf = (c: Pem) => ({
  fingerprint: new X509Certificate(c.certificate).fingerprint256.replaceAll(":", "").toLowerCase(),
  certificate: c.certificate,
  chain: [],
  key: c.key,
  names: c.names,
});
const dp = createDataPlane({
  workerCount: Number(w ?? "1"),
  tlsEngine: engine as TlsEngineChoice,
  currentOrders: () => [],
  log: createLogger("bench-https", {
    level: Deno.env.get("POLYAGENT_BENCH_DEBUG") ? "debug" : "warn",
  }),
  engine: { debug: !!Deno.env.get("POLYAGENT_BENCH_DEBUG") },
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
  await dp.apply({ op: "add_certificate", listener: listen, certificate: specOf(c) });
}
await dp.apply({ op: "activate_listener", address: listen });
console.log("ready");
const pair = alternate ? [specOf(certs[certs.length - 1]!), specOf(alternate)] : [];
let swaps = 0;
const decoder = new TextDecoder();
for await (const chunk of Deno.stdin.readable) {
  for (const _ of decoder.decode(chunk).matchAll(/swap/g)) {
    if (pair.length === 0) continue;
    const [from, to] = [pair[swaps % 2]!, pair[(swaps + 1) % 2]!];
    await dp.apply({
      op: "replace_certificate",
      listener: listen,
      oldFingerprint: from.fingerprint,
      certificate: to,
    });
    swaps++;
  }
}
await dp.hardStop();
Deno.exit(0);
