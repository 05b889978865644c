/**
 * Helpers for the masq tests: a real agent with only `[masq]` enabled on a free port, and a raw
 * MASQNode-UIv2 WebSocket client that records every text frame exactly as received.
 */
import { join } from "node:path";
import {
  type AgentProcess,
  agentSection,
  freePort,
  spawnAgent,
  waitFor,
  worldTempDir,
} from "../_helpers/mod.ts";

/** A running agent with its Daemon. */
export interface Daemon extends AsyncDisposable {
  agent: AgentProcess;
  port: number;
  dir: string;
  configFile: string;
  /** Restarts the agent process (same config and state). */
  restart(signal?: Deno.Signal): Promise<void>;
  /** Node pids seen (killed on dispose). */
  nodePids: Set<number>;
}

/** Writes `<dir>/agent.toml` for `[masq]` on `port` (and `[admin]` on `admin`); returns its path. */
export async function writeMasqConfig(
  dir: string,
  options: { port: number; admin?: number; dataRoot?: string },
): Promise<string> {
  const admin = options.admin
    ? `[admin]\nenabled = true\nlisten = "127.0.0.1:${options.admin}"\n`
    : "[admin]\nenabled = false\n";
  const file = join(dir, "agent.toml");
  await Deno.writeTextFile(
    file,
    agentSection(dir, { log_format: "json" }) + admin +
      `[masq]\nenabled = true\nui_port = ${options.port}\n` +
      `data_root = "${options.dataRoot ?? join(dir, "masq")}"\n`,
  );
  return file;
}

/** Writes a config for a temp dir and starts the agent. */
export async function startDaemon(extra = ""): Promise<Daemon> {
  const dir = await worldTempDir("masq");
  const port = freePort();
  const configFile = join(dir.path, "agent.toml");
  await Deno.writeTextFile(
    configFile,
    `${agentSection(dir.path, { log_format: "json" })}
[admin]
enabled = false

[masq]
enabled = true
ui_port = ${port}
data_root = "${dir.path}/masq"
${extra}
`,
  );
  const start = async () => {
    const agent = spawnAgent({ args: ["serve", "--config", configFile] });
    try {
      await agent.waitForLine(/^masq\s+ws:\/\/127\.0\.0\.1:\d+/, 30_000);
    } catch (error) {
      await agent[Symbol.asyncDispose]();
      throw error;
    }
    return agent;
  };
  const daemon: Daemon = {
    agent: await start(),
    port,
    dir: dir.path,
    configFile,
    nodePids: new Set(),
    async restart(signal: Deno.Signal = "SIGKILL") {
      await daemon.agent.stop(signal);
      daemon.agent = await start();
    },
    async [Symbol.asyncDispose]() {
      await daemon.agent[Symbol.asyncDispose]();
      for (const pid of daemon.nodePids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await dir[Symbol.asyncDispose]();
    },
  };
  return daemon;
}

/** One received frame, raw and parsed (numbers beyond 2^53 lose digits in `json`: use `text`). */
export interface Frame {
  text: string;
  json: Record<string, unknown>;
}

/** A raw WebSocket UI. */
export class Ui {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  #closed = Promise.withResolvers<void>();
  #nextContext = 1;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.onmessage = (e) => {
      if (typeof e.data === "string") this.frames.push({ text: e.data, json: JSON.parse(e.data) });
    };
    ws.onclose = () => this.#closed.resolve();
  }

  /** Connects with the MASQNode-UIv2 subprotocol. */
  static connect(port: number, protocols: string[] = ["MASQNode-UIv2"]): Promise<Ui> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}`, protocols);
      ws.onopen = () => resolve(new Ui(ws));
      ws.onerror = () => reject(new Error(`cannot connect to ${port}`));
    });
  }

  /** Sends raw text. */
  send(text: string): void {
    this.ws.send(text);
  }

  /** Sends a conversational request and returns its contextId. */
  request(opcode: string, payload: unknown = {}): number {
    const contextId = this.#nextContext++;
    this.send(JSON.stringify({ opcode, contextId, payload }));
    return contextId;
  }

  /** Waits for (and removes) the first frame matching. */
  async next(match: (f: Frame) => boolean, what = "frame", timeoutMs = 15_000): Promise<Frame> {
    const found = await waitFor(() => this.frames.find(match), { timeoutMs, what, stepMs: 5 });
    this.frames.splice(this.frames.indexOf(found), 1);
    return found;
  }

  /** Sends a request and waits for the reply with the same contextId. */
  async transact(opcode: string, payload: unknown = {}, timeoutMs = 15_000): Promise<Frame> {
    const contextId = this.request(opcode, payload);
    return await this.next((f) => f.json.contextId === contextId, `reply to ${opcode}`, timeoutMs);
  }

  /** Resolves when the server closed the connection. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  close(): Promise<void> {
    try {
      this.ws.close();
    } catch {
      // already closed
    }
    return this.#closed.promise;
  }
}

/** Sends a raw HTTP upgrade request and returns the status code. */
export async function upgradeStatus(
  port: number,
  headers: Record<string, string>,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const lines = [
      "GET / HTTP/1.1",
      `Host: 127.0.0.1:${port}`,
      "Connection: Upgrade",
      "Upgrade: websocket",
      "Sec-WebSocket-Version: 13",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    ];
    await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    const text = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  } finally {
    conn.close();
  }
}

/** Whether a pid exists. */
export function alive(pid: number): boolean {
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch {
    return false;
  }
}
