/**
 * Spawns the Node and decides, by events, whether it came up: its readiness line on stdout (the
 * built-in node), a fast TCP connect probe (a foreign binary), its exit, or the deadline (it is
 * then killed). The child gets its own process group so the agent's terminal signals and the
 * agent's exit leave it running.
 */
import { type CommandRunner, errorText, killGroup, type Logger } from "../../core/mod.ts";
import { processIdentity } from "./proc.ts";

/** How a Node ended. `code` is null when a signal ended it (or nothing is known). */
export interface NodeExit {
  code: number | null;
  signal: string | null;
  /** Its stderr text, or null when it was not captured (a re-adopted Node). */
  stderr: string | null;
}

/** Options for {@linkcode launchNode}. */
export interface LaunchOptions {
  argv: readonly string[];
  /** The UI port the Node was told to use. */
  port: number;
  env?: Record<string, string>;
  /** Give up (and kill the child) after this long. @default {10000} */
  readyTimeoutMs?: number;
  /** Lines on stdout matching this mean "ready"; without it a TCP connect probe is used. */
  readyLine?: RegExp;
  log: Logger;
}

interface SpawnOptions extends LaunchOptions {
  /** Stops the connect probe. */
  signal: AbortSignal;
}

/** A Node that came up. */
export interface LaunchedNode {
  pid: number;
  port: number;
  /** From /proc, to recognise the same process after an agent restart. */
  startTime: string | null;
  /** Resolves when the child exits. */
  exited: Promise<NodeExit>;
  /** Stops watching (the Node keeps running); used when the agent stops. */
  detach(): void;
}

/** The Node could not be started; the message follows the real Daemon's wording. */
export class LaunchError extends Error {
  /** The tail of the Node's stderr, when it said anything. */
  readonly stderr: string;
  constructor(message: string, options?: ErrorOptions & { stderr?: string }) {
    super(message, options);
    this.name = "LaunchError";
    this.stderr = options?.stderr ?? "";
  }
}

const STDERR_CAP = 64 * 1024;

async function collectTail(stream: ReadableStream<Uint8Array>, into: { text: string }) {
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) {
      into.text += decoder.decode(chunk, { stream: true });
      if (into.text.length > STDERR_CAP) into.text = into.text.slice(-STDERR_CAP);
    }
  } catch {
    // pipe cancelled on detach
  }
}

async function watchLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let partial = "";
  try {
    for await (const chunk of stream) {
      partial += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
      if (partial.length > 4096) partial = partial.slice(-4096);
    }
  } catch {
    // pipe cancelled on detach
  }
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

async function probe(port: number, signal: AbortSignal): Promise<boolean> {
  let wait = 5;
  while (!signal.aborted) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      await delay(wait, signal);
      wait = Math.min(wait * 2, 100);
    }
  }
  return false;
}

function timeout(ms: number): { promise: Promise<"timeout">; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<"timeout">((resolve) =>
    timer = setTimeout(() => resolve("timeout"), ms)
  );
  return { promise, cancel: () => clearTimeout(timer) };
}

interface Spawned {
  child: Deno.ChildProcess;
  pid: number;
  ready: Promise<"ready">;
  exited: Promise<NodeExit>;
}

/** Starts the child in its own process group and watches its output and exit. */
function spawnNode(options: SpawnOptions): Spawned {
  const [cmd, ...args] = options.argv;
  if (!cmd) throw new LaunchError("The Node command is empty");
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
      // As root, setting uid/gid 0 makes the spawn clear the supplementary groups: the Node then
      // switches to its real user (real_user.ts) with nothing of root left.
      ...(Deno.uid() === 0 ? { uid: 0, gid: 0 } : {}),
      ...(options.env ? { env: options.env } : {}),
    }).spawn();
  } catch (error) {
    throw new LaunchError(`Cannot run "${cmd}": ${errorText(error)}`, { cause: error });
  }
  const pid = child.pid;
  const stderr = { text: "" };
  const stderrDone = collectTail(child.stderr, stderr);
  const ready = Promise.withResolvers<"ready">();
  const stdoutDone = watchLines(child.stdout, (line) => {
    if (options.readyLine?.test(line)) ready.resolve("ready");
    else if (line.trim()) options.log.debug("node stdout", { pid, line });
  });
  const exited: Promise<NodeExit> = child.status.then(async (status) => {
    await settleWithin(Promise.all([stderrDone, stdoutDone]), 500);
    return {
      code: status.signal ? null : status.code,
      signal: status.signal,
      stderr: stderr.text,
    };
  });
  if (!options.readyLine) {
    probe(options.port, options.signal).then((ok) => ok && ready.resolve("ready"));
  }
  return { child, pid, ready: ready.promise, exited };
}

/** Whether `promise` settles within `ms`. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    promise.then(() => true, () => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
  ]);
  clearTimeout(timer);
  return settled;
}

/** Kills an unresponsive child (TERM, then KILL) and throws the matching LaunchError. */
async function killUnresponsive(pid: number, exited: Promise<NodeExit>): Promise<never> {
  killGroup(pid, "SIGTERM");
  if (!(await settleWithin(exited, 1000))) {
    killGroup(pid, "SIGKILL");
    if (!(await settleWithin(exited, 1000))) {
      throw new LaunchError(
        `Node started in process ${pid}, but was unresponsive and could not be killed: manual intervention is required.`,
      );
    }
  }
  throw new LaunchError(`Node started in process ${pid}, but was unresponsive and was killed.`);
}

/** Spawns the Node and resolves once it is ready; rejects with {@linkcode LaunchError}. */
export async function launchNode(
  options: LaunchOptions,
  runner: CommandRunner,
): Promise<LaunchedNode> {
  const probing = new AbortController();
  const spawned = spawnNode({ ...options, signal: probing.signal });
  const { child, pid, exited } = spawned;
  const deadline = timeout(options.readyTimeoutMs ?? 10_000);
  const outcome = await Promise.race([
    spawned.ready,
    exited.then(() => "exited" as const),
    deadline.promise,
  ]);
  deadline.cancel();
  probing.abort();
  if (outcome === "exited") {
    const exit = await exited;
    options.log.warn("node died during launch", {
      pid,
      code: exit.code,
      stderr: exit.stderr?.slice(-500),
    });
    throw new LaunchError(`Node started in process ${pid}, but died immediately.`, {
      stderr: exit.stderr?.slice(-2000) ?? "",
    });
  }
  if (outcome === "timeout") await killUnresponsive(pid, exited);
  const startTime = (await processIdentity(pid, runner))?.startTime ?? null;
  let detached = false;
  return {
    pid,
    port: options.port,
    startTime,
    exited,
    detach() {
      if (detached) return;
      detached = true;
      try {
        child.unref();
      } catch {
        // already gone
      }
    },
  };
}
