/**
 * The floor of any TCP proxy on Deno's socket API, for the TCP rows of `deno task bench proxy`:
 * a bare pipe (`deno run -A bench/_bare_pipe.ts PORT BACKEND_PORT`) that connects each accepted
 * client to the backend and copies bytes both ways with one buffer per direction: per request the
 * same four socket calls as polyagent's TCP proxy, and nothing else (no balancing, timeouts,
 * half-close handling or accounting). Not a proxy.
 *
 * @module
 */
const [listenPort = "9102", backendPort = "9001"] = Deno.args;
const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(listenPort) });

async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(8192);
  try {
    for (;;) {
      const n = await from.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await to.write(buf.subarray(off, n));
    }
  } catch {
    // either side went away
  }
  try {
    from.close();
  } catch { /* closed */ }
  try {
    to.close();
  } catch { /* closed */ }
}

for await (const client of listener) {
  client.setNoDelay(true);
  Deno.connect({ hostname: "127.0.0.1", port: Number(backendPort) }).then((backend) => {
    backend.setNoDelay(true);
    void copy(client, backend);
    void copy(backend, client);
  }, () => client.close());
}
