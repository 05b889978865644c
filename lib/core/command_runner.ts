/**
 * Runs external commands: argv only (never a shell), a timeout that really kills (the whole
 * process group), output captured up to a cap, and a typed error that carries the argv, exit
 * status and the tail of stderr. Pure-logic tests inject their own {@linkcode CommandRunner}.
 */

/** Options for one command. */
export interface RunOptions {
  /** Kill the command (and its process group) after this long. @default {30000} */
  timeoutMs?: number;
  /** Bytes kept of each of stdout and stderr. @default {1048576} */
  maxOutput?: number;
  /** Text or bytes written to stdin, then closed. */
  stdin?: string | Uint8Array;
  cwd?: string;
  env?: Record<string, string>;
  /** Start from an empty environment (plus `env`). */
  clearEnv?: boolean;
  uid?: number;
  gid?: number;
  /** Throw {@linkcode CommandError} when the exit status is not 0. @default {true} */
  check?: boolean;
  /** Aborts the command early (it is killed). */
  signal?: AbortSignal;
  /**
   * Start the command in its own process group so a timeout or abort kills its children too.
   * Costs a fork instead of a vfork-style spawn (about 3 ms here); short system tools that start
   * no children (nft, ip, lxc-*) may turn it off. @default {true}
   */
  processGroup?: boolean;
}

/** A runner that passes `defaults` under every call's own options. */
export function withDefaults(runner: CommandRunner, defaults: RunOptions): CommandRunner {
  return (argv, options = {}) => runner(argv, { ...defaults, ...options });
}

/** What a finished command produced. */
export interface RunResult {
  argv: readonly string[];
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** Runs argv; rejects with {@linkcode CommandError}. */
export type CommandRunner = (argv: readonly string[], options?: RunOptions) => Promise<RunResult>;

/** A command that could not run, failed, or timed out. */
export class CommandError extends Error {
  readonly argv: readonly string[];
  readonly code: number | null;
  readonly timedOut: boolean;
  readonly stderrTail: string;
  readonly stdout: string;

  constructor(
    message: string,
    init: {
      argv: readonly string[];
      code: number | null;
      timedOut: boolean;
      stderr: string;
      stdout?: string;
    },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "CommandError";
    this.argv = init.argv;
    this.code = init.code;
    this.timedOut = init.timedOut;
    this.stderrTail = init.stderr.slice(-2000);
    this.stdout = init.stdout ?? "";
  }
}

/**
 * Reads a stream to its end keeping at most `cap` bytes (the head). When `stop` resolves first,
 * reading ends there (a grandchild that inherited the pipe may hold it open for hours).
 */
export async function readCapped(
  stream: ReadableStream<Uint8Array>,
  cap: number,
  stop?: Promise<unknown>,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  const reader = stream.getReader();
  void stop?.then(() => reader.cancel().catch(() => {}));
  for (;;) {
    const { value: chunk, done } = await reader.read();
    if (done) break;
    if (kept >= cap) continue;
    const take = chunk.subarray(0, cap - kept);
    chunks.push(take);
    kept += take.length;
  }
  const all = new Uint8Array(kept);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.length;
  }
  return new TextDecoder().decode(all);
}

/** Sends a signal to a process group, ignoring one that is already gone. */
export function killGroup(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(-pid, signal);
  } catch {
    try {
      Deno.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

function shortArgv(argv: readonly string[]): string {
  const text = argv.join(" ");
  return text.length > 200 ? text.slice(0, 197) + "..." : text;
}

/** Starts `argv` as the options say; a spawn failure becomes a {@linkcode CommandError}. */
function spawn(argv: readonly string[], options: RunOptions): Deno.ChildProcess {
  try {
    return new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      detached: options.processGroup ?? true,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {}),
      ...(options.clearEnv ? { clearEnv: true } : {}),
      ...(options.uid !== undefined ? { uid: options.uid } : {}),
      ...(options.gid !== undefined ? { gid: options.gid } : {}),
    }).spawn();
  } catch (error) {
    throw new CommandError(`Cannot run "${argv[0]}": ${(error as Error).message}`, {
      argv,
      code: null,
      timedOut: false,
      stderr: "",
    }, { cause: error });
  }
}

/** SIGKILLs the child (its whole group unless `processGroup` is false). */
function killChild(child: Deno.ChildProcess, options: RunOptions): void {
  if (options.processGroup ?? true) {
    killGroup(child.pid, "SIGKILL");
    return;
  }
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
}

/** Writes `stdin` to the child and closes it; a child that does not read it is not an error. */
function feedStdin(child: Deno.ChildProcess, stdin: string | Uint8Array): void {
  const writer = child.stdin.getWriter();
  const data = typeof stdin === "string" ? new TextEncoder().encode(stdin) : stdin;
  writer.write(data).then(() => writer.close()).catch(() => {});
}

/** Throws the {@linkcode CommandError} a finished run deserves (timeout, or non-zero status). */
function checkResult(result: RunResult, options: RunOptions, timeoutMs: number): void {
  const { argv, code, timedOut, stderr, stdout } = result;
  if (timedOut) {
    throw new CommandError(`Command timed out after ${timeoutMs} ms: ${shortArgv(argv)}`, {
      argv,
      code,
      timedOut,
      stderr,
      stdout,
    });
  }
  if ((options.check ?? true) && code !== 0) {
    const tail = stderr.trim().split("\n").slice(-3).join(" | ");
    throw new CommandError(
      `Command failed with status ${code}: ${shortArgv(argv)}${tail ? `: ${tail}` : ""}`,
      { argv, code, timedOut, stderr, stdout },
    );
  }
}

/** How long the output pipes may stay open after the command exited. */
const PIPE_GRACE_MS = 500;

/** The real runner. */
export const runCommand: CommandRunner = async (argv, options = {}) => {
  if (argv.length === 0 || !argv[0]) throw new TypeError("Cannot run an empty argv");
  const timeoutMs = options.timeoutMs ?? 30_000;
  const cap = options.maxOutput ?? 1 << 20;
  const started = performance.now();
  const child = spawn(argv, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killChild(child, options);
  }, timeoutMs);
  const onAbort = () => killChild(child, options);
  options.signal?.addEventListener("abort", onAbort, { once: true });
  if (options.stdin !== undefined) feedStdin(child, options.stdin);
  // once the command is gone, its pipes get a short grace: a child it left behind (killed tool's
  // helper, daemon) may hold them open, and must not hold the caller too
  let grace: ReturnType<typeof setTimeout> | undefined;
  const drained = child.status.then(() => new Promise((r) => grace = setTimeout(r, PIPE_GRACE_MS)));
  const [stdout, stderr, status] = await Promise.all([
    readCapped(child.stdout, cap, drained),
    readCapped(child.stderr, cap, drained),
    child.status,
  ]);
  clearTimeout(grace);
  clearTimeout(timer);
  options.signal?.removeEventListener("abort", onAbort);
  const result: RunResult = {
    argv,
    code: status.code,
    signal: status.signal,
    stdout,
    stderr,
    timedOut,
    durationMs: performance.now() - started,
  };
  checkResult(result, options, timeoutMs);
  return result;
};
