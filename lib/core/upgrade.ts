/**
 * The old agent's side of a zero-downtime upgrade (`polyagent upgrade`, sozu's UPGRADE_MAIN,
 * `systemctl reload`). Deno cannot pass descriptors to another process, so the successor binds
 * everything itself beside the old agent:
 *
 * 1. The services hand over their state (the proxy's; later changes wait), the successor is
 *    started in takeover mode, loads the config, starts its proxy data plane with that state on
 *    the same ports (SO_REUSEPORT) and binds each Unix socket under a temporary name. Any failure
 *    so far: the successor exits, the services resume, and the upgrade answers the reason.
 * 2. The successor renames its Unix sockets over the old ones and serves the TCP control
 *    addresses beside the old agent (requests held until its services start).
 * 3. The old agent's services stop with reason `upgrade`: listeners close, the proxy drains (in
 *    the background), nothing managed is signalled.
 * 4. The successor starts its services (they re-adopt tunnels, containers, processes, the Node),
 *    writes the pid file and says so; the upgrade answers OK and the old agent exits 0 once its
 *    proxy has drained. A successor lost after step 2 makes the old agent restart its services.
 */
import { join } from "node:path";
import type { AgentConfig } from "./config.ts";
import { BusyError, FailedError } from "./errors.ts";
import { errorText, type Logger } from "./log.ts";
import { sealDocuments, unsealDocuments } from "./state_store.ts";
import type { UpgradeOutcome, UpgradeRequest } from "./service.ts";
import type { Supervisor } from "./supervisor.ts";
import { listeningTcpAddresses } from "./tcp_server.ts";
import { listeningUnixPaths, removeLeftBeside } from "./unix_socket.ts";
import { type FromSuccessor, fromSuccessorSchema, JsonLines, nextWithin } from "./upgrade_wire.ts";

/** The successor process, as the coordinator sees it. */
export interface SuccessorProcess {
  pid: number;
  /** Resolves with a description of its exit (it exited before taking over, or later). */
  exited: Promise<string>;
  /** SIGKILLs it (the upgrade failed). */
  kill(): void;
  /** It took over: stop tracking it so this process may exit. */
  release(): void;
}

/** What the coordinator needs from the agent. */
export interface UpgradeHost {
  config: AgentConfig;
  supervisor: Supervisor;
  log: Logger;
  version: string;
  /** Unix ms when this agent started. */
  startedAt: number;
  /** Starts the successor with the handover socket (`POLYAGENT_TAKEOVER`); null = same command. */
  spawnSuccessor(binary: string | null, handoverSocket: string): Promise<SuccessorProcess>;
  /** Runs before listeners move (turns on tcp_migrate_req). */
  beforeMove?(): Promise<void>;
}

/** How a successful upgrade ends this process: wait for `lingering`, then exit 0. */
export interface Replaced {
  /** The proxy drain (and other work services left running). */
  lingering: Promise<void>;
  /** Replies still being written to whoever asked. */
  deliveries: Promise<unknown>[];
}

type Peer = JsonLines<FromSuccessor>;

/** Times the steps of one upgrade; each is logged and reported to the requester. */
class Steps {
  readonly ms: Record<string, number> = {};
  #t0 = performance.now();
  constructor(private log: Logger, private onProgress: (message: string) => void) {}
  mark(step: string, message: string, fields: Record<string, unknown> = {}): void {
    const ms = Math.round((performance.now() - this.#t0) * 10) / 10;
    this.ms[step] = ms;
    this.log.info(`upgrade: ${message}`, { step, ms, ...fields });
    this.onProgress(message);
  }
}

/** Runs upgrades of this agent, one at a time. */
export class AgentUpgrader {
  #host: UpgradeHost;
  #busy: string | null = null;
  #replaced = Promise.withResolvers<Replaced>();
  #last: Record<string, unknown> | null = null;
  #lingering: Promise<void> = Promise.resolve();

  constructor(host: UpgradeHost) {
    this.#host = host;
  }

  /** Resolves once a successor has taken over: this process should finish and exit 0. */
  get replaced(): Promise<Replaced> {
    return this.#replaced.promise;
  }

  /** Refuses upgrades with `reason` until `until` settles (a successor waits for its parent). */
  refuseUntil(reason: string, until: Promise<unknown>): void {
    this.#busy = reason;
    void until.finally(() => {
      if (this.#busy === reason) this.#busy = null;
    });
  }

  /** The last upgrade attempt, for /healthz. */
  status(): Record<string, unknown> | null {
    return this.#last;
  }

  /** Replaces this agent by a new process; resolves once it has taken over. */
  async upgrade(request: UpgradeRequest = {}): Promise<UpgradeOutcome> {
    if (this.#busy) throw new BusyError(this.#busy);
    this.#busy = "an upgrade is already in progress";
    const steps = new Steps(this.#host.log, request.onProgress ?? (() => {}));
    this.#last = { state: "in progress", at: Date.now(), steps: steps.ms };
    try {
      const outcome = await this.#run(request, steps);
      this.#last = { state: "done", at: this.#last.at, successor: outcome.pid, steps: steps.ms };
      this.#replaced.resolve({
        lingering: this.#lingering,
        deliveries: request.delivered ? [request.delivered] : [],
      });
      return outcome;
    } catch (error) {
      this.#busy = null;
      this.#last = { state: "failed", at: this.#last.at, error: errorText(error), steps: steps.ms };
      this.#host.log.error("upgrade failed; this agent keeps running", { error: errorText(error) });
      throw error instanceof FailedError ? error : new FailedError(errorText(error));
    }
  }

  async #run(request: UpgradeRequest, steps: Steps): Promise<UpgradeOutcome> {
    const { supervisor } = this.#host;
    await this.#host.beforeMove?.();
    const handover = await supervisor.handover();
    steps.mark("handover", "state handed over; changes wait");
    const socket = join(this.#host.config.agent.run_dir, `.polyagent-handover-${Deno.pid}.sock`);
    const listener = await listenHandover(socket);
    let child: SuccessorProcess | null = null;
    let peer: Peer | null = null;
    try {
      child = await this.#host.spawnSuccessor(request.binary ?? null, socket);
      steps.mark("spawned", `successor started (pid ${child.pid})`, { pid: child.pid });
      peer = await this.#meet(listener, child, handover.data);
      await this.#expect(peer, child, "ready");
      steps.mark("ready", "successor ready: its proxy serves beside ours");
    } catch (error) {
      await peer?.send({ t: "abort", reason: errorText(error) }).catch(() => {});
      peer?.close();
      if (child) await this.#end(child, peer !== null);
      handover.resume();
      throw new FailedError(`The successor could not take over: ${errorText(error)}`);
    } finally {
      closeHandover(listener, socket);
    }
    return await this.#takeOver(peer, child, steps);
  }

  /** Accepts the successor's connection, checks its hello and sends the handover. */
  async #meet(listener: Deno.UnixListener, child: SuccessorProcess, data: unknown): Promise<Peer> {
    const conn = await race(listener.accept(), child, this.#timeoutMs, "connection");
    const peer = new JsonLines(conn, fromSuccessorSchema);
    const hello = await this.#expect(peer, child, "hello");
    this.#host.log.info("upgrade: successor connected", { pid: hello.pid, version: hello.version });
    await peer.send({
      t: "handover",
      from: { pid: Deno.pid, version: this.#host.version, startedAt: this.#host.startedAt },
      services: data,
      unix: listeningUnixPaths(),
      tcp: listeningTcpAddresses(),
    });
    return peer;
  }

  /** Past the point of no return: move the listeners, detach, wait for the successor. */
  async #takeOver(peer: Peer, child: SuccessorProcess, steps: Steps): Promise<UpgradeOutcome> {
    const { supervisor } = this.#host;
    try {
      await peer.send({ t: "move" });
      const moved = await this.#expect(peer, child, "moved");
      steps.mark("moved", "control sockets moved to the successor", { notes: moved.notes });
      this.#lingering = (await supervisor.detach()).lingering;
      await sealDocuments("the agent has handed over to its successor");
      steps.mark("detached", "our services let go (nothing managed was signalled)");
      await peer.send({ t: "detached" });
      await this.#expect(peer, child, "running");
      steps.mark("running", `successor took over (pid ${child.pid})`);
    } catch (error) {
      peer.close();
      child.kill();
      await supervisor.detach().catch(() => {});
      unsealDocuments();
      await supervisor.start();
      steps.mark("recovered", "successor lost after the move: our services restarted");
      throw new FailedError(`The successor failed while taking over: ${errorText(error)}`);
    }
    peer.close();
    child.release();
    return {
      pid: child.pid,
      message: `new main process launched with pid ${child.pid}, closing the old one`,
    };
  }

  /**
   * Lets a failed successor that got the abort clean up and exit (SIGKILL after 5 s; at once
   * when it never connected), then removes what it left beside our sockets.
   */
  async #end(child: SuccessorProcess, told: boolean): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exited = told && await Promise.race([
      child.exited.then(() => true),
      new Promise<boolean>((r) => timer = setTimeout(() => r(false), 5000)),
    ]);
    clearTimeout(timer);
    if (!exited) {
      child.kill();
      await child.exited;
    }
    await removeLeftBeside(listeningUnixPaths(), child.pid);
  }

  get #timeoutMs(): number {
    return this.#host.config.agent.upgrade_timeout_ms;
  }

  /** The next message, which must be `t`; a `failed`, an exit or a timeout throws. */
  async #expect<T extends FromSuccessor["t"]>(
    peer: Peer,
    child: SuccessorProcess,
    t: T,
  ): Promise<Extract<FromSuccessor, { t: T }>> {
    const message = await race(nextWithin(peer, this.#timeoutMs, `"${t}"`), child);
    if (message === null) throw new Error(`the successor closed the handover before "${t}"`);
    if (message.t === "failed") throw new Error(message.reason);
    if (message.t !== t) throw new Error(`expected "${t}" from the successor, got "${message.t}"`);
    return message as Extract<FromSuccessor, { t: T }>;
  }
}

/** `work`, unless the successor exits first (or `timeoutMs` passes). */
function race<T>(
  work: Promise<T>,
  child: SuccessorProcess,
  timeoutMs?: number,
  what = "answer",
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limits: Promise<never>[] = [child.exited.then((how) => Promise.reject(new Error(how)))];
  if (timeoutMs !== undefined) {
    limits.push(
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`No ${what} from the successor within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    );
  }
  return Promise.race([work, ...limits]).finally(() => clearTimeout(timer));
}

/** The handover socket: 0600, not one of the sockets handed over. */
async function listenHandover(path: string): Promise<Deno.UnixListener> {
  await Deno.remove(path).catch(() => {});
  const listener = Deno.listen({ transport: "unix", path });
  await Deno.chmod(path, 0o600);
  return listener;
}

function closeHandover(listener: Deno.UnixListener, path: string): void {
  try {
    listener.close();
  } catch {
    // closed
  }
  Deno.remove(path).catch(() => {});
}
