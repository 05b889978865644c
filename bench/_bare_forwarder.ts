/**
 * The floor for any Deno data plane, for `deno task bench proxy`: a bare forwarder that does
 * nothing but move bytes (`deno run -A bench/_bare_forwarder.ts PORT BACKEND_PORT`). Per request
 * it makes the same four socket calls as the real proxy (client read, backend write, backend
 * read, client write) over a pool of keep-alive backend connections, and nothing else: no
 * parsing beyond finding Content-Length, no routing, no timeouts, no forwarding headers. It only
 * serves the benchmark's GET of a file with a Content-Length; it is not a proxy.
 *
 * @module
 */
const [listenPort = "9101", backendPort = "9001"] = Deno.args;
const idle: Deno.TcpConn[] = [];
const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(listenPort) });

/** Length of the response head plus its Content-Length body, or -1 while the head is incomplete. */
function responseLength(buf: Uint8Array, n: number): number {
  let i = -1;
  while ((i = buf.indexOf(10, i + 1)) >= 0 && i < n) {
    if (buf[i - 2] === 10) {
      const head = String.fromCharCode.apply(null, buf.subarray(0, i) as unknown as number[]);
      const m = /\r\ncontent-length: *(\d+)/i.exec(head);
      return i + 1 + (m ? Number(m[1]) : 0);
    }
  }
  return -1;
}

async function serve(client: Deno.TcpConn): Promise<void> {
  client.setNoDelay(true);
  const request = new Uint8Array(16 * 1024);
  const response = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await client.read(request);
      if (n === null) break;
      let backend = idle.pop();
      if (!backend) {
        backend = await Deno.connect({ hostname: "127.0.0.1", port: Number(backendPort) });
        backend.setNoDelay(true);
      }
      await backend.write(request.subarray(0, n));
      let got = 0;
      let want = -1;
      while (want < 0 || got < want) {
        const m = await backend.read(response.subarray(got));
        if (m === null) throw new Error("backend closed");
        got += m;
        if (want < 0) want = responseLength(response, got);
      }
      await client.write(response.subarray(0, got));
      idle.push(backend);
    }
  } catch {
    // the client or the backend went away
  }
  try {
    client.close();
  } catch {
    // already closed
  }
}

console.log("ready");
for await (const client of listener) serve(client);
