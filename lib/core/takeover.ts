/**
 * The successor's side of an upgrade (see `upgrade.ts` for the whole sequence). The old agent
 * starts it with `POLYAGENT_TAKEOVER=<handover socket>`; it connects, receives the services'
 * state and the old agent's listeners, prepares (proxy data plane up, Unix sockets bound beside
 * the old ones), moves the listeners in when told, and starts its services once the old agent has
 * let go of everything it manages.
 */
import type { AgentConfig } from "./config.ts";
import { errorText, type Logger } from "./log.ts";
import type { Supervisor } from "./supervisor.ts";
import { holdTcpServers, releaseHeldTcpServers } from "./tcp_server.ts";
import { bindBeside, type SocketBeside } from "./unix_socket.ts";
import { type FromOldAgent, fromOldAgentSchema, JsonLines, nextWithin } from "./upgrade_wire.ts";

/** The environment variable that starts `serve` in takeover mode. */
export const TAKEOVER_ENV = "POLYAGENT_TAKEOVER";

/** Reads and clears {@linkcode TAKEOVER_ENV} (so no child of this agent inherits it). */
export function takeoverSocket(): string | null {
  try {
    const path = Deno.env.get(TAKEOVER_ENV) ?? null;
    if (path !== null) Deno.env.delete(TAKEOVER_ENV);
    return path || null;
  } catch {
    return null;
  }
}

/** What the successor needs from the agent. */
export interface TakeoverHost {
  config: AgentConfig;
  supervisor: Supervisor;
  log: Logger;
  version: string;
}

/** A takeover that has started the services. */
export interface TakenOver {
  /** The old agent. */
  from: { pid: number; version: string; startedAt: number };
  /** Milliseconds since the connection, per step. */
  steps: Record<string, number>;
  /** Tells the old agent this one runs (after the pid file is written). */
  confirm(): Promise<void>;
  /** Resolves once the old agent has gone (its end of the handover closed). */
  oldAgentGone: Promise<void>;
}

type Peer = JsonLines<FromOldAgent>;

async function expect<T extends FromOldAgent["t"]>(
  peer: Peer,
  t: T,
  ms: number,
): Promise<Extract<FromOldAgent, { t: T }>> {
  const message = await nextWithin(peer, ms, `"${t}" from the old agent`);
  if (message === null) throw new Error(`the old agent closed the handover before "${t}"`);
  if (message.t === "abort") {
    throw new Error(`the old agent called the upgrade off: ${message.reason}`);
  }
  if (message.t !== t) throw new Error(`expected "${t}" from the old agent, got "${message.t}"`);
  return message as Extract<FromOldAgent, { t: T }>;
}

/** Whether process `pid` exists (a harmless SIGCONT reaches it). */
export function processExists(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** Takes over from the old agent behind `socket`; throws (having cleaned up) when it cannot. */
export async function takeOver(socket: string, host: TakeoverHost): Promise<TakenOver> {
  const t0 = performance.now();
  const steps: Record<string, number> = {};
  const mark = (step: string) => steps[step] = Math.round((performance.now() - t0) * 10) / 10;
  const { supervisor, log, config } = host;
  const timeout = config.agent.upgrade_timeout_ms;
  const peer = new JsonLines(
    await Deno.connect({ transport: "unix", path: socket }),
    fromOldAgentSchema,
  );
  let sockets: SocketBeside[] = [];
  try {
    await peer.send({ t: "hello", pid: Deno.pid, version: host.version });
    const handover = await expect(peer, "handover", timeout);
    log.info("takeover: handover received", { from: handover.from.pid, ...handover.from });
    sockets = await Promise.all(handover.unix.map((path) => bindBeside(path)));
    await supervisor.prepare(handover.services);
    mark("ready");
    await peer.send({ t: "ready", ms: steps });
    await expect(peer, "move", timeout);
    for (const s of sockets) await s.moveIn();
    const { failed } = await holdTcpServers(handover.tcp);
    for (const note of failed) {
      log.warn("takeover: TCP address not shared; bound at start", { note });
    }
    mark("moved");
    await peer.send({ t: "moved", notes: failed });
    await waitDetached(peer, handover.from.pid, timeout + config.agent.shutdown_timeout_ms);
    mark("detached");
    await supervisor.start();
    mark("started");
    await Promise.all(sockets.map((s) => s.discard()));
    const unclaimed = await releaseHeldTcpServers();
    if (unclaimed.length > 0) log.info("takeover: addresses no service uses now", { unclaimed });
    return {
      from: handover.from,
      steps,
      confirm: () => peer.send({ t: "running", pid: Deno.pid }),
      oldAgentGone: drain(peer),
    };
  } catch (error) {
    log.error("takeover failed; the old agent carries on", { error: errorText(error) });
    await Promise.all(sockets.map((s) => s.discard()));
    await releaseHeldTcpServers();
    await peer.send({ t: "failed", reason: errorText(error) }).catch(() => {});
    await supervisor.abandonPrepared();
    peer.close();
    throw error;
  }
}

/** Waits for "detached"; a vanished old agent counts as detached (it manages nothing now). */
async function waitDetached(peer: Peer, oldPid: number, ms: number): Promise<void> {
  try {
    await expect(peer, "detached", ms);
  } catch (error) {
    if (processExists(oldPid)) throw error;
  }
}

/** Resolves when the old agent closes its end. */
async function drain(peer: Peer): Promise<void> {
  try {
    while (await peer.next() !== null) {
      // nothing more is expected
    }
  } catch {
    // gone
  } finally {
    peer.close();
  }
}
