/**
 * The memory floor of idle connections on Deno's socket API, for `deno task bench limits`
 * (`deno run --allow-net bench/_idle_floor.ts PORT`): accepts TCP connections and keeps one
 * 64-byte read pending on each (the least any server must do to notice a client's next byte or
 * its close), nothing else: no WebSocket, no HTTP, no timers. Prints "ready" once listening.
 *
 * @module
 */
const [portArg = "9103"] = Deno.args;
const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(portArg) });

async function hold(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64);
  try {
    while ((await conn.read(buf)) !== null) {
      // discard
    }
  } catch {
    // reset by the client
  }
  try {
    conn.close();
  } catch {
    // closed
  }
}

console.log("ready");
for await (const conn of listener) void hold(conn);
