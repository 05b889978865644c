/**
 * A backend for the balancing benchmark: `deno run --allow-net bench/_delay_backend.ts PORT
 * DELAY_MS` answers every request with 1 KiB after DELAY_MS (0: at once).
 *
 * @module
 */
const [portArg = "9001", delayArg = "0"] = Deno.args;
const delay = Number(delayArg);
const body = "x".repeat(1023) + "\n";
Deno.serve({ hostname: "127.0.0.1", port: Number(portArg), onListen() {} }, async () => {
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  return new Response(body);
});
