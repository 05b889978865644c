/**
 * Watches a re-adopted Node (one this agent did not spawn, so it cannot wait for it): holds a
 * `MASQNode-UIv2` WebSocket to the Node's UI port open and treats its close as the event, then
 * confirms with /proc (pid and start time). While the process lives, the watch reconnects with
 * backoff.
 */
import type { CommandRunner } from "../../core/mod.ts";
import { isSameProcessAlive } from "./proc.ts";
import type { NodeExit } from "./launcher.ts";

/** Options for {@linkcode watchAdoptedNode}. */
export interface WatchOptions {
  pid: number;
  startTime: string | null;
  port: number;
  /** The WebSocket subprotocol the Node speaks. */
  protocol: string;
  signal: AbortSignal;
  /** Runs the /proc reader (or `ps`) that confirms the process. */
  runner: CommandRunner;
}

function heldOpen(url: string, protocol: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, [protocol]);
    } catch {
      resolve();
      return;
    }
    const done = () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    };
    const onAbort = () => {
      try {
        ws.close();
      } catch {
        // closing anyway
      }
      done();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    ws.onclose = done;
    ws.onerror = () => {
      // onclose follows
    };
  });
}

/** Resolves when the adopted Node has exited (or null when the watch is aborted). */
export async function watchAdoptedNode(options: WatchOptions): Promise<NodeExit | null> {
  let wait = 50;
  while (!options.signal.aborted) {
    if (!(await isSameProcessAlive(options.pid, options.startTime, options.runner))) {
      return { code: null, signal: null, stderr: null };
    }
    const opened = Date.now();
    await heldOpen(`ws://127.0.0.1:${options.port}`, options.protocol, options.signal);
    if (options.signal.aborted) break;
    if (!(await isSameProcessAlive(options.pid, options.startTime, options.runner))) {
      return { code: null, signal: null, stderr: null };
    }
    if (Date.now() - opened > 5000) wait = 50;
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 2000);
  }
  return null;
}
