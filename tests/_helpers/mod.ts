/**
 * Shared test helpers: temporary directories under ./var/test, backend availability checks that
 * skip locally and fail under CI=true, spawning the real agent with the deno.json permission set,
 * and waiting on conditions without fixed sleeps.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** True under CI (a missing backend then fails the run instead of skipping). */
export const IN_CI: boolean = Deno.env.get("CI") === "true";

/** Whether the test runs as root (namespaces, LXC, nft need it). */
export const IS_ROOT: boolean = Deno.uid() === 0;

/** A fresh directory under ./var/test that the test removes with `using`/`await using`. */
export async function tempDir(prefix = "t"): Promise<{ path: string } & AsyncDisposable> {
  const base = join(ROOT, "var", "test");
  await Deno.mkdir(base, { recursive: true });
  // Tests run children as other users (nobody): the folders above a test dir must be traversable.
  await Deno.chmod(join(ROOT, "var"), 0o755);
  await Deno.chmod(base, 0o755);
  const path = await Deno.makeTempDir({ dir: base, prefix: `${prefix}-` });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * A fresh directory, mode 0755, under the system temp folder (/tmp), for tests that run something
 * as another user (nobody, a MASQ Node's real-user): the checkout may sit in a folder other users
 * cannot traverse (/root, `mktemp -d`), so ./var/test is no place for it. Removed on dispose.
 */
export async function worldTempDir(prefix = "t"): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ dir: "/tmp", prefix: `polyagent-${prefix}-` });
  await Deno.chmod(path, 0o755);
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Creates `<parent>/closed`, mode 0700 (a folder other users cannot traverse); its path. */
export async function closedFolder(parent: string): Promise<string> {
  const path = join(parent, "closed");
  await Deno.mkdir(path);
  await Deno.chmod(path, 0o700);
  return path;
}

/** Finds an executable on PATH (or an absolute path), or null. */
export function which(name: string): string | null {
  if (name.includes("/")) {
    try {
      return Deno.statSync(name).isFile ? name : null;
    } catch {
      return null;
    }
  }
  for (
    const dir
      of (Deno.env.get("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .split(":")
  ) {
    const candidate = join(dir, name);
    try {
      if (Deno.statSync(candidate).isFile) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * Returns null when every named tool is present (and root when `root` is set); otherwise the reason
 * to skip. Under CI=true a missing requirement throws, so the run fails.
 */
export function missing(tools: readonly string[], options: { root?: boolean } = {}): string | null {
  const reasons: string[] = [];
  if (options.root && !IS_ROOT) reasons.push("needs root");
  for (const tool of tools) if (!which(tool)) reasons.push(`"${tool}" not installed`);
  if (reasons.length === 0) return null;
  const reason = reasons.join(", ");
  if (IN_CI) throw new Error(`CI=true and a required backend is missing: ${reason}`);
  return reason;
}

/**
 * Registers a test that needs real tools: it runs when they are present, is skipped with a printed
 * reason otherwise, and fails under CI=true when they are missing.
 */
export function backendTest(
  name: string,
  needs: { tools?: readonly string[]; root?: boolean },
  fn: (t: Deno.TestContext) => Promise<void>,
  options: { sanitizeOps?: boolean; sanitizeResources?: boolean } = {},
): void {
  let reason: string | null;
  try {
    reason = missing(needs.tools ?? [], { root: needs.root ?? false });
  } catch (error) {
    Deno.test(name, () => {
      throw error;
    });
    return;
  }
  if (reason) {
    console.log(`skipping "${name}": ${reason}`);
    Deno.test({ name, ignore: true, fn: () => {} });
    return;
  }
  Deno.test({ name, fn, ...options });
}

/** Polls `check` (cheaply, every `stepMs`) until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; stepMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, options.stepMs ?? 20));
  }
  throw new Error(`Timed out waiting for ${options.what ?? "condition"}${last ? `: ${last}` : ""}`);
}

/** Options for {@linkcode spawnAgent}. */
export interface SpawnAgentOptions {
  /** Arguments after `main.ts`. */
  args: string[];
  env?: Record<string, string>;
  /** A command the agent runs under (it must exec it in place and keep the working directory). */
  wrap?: string[];
  /** Another copy of the program (its folder also holds its deno.json). @default {ROOT} */
  checkout?: string;
}

/** A running `polyagent` child started with the deno.json permission set. */
export interface AgentProcess extends AsyncDisposable {
  child: Deno.ChildProcess;
  pid: number;
  /** Lines of stdout seen so far. */
  stdoutLines: string[];
  /** Text of stderr seen so far. */
  stderr(): string;
  /** Resolves with the first stdout line matching. */
  waitForLine(match: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends a signal and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * The runtime flags the agent runs with (deno.json's start and agent tasks, build.sh, install.sh):
 * a young generation of at most 2 MB per semi-space instead of 16, which keeps a busy proxy
 * worker's heap about 40 MB smaller at no measured cost in throughput, and no V8 code cache (the
 * cache's mapped database stays resident, ~1.7 MB, to save a daemon ~20 ms once at start).
 */
export const RUNTIME_FLAGS: readonly string[] = [
  "--v8-flags=--max-semi-space-size=2",
  "--no-code-cache",
];

/**
 * Starts `deno run -P=agent main.ts …args` from the repository root (or `checkout`), under `wrap`
 * when given.
 */
export function spawnAgent(options: SpawnAgentOptions): AgentProcess {
  const dir = options.checkout ?? ROOT;
  const config = options.checkout ? ["--config", join(dir, "deno.json")] : [];
  const argv = [
    ...(options.wrap ?? []),
    Deno.execPath(),
    "run",
    "-q",
    "-P=agent",
    ...config,
    ...RUNTIME_FLAGS,
    join(dir, "main.ts"),
    ...options.args,
  ];
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: dir,
    env: { NO_COLOR: "1", ...(options.env ?? {}) },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdoutLines: string[] = [];
  let stderrText = "";
  const waiters: { match: RegExp; resolve: (line: string) => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>, onText: (text: string) => void) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  };
  let partial = "";
  const stdoutDone = pump(child.stdout, (text) => {
    partial += text;
    let nl: number;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      stdoutLines.push(line);
      for (const w of [...waiters]) {
        if (w.match.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const stderrDone = pump(child.stderr, (text) => {
    stderrText += text;
  });
  let status: Promise<Deno.CommandStatus> | null = null;
  const finished = () =>
    status ??= Promise.all([child.status, stdoutDone, stderrDone]).then(([s]) => s);
  const agent: AgentProcess = {
    child,
    pid: child.pid,
    stdoutLines,
    stderr: () => stderrText,
    waitForLine(match, timeoutMs = 15_000) {
      const seen = stdoutLines.find((l) => match.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `agent printed no line matching ${match} in ${timeoutMs} ms; stderr:\n${
                stderrText.slice(-3000)
              }`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          match,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
      });
    },
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
      return await finished();
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
      await finished();
    },
  };
  return agent;
}

/** Picks a free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Runs a command and returns its stdout; throws with stderr on failure. For test setup only. */
export async function sh(
  argv: string[],
  options: { check?: boolean; stdin?: string; env?: Record<string, string> } = {},
): Promise<
  { code: number; stdout: string; stderr: string }
> {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    ...(options.env ? { env: options.env } : {}),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const result = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if ((options.check ?? true) && out.code !== 0) {
    throw new Error(`${argv.join(" ")} failed (${out.code}): ${result.stderr.trim()}`);
  }
  return result;
}

/**
 * The distinct `Uid:`, `Gid:` and `Groups:` lines (whitespace squeezed) of every thread of `pid`,
 * read by a helper process (Deno refuses other processes' /proc files without --allow-all).
 */
export async function threadIdentities(pid: number): Promise<string[]> {
  const out = await sh(["sh", "-c", `grep -h -E '^(Uid|Gid|Groups):' /proc/${pid}/task/*/status`]);
  const lines = out.stdout.trim().split("\n").map((l) => l.replace(/\s+/g, " ").trim());
  return [...new Set(lines)];
}

/** Runs `polyagent <args>` (main.ts with the agent permission set) to completion. */
export async function polyagent(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-P=agent", ...RUNTIME_FLAGS, join(ROOT, "main.ts"), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

/**
 * The `[agent]` section of a test config whose state, run and log dirs live under `dir`, plus
 * `extra` keys (strings are quoted, booleans and numbers written as they are). Ends with a newline.
 */
export function agentSection(
  dir: string,
  extra: Record<string, string | number | boolean> = {},
): string {
  const lines = [
    "[agent]",
    `state_dir = "${dir}/state"`,
    `run_dir = "${dir}/run"`,
    `log_dir = "${dir}/log"`,
    ...Object.entries(extra).map(([k, v]) =>
      `${k} = ${typeof v === "string" ? JSON.stringify(v) : v}`
    ),
  ];
  return lines.join("\n") + "\n";
}
