/**
 * A backend in its own process, so a test can kill it (SIGKILL) under load:
 * `deno run --allow-net _backend_process.ts PORT NAME` answers every request with NAME.
 */
const [port, name] = Deno.args;
Deno.serve(
  { hostname: "127.0.0.1", port: Number(port), onListen: () => console.log("ready") },
  () => new Response(name),
);
