/**
 * The agent control socket, `<run_dir>/polyagent.sock` (mode 0600): JSON lines, one request per
 * connection. Today it has one operation, `upgrade` (what `polyagent upgrade` and the systemd
 * unit's `ExecReload` send): the reply is `PROCESSING` lines for each step, then `OK` with the
 * successor's pid or `ERROR` with the reason. The socket moves to the successor like the
 * protocols' sockets do, so a client never finds it missing.
 */
import { join } from "node:path";
import { errorText, type Logger } from "./log.ts";
import type { UpgradeOutcome, UpgradeRequest } from "./service.ts";
import { closeUnix, listenUnix } from "./unix_socket.ts";
import { type AgentReply, agentRequestSchema, JsonLines } from "./upgrade_wire.ts";

/** The control socket's path under the run directory. */
export function agentSocketPath(runDir: string): string {
  return join(runDir, "polyagent.sock");
}

/** What the control socket serves. */
export interface AgentSocketOptions {
  log: Logger;
  upgrade(request: UpgradeRequest): Promise<UpgradeOutcome>;
}

/** A listening control socket. */
export class AgentSocket {
  #listener: Deno.UnixListener;
  #path: string;
  #accepting: Promise<void>;

  private constructor(listener: Deno.UnixListener, path: string, options: AgentSocketOptions) {
    this.#listener = listener;
    this.#path = path;
    this.#accepting = this.#accept(options);
  }

  /** Listens on `path`. */
  static async listen(path: string, options: AgentSocketOptions): Promise<AgentSocket> {
    return new AgentSocket(await listenUnix(path, { mode: 0o600 }), path, options);
  }

  /** Stops listening (the socket file goes only if it is still this listener's). */
  async close(): Promise<void> {
    await closeUnix(this.#listener, this.#path);
    await this.#accepting.catch(() => {});
  }

  async #accept(options: AgentSocketOptions): Promise<void> {
    try {
      for await (const conn of this.#listener) void serveOne(conn, options);
    } catch {
      // closed
    }
  }
}

async function serveOne(conn: Deno.Conn, options: AgentSocketOptions): Promise<void> {
  const peer = new JsonLines(conn, agentRequestSchema);
  const reply = (line: AgentReply) => peer.send(line).catch(() => {});
  try {
    const request = await peer.next();
    if (request === null) return;
    const delivered = Promise.withResolvers<void>();
    try {
      const outcome = await options.upgrade({
        binary: request.binary,
        onProgress: (message) => void reply({ status: "PROCESSING", message }),
        delivered: delivered.promise,
      });
      await reply({ status: "OK", message: outcome.message, pid: outcome.pid });
    } finally {
      delivered.resolve();
    }
  } catch (error) {
    options.log.info("upgrade request refused", { error: errorText(error) });
    await reply({ status: "ERROR", message: errorText(error) });
  } finally {
    peer.close();
  }
}
