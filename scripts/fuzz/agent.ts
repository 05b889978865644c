/**
 * The agent under fuzz: a real `polyagent serve` (main.ts, permission set `agent`) on a temporary
 * config where nothing sent can reach the host. Every path is under a fresh world-traversable
 * directory /tmp/polyagent-fuzz-*; every listener is on loopback; the agent's PATH is a directory holding only the
 * harmless tools it reads the system with (cat, df, find, grep, ps, ss, openssl), so no container
 * runtime (lxc-*, incus), openvpn, wg-quick, resolvectl or resolvconf can be found; openvpn is a
 * path that does not exist; the MASQ Node command is /bin/false; Quix may execute only a program
 * that does not exist and never asks for a VPN config; Intervirt host commands are off. Also
 * here: the health check (every service up, no restart), the process figures (RSS, open fds,
 * children), and the error lines the agent logged.
 *
 * @module
 */
import { join } from "node:path";
import { freePort, ROOT, RUNTIME_FLAGS } from "../../tests/_helpers/mod.ts";

/** Tools the agent may find on its PATH (everything it needs to read the system, nothing more). */
const SAFE_TOOLS = ["cat", "df", "find", "grep", "ps", "ss", "openssl", "uname", "id", "nproc"];

/** The program Quix may run: it does not exist, so an `execute` fails to spawn. */
export const QUIX_ALLOWED = "/nonexistent/polyagent-fuzz-noop";

/** Where the agent listens. */
export interface FuzzEndpoints {
  admin: string;
  cryptodedSocket: string;
  sozuSocket: string;
  /** The proxy's HTTP listener (configured at start, routed by the HTTP fuzz). */
  httpPort: number;
  intervirt: string;
  masqPort: number;
}

/** Options for {@linkcode startFuzzAgent}. */
export interface FuzzAgentOptions {
  /** The Quix control server the agent dials (ws://…). */
  quixUrl: string;
  quixUser: string;
  quixPassword: string;
  /** Label of the run directory. @default {"fuzz"} */
  label?: string;
  /** Agent log level. @default {"error"} */
  logLevel?: string;
  /** The state directory. @default {"<run dir>/state"} */
  stateDir?: string;
  /** cryptoded's profile directory. @default {"<run dir>/vpn.d"} */
  profileDir?: string;
  /** A directory searched before the safe tools (fault injection: tools that hang or fail). */
  toolsDir?: string;
  /** `section.key=value` overrides passed as `--set`. */
  overrides?: string[];
}

/** Process figures of the agent. */
export interface ProcessFigures {
  rssMb: number;
  fds: number;
  /** Long-lived children (short helper commands such as grep/find/ps not counted). */
  children: number;
}

/** A running agent under fuzz. */
export interface FuzzAgent extends AsyncDisposable {
  dir: string;
  pid: number;
  endpoints: FuzzEndpoints;
  /** Null when every service is up and none restarted; else what is wrong. */
  health(): Promise<string | null>;
  figures(): Promise<ProcessFigures>;
  /** Error-level log lines so far (the first 50), and their count. */
  errors(): { count: number; first: string[] };
  /** The exit status if the agent has exited. */
  exited(): Deno.CommandStatus | null;
  stop(): Promise<void>;
}

async function sandboxPath(dir: string): Promise<string> {
  const bin = join(dir, "bin");
  await Deno.mkdir(bin, { recursive: true });
  for (const tool of SAFE_TOOLS) {
    const found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].map((d) => `${d}/${tool}`)
      .find((p) => {
        try {
          return Deno.statSync(p).isFile;
        } catch {
          return false;
        }
      });
    // Deno.symlink needs unrestricted read and write permissions: ln does it
    if (found) {
      await new Deno.Command("ln", { args: ["-s", found, join(bin, tool)] }).output();
    }
  }
  return bin;
}

const q = JSON.stringify;

/** The config: the agent, admin, cryptoded and sozu sections, then the others. */
function configText(dir: string, e: FuzzEndpoints, o: FuzzAgentOptions): string {
  return `[agent]
state_dir = ${q(o.stateDir ?? join(dir, "state"))}
run_dir = ${q(join(dir, "run"))}
log_dir = ${q(join(dir, "log"))}
log_level = ${q(o.logLevel ?? "error")}
log_format = "json"

[admin]
enabled = true
listen = ${q(e.admin)}

[cryptoded]
enabled = true
socket = ${q(e.cryptodedSocket)}
pid_file = ${q(join(dir, "run", "rvd.pid"))}
v1_socket = ""
v1_pid_file = ""
profile_dir = ${q(o.profileDir ?? join(dir, "vpn.d"))}
openvpn = "/nonexistent/openvpn"
resolv_conf = ${q(join(dir, "resolv.conf"))}
dns_method = "file"
connect_timeout = 2000
pre_exec_timeout = 1000

[sozu]
enabled = true
command_socket = ${q(e.sozuSocket)}
listeners = [${q(`127.0.0.1:${e.httpPort}`)}]

${moreSections(dir, e, o)}`;
}

/** The intervirt, masq and quix sections. */
function moreSections(dir: string, e: FuzzEndpoints, o: FuzzAgentOptions): string {
  return `[intervirt]
enabled = true
listen = ${q(e.intervirt.replace(/^ws:\/\//, "").replace(/\/.*$/, ""))}
lxc_path = ${q(join(dir, "lxc"))}
images_dir = ${q(join(dir, "images"))}
name_prefix = "pfz-"
veth_prefix = "pfz"
bridge = "pfzbr0"
nft_table = "polyagent_fuzz"
stop_grace_seconds = 0
allow_host_commands = false
shutdown_command = "/nonexistent/poweroff"
reboot_command = "/nonexistent/reboot"
update_steps = []
container_update_steps = []

[masq]
enabled = true
ui_port = ${e.masqPort}
data_root = ${q(join(dir, "masq"))}
node_command = ["/bin/false"]
launch_timeout_ms = 2000

[quix]
enabled = true
server_url = ${q(o.quixUrl)}
allow_insecure = true
username = ${q(o.quixUser)}
password = ${q(o.quixPassword)}
backoff_base_ms = 10
backoff_max_ms = 100
superseded_backoff_ms = 10
stable_after_ms = 0
heartbeat_ms = 0
idle_timeout_ms = 0
work_dir = ${q(join(dir, "quix", "work"))}
proc_log_dir = ${q(join(dir, "quix", "log"))}
allowed_commands = [${q(QUIX_ALLOWED)}]
vpn = false
vpn_dir = ${q(join(dir, "quix", "wg"))}
ctl_socket = ${q(join(dir, "run", "quix.sock"))}
`;
}

/** Text output of a short command ("" when it fails). */
async function capture(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout);
  } catch {
    return "";
  }
}

const HELPERS = new Set(["grep", "find", "ps", "cat", "ss", "df", "openssl", "uname", "id"]);

/** RSS, open fds and long-lived children of process `pid`. */
export async function processFigures(pid: number): Promise<ProcessFigures> {
  const status = await capture("cat", [`/proc/${pid}/status`]);
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const fdList = await capture("find", [`/proc/${pid}/fd`, "-mindepth", "1", "-maxdepth", "1"]);
  const kids = await capture("ps", ["-o", "comm=", "--ppid", String(pid)]);
  return {
    rssMb: rssKb / 1024,
    fds: fdList.split("\n").filter((l) => l !== "").length,
    children: kids.split("\n").filter((l) => l.trim() !== "" && !HELPERS.has(l.trim())).length,
  };
}

function pumpLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
  let partial = "";
  return stream.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({
      write(text) {
        const lines = (partial + text).split("\n");
        partial = lines.pop()!;
        lines.forEach(onLine);
      },
    }),
  ).catch(() => {});
}

/** Waits until /healthz says every service runs (or the agent exits). */
async function waitHealthy(agent: FuzzAgent, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | null = "not asked";
  while (Date.now() < deadline) {
    if (agent.exited()) throw new Error(`the agent exited: ${agent.errors().first.join("\n")}`);
    last = await agent.health();
    if (last === null) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the agent did not become healthy: ${last}`);
}

/** A fresh run directory with its endpoints (free loopback ports, sockets inside it). */
async function prepare(o: FuzzAgentOptions): Promise<{ dir: string; endpoints: FuzzEndpoints }> {
  // Under /tmp, world-traversable: the unprivileged account Quix and the MASQ Node drop to must
  // reach their folders even when the checkout sits in a folder only root can enter.
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: `polyagent-${o.label ?? "fuzz"}-` });
  await Deno.chmod(dir, 0o755);
  for (const sub of ["run", "vpn.d", "lxc", "images"]) {
    await Deno.mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
  }
  await Deno.mkdir(join(dir, "masq"), { recursive: true, mode: 0o755 });
  const endpoints: FuzzEndpoints = {
    admin: `127.0.0.1:${freePort()}`,
    cryptodedSocket: join(dir, "run", "cryptoded.sock"),
    sozuSocket: join(dir, "run", "sozu.sock"),
    httpPort: freePort(),
    intervirt: `ws://127.0.0.1:${freePort()}/containerManagement`,
    masqPort: freePort(),
  };
  return { dir, endpoints };
}

/** Spawns `polyagent serve` on the run directory's config. */
async function launch(
  dir: string,
  endpoints: FuzzEndpoints,
  o: FuzzAgentOptions,
): Promise<FuzzAgent> {
  const config = join(dir, "agent.toml");
  await Deno.writeTextFile(config, configText(dir, endpoints, o));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-q", "-P=agent", ...RUNTIME_FLAGS, join(ROOT, "main.ts"), "serve", "-c", config],
      ...(o.overrides ?? []).flatMap((o) => ["--set", o]),
    ],
    cwd: ROOT,
    env: {
      NO_COLOR: "1",
      PATH: [...(o.toolsDir ? [o.toolsDir] : []), await sandboxPath(dir)].join(":"),
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let status: Deno.CommandStatus | null = null;
  const done = child.status.then((s) => status = s);
  const errorLines: string[] = [];
  let errorCount = 0;
  pumpLines(child.stdout, () => {});
  pumpLines(child.stderr, (line) => {
    if (!/"level":"error"|^error|panicked|Uncaught/i.test(line)) return;
    errorCount++;
    if (errorLines.length < 50) errorLines.push(line.slice(0, 2000));
  });
  const agent: FuzzAgent = {
    dir,
    pid: child.pid,
    endpoints,
    health: () => healthProblem(endpoints.admin),
    figures: () => processFigures(child.pid),
    errors: () => ({ count: errorCount, first: [...errorLines] }),
    exited: () => status,
    async stop() {
      if (!status) await stopChild(child, 10_000);
      await done;
    },
    async [Symbol.asyncDispose]() {
      await agent.stop();
    },
  };
  return agent;
}

function killQuietly(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // gone
  }
}

/** Stops a child we started: SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
export async function stopChild(child: Deno.ChildProcess, graceMs: number): Promise<void> {
  killQuietly(child, "SIGTERM");
  const timer = setTimeout(() => killQuietly(child, "SIGKILL"), graceMs);
  await child.status;
  clearTimeout(timer);
}

/**
 * Starts the agent on a fresh temporary config; resolves once every service is up. A port taken
 * by another program between picking it and binding it (the machine is shared) means a new try
 * with new ports.
 */
export async function startFuzzAgent(o: FuzzAgentOptions): Promise<FuzzAgent> {
  for (let attempt = 1;; attempt++) {
    const { dir, endpoints } = await prepare(o);
    const agent = await launch(dir, endpoints, o);
    try {
      await waitHealthy(agent, 60_000);
      return agent;
    } catch (error) {
      await agent.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      if (attempt >= 3 || !/in use/i.test(String(error))) throw error;
    }
  }
}

/**
 * Starts the agent again on the run directory and endpoints of `previous` (which must have exited,
 * e.g. after a kill -9); resolves once every service is up.
 */
export async function relaunchFuzzAgent(
  previous: FuzzAgent,
  o: FuzzAgentOptions,
): Promise<FuzzAgent> {
  const agent = await launch(previous.dir, previous.endpoints, o);
  try {
    await waitHealthy(agent, 60_000);
    return agent;
  } catch (error) {
    await agent.stop();
    throw error;
  }
}

/** Null when /healthz answers 200 with every service up and no restart; else the problem. */
export async function healthProblem(admin: string): Promise<string | null> {
  let body: {
    status: string;
    services: { name: string; up: boolean; state: string; restarts: number; lastError?: string }[];
  };
  try {
    const res = await fetch(`http://${admin}/healthz`, { signal: AbortSignal.timeout(10_000) });
    body = await res.json();
  } catch (error) {
    return `/healthz did not answer: ${(error as Error).message}`;
  }
  const bad = body.services.filter((s) => !s.up || s.restarts > 0);
  if (bad.length === 0 && body.status === "ok") return null;
  return bad.map((s) =>
    `${s.name} ${s.state}, ${s.restarts} restart(s)${s.lastError ? `: ${s.lastError}` : ""}`
  ).join("; ") || `status ${body.status}`;
}
