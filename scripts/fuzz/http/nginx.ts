/**
 * An nginx of our own for the comparison: a temporary config on loopback, one worker, the same
 * front (http.fuzz.test, anything else 404) in front of its own recording backend, header
 * buffers as large as the proxy's 64 KiB head limit; started as our child and stopped by its PID.
 *
 * @module
 */
import { join } from "node:path";
import { freePort, ROOT } from "../../../tests/_helpers/mod.ts";
import { stopChild } from "../agent.ts";
import { FUZZ_HOST } from "./corpus.ts";

/** A running nginx. */
export interface NginxFront extends AsyncDisposable {
  port: number;
  pid: number;
}

async function waitPort(port: number, child: Deno.ChildProcess, errLog: string): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !exited) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const err = await Deno.readTextFile(errLog).catch(() => "");
  throw new Error(`nginx did not listen on ${port}: ${err.slice(-500)}`);
}

/** The nginx config: our front on `port`, 404 for any other host. */
function nginxConf(base: string, port: number, backend: string): string {
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `${t}_temp_path ${base}/tmp;`).join(" ");
  return `worker_processes 1; pid ${base}/nginx.pid; error_log ${base}/error.log crit;
events { worker_connections 4096; }
http { access_log off; ${temp}
  large_client_header_buffers 8 64k; client_max_body_size 10m;
  upstream rec { server ${backend}; keepalive 32; }
  server { listen 127.0.0.1:${port} default_server; return 404; }
  server { listen 127.0.0.1:${port}; server_name ${FUZZ_HOST};
    location / { proxy_pass http://rec; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host $host; proxy_ignore_client_abort on; } } }
`;
}

/** Starts nginx proxying to `backend` (host:port). */
export async function startNginx(backend: string, dir: string): Promise<NginxFront> {
  const base = join(dir, "nginx");
  await Deno.mkdir(join(base, "tmp"), { recursive: true });
  for (let d = base; d.startsWith(ROOT) && d.length > ROOT.length; d = join(d, "..")) {
    await Deno.chmod(d, 0o755);
  }
  await Deno.chmod(join(base, "tmp"), 0o777);
  const port = freePort();
  const conf = join(base, "nginx.conf");
  await Deno.writeTextFile(conf, nginxConf(base, port, backend));
  const child = new Deno.Command("nginx", {
    args: ["-c", conf, "-e", join(base, "error.log"), "-g", "daemon off;"],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitPort(port, child, join(base, "error.log"));
  } catch (error) {
    await stopChild(child, 0);
    throw error;
  }
  return {
    port,
    pid: child.pid,
    [Symbol.asyncDispose]: () => stopChild(child, 5000),
  };
}
