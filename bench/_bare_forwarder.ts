/**
 * The floor for any Deno data plane, for `deno task bench proxy`: a bare forwarder that does
 * nothing but move bytes (`deno run -A bench/_bare_forwarder.ts PORT BACKEND_PORT`). Per request
 * it makes the same four socket calls as the real proxy (client read, backend write, backend
 * read, client write) over a pool of keep-alive backend connections, and nothing else: no
 * parsing beyond finding Content-Length and `Connection: close`, no routing, no timeouts, no
 * forwarding headers. It only serves the benchmark's GET of a file with a Content-Length; it is
 * not a proxy. Every backend connection is either back in the pool or closed once a request is
 * done (`_bare_forwarder_check.ts` shows no descriptor is kept under `Connection: close` churn).
 * With `CERT_FILE KEY_FILE` after the ports it terminates TLS with that one certificate
 * (`Deno.listenTls`, the floor of `deno task bench https`'s keep-alive rows); it reads each
 * response whole before its one write, as the proxy does on such connections.
 *
 * @module
 */
const [listenPort = "9101", backendPort = "9001", certFile, keyFile] = Deno.args;
const idle: Deno.TcpConn[] = [];
const listener: Deno.Listener<Deno.TcpConn | Deno.TlsConn> = certFile && keyFile
  ? Deno.listenTls({
    hostname: "127.0.0.1",
    port: Number(listenPort),
    cert: Deno.readTextFileSync(certFile),
    key: Deno.readTextFileSync(keyFile),
    alpnProtocols: ["http/1.1"],
  })
  : Deno.listen({ hostname: "127.0.0.1", port: Number(listenPort) });

/** A parsed response head: the whole response's length and whether the backend will close. */
interface ResponseShape {
  length: number;
  close: boolean;
}

/**
 * The response's length (head plus Content-Length body) and close flag, or null while the head
 * is incomplete.
 */
function responseShape(buf: Uint8Array, n: number): ResponseShape | null {
  let i = -1;
  while ((i = buf.indexOf(10, i + 1)) >= 0 && i < n) {
    if (buf[i - 2] === 10) {
      const head = String.fromCharCode.apply(null, buf.subarray(0, i) as unknown as number[]);
      const m = /\r\ncontent-length: *(\d+)/i.exec(head);
      return {
        length: i + 1 + (m ? Number(m[1]) : 0),
        close: /\r\nconnection: *close/i.test(head),
      };
    }
  }
  return null;
}

/** Closes `conn`, which may already be closed. */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * Sends `request` on `backend` and reads the whole response into `response`. Returns its shape,
 * or null when the backend closed (or failed) before sending a byte: a pooled connection the
 * backend had already closed. Throws when it closes mid-response.
 */
async function exchange(
  backend: Deno.TcpConn,
  request: Uint8Array,
  response: Uint8Array,
): Promise<ResponseShape | null> {
  let got = 0;
  let shape: ResponseShape | null = null;
  try {
    await backend.write(request);
    while (shape === null || got < shape.length) {
      const m = await backend.read(response.subarray(got));
      if (m === null) break;
      got += m;
      shape ??= responseShape(response, got);
    }
  } catch (error) {
    if (got > 0) throw error;
  }
  if (got === 0) return null;
  if (shape === null || got < shape.length) throw new Error("backend closed mid-response");
  return shape;
}

/**
 * Forwards one request and returns the response's length. The backend connection goes back to
 * the pool only after a whole response without `Connection: close`; on every other path it is
 * closed. A pooled connection found closed is dropped and the request tried on the next one (a
 * new connection last).
 */
async function forward(request: Uint8Array, response: Uint8Array): Promise<number> {
  while (true) {
    const pooled = idle.pop();
    const backend = pooled ??
      await Deno.connect({ hostname: "127.0.0.1", port: Number(backendPort) });
    if (!pooled) backend.setNoDelay(true);
    let reuse = false;
    try {
      const shape = await exchange(backend, request, response);
      if (shape === null && pooled) continue;
      if (shape === null) throw new Error("backend closed before answering");
      reuse = !shape.close;
      return shape.length;
    } finally {
      if (reuse) idle.push(backend);
      else closeQuietly(backend);
    }
  }
}

async function serve(client: Deno.TcpConn | Deno.TlsConn): Promise<void> {
  if ("setNoDelay" in client) client.setNoDelay(true);
  const request = new Uint8Array(16 * 1024);
  const response = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await client.read(request);
      if (n === null) break;
      const length = await forward(request.subarray(0, n), response);
      await client.write(response.subarray(0, length));
    }
  } catch {
    // the client or the backend went away
  }
  closeQuietly(client);
}

console.log("ready");
for await (const client of listener) serve(client);
