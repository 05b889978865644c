/** Raw clients for the listener-limits tests: connect, send (or not), read until the agent closes. */
import { join } from "node:path";
import { agentSection, freePort, spawnAgent } from "../_helpers/mod.ts";
import type { AgentProcess } from "../_helpers/mod.ts";
import { DEFAULT_LIMITS, type LimitsConfig } from "../../lib/core/mod.ts";

/** Connects to a TCP port on loopback or to a Unix socket path. */
export function connect(to: number | string): Promise<Deno.Conn> {
  return typeof to === "number"
    ? Deno.connect({ hostname: "127.0.0.1", port: to })
    : Deno.connect({ transport: "unix", path: to });
}

/**
 * Sends `bytes` (if any) and reads until the agent closes the connection (or `timeoutMs`, then
 * "(still open)" is appended): what the agent said before closing.
 */
export async function untilClosed(
  conn: Deno.Conn,
  bytes: string | Uint8Array | null,
  timeoutMs = 5000,
): Promise<string> {
  if (bytes !== null) {
    await conn.write(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* closed */ }
  }, timeoutMs);
  let text = "";
  const buf = new Uint8Array(65536);
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch {
    // reset by the agent, or closed by the timer
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  return timedOut ? `${text}(still open)` : text;
}

/** A WebSocket opened to `url`, or the reason it failed. */
export function openWebSocket(url: string, protocol?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`cannot open ${url}`));
  });
}

/** Resolves with the close code of `ws`. */
export function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.addEventListener("close", (e) => resolve(e.code)));
}

/** A spawned agent with admin, sozu, cryptoded and masq, every `[*.limits]` set to `limits`. */
export interface LimitsAgent extends AsyncDisposable {
  agent: AgentProcess;
  admin: number;
  masq: number;
  sozu: string;
  cryptoded: string;
  /** The admin listener's /metrics text (over a fresh connection that closes). */
  metrics(): Promise<string>;
}

function table(name: string, limits: LimitsConfig): string {
  return [
    `[${name}.limits]`,
    ...Object.entries(limits).map(([k, v]) => `${k} = ${v}`),
  ].join("\n") + "\n";
}

/** Starts the agent in `dir` with the same `limits` on every listener. */
export async function limitsAgent(
  dir: string,
  limits: Partial<LimitsConfig>,
): Promise<LimitsAgent> {
  const l = { ...DEFAULT_LIMITS, ...limits };
  const admin = freePort();
  const masq = freePort();
  const run = join(dir, "run");
  const config = agentSection(dir, { log_level: "warn" }) +
    `[admin]\nlisten = "127.0.0.1:${admin}"\n` + table("admin", l) +
    `[sozu]\nenabled = true\ncommand_socket = "${run}/sozu.sock"\nmax_command_size = 1024\n` +
    table("sozu", l) +
    `[cryptoded]\nenabled = true\nsocket = "${run}/rvd"\npid_file = "${run}/rvd.pid"\n` +
    `v1_socket = ""\nv1_pid_file = ""\nprofile_dir = "${dir}/vpn.d"\n` +
    `resolv_conf = "${dir}/resolv.conf"\ndns_method = "file"\nmax_request_bytes = 512\n` +
    table("cryptoded", l) +
    `[masq]\nenabled = true\nui_port = ${masq}\ndata_root = "${dir}/masq"\n` +
    `max_message_bytes = 1024\n` + table("masq", l);
  const file = join(dir, "limits.toml");
  await Deno.writeTextFile(file, config);
  const agent = spawnAgent({ args: ["serve", "--config", file] });
  try {
    await agent.waitForLine(/masq/, 30_000);
    await agent.waitForLine(/cryptoded/, 30_000);
    await agent.waitForLine(/sozu/, 30_000);
  } catch (error) {
    await agent[Symbol.asyncDispose]();
    throw error;
  }
  return {
    agent,
    admin,
    masq,
    sozu: join(run, "sozu.sock"),
    cryptoded: join(run, "rvd"),
    metrics: async () =>
      await untilClosed(
        await connect(admin),
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      ),
    [Symbol.asyncDispose]: () => agent[Symbol.asyncDispose](),
  };
}
