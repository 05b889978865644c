/**
 * Starting an upgrade's successor: the same command this agent was started with (read from
 * `/proc/<pid>/cmdline`, so a checkout's `deno run -P=agent … main.ts serve …` keeps its flags and
 * an installed executable is run again from its path, new file or not), the install.sh launcher
 * when it started us (`POLYAGENT_LAUNCHER`), or `--binary FILE` with this agent's arguments.
 */
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type SuccessorProcess, TAKEOVER_ENV } from "../core/mod.ts";

/** The launcher install.sh writes exports its own path in this variable. */
export const LAUNCHER_ENV = "POLYAGENT_LAUNCHER";

function envValue(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** This process's argv as the kernel has it, or null. */
async function ownCmdline(): Promise<string[] | null> {
  const { readProcFile } = await import("../backends/procfs/mod.ts");
  const text = await readProcFile(`/proc/${Deno.pid}/cmdline`).catch(() => null);
  if (!text) return null;
  const argv = text.replace(/\n$/, "").split("\0");
  while (argv.length > 0 && argv[argv.length - 1] === "") argv.pop();
  return argv.length > 0 && argv[0] ? argv : null;
}

/** What runs this program again when /proc cannot say (compiled, or `deno run` from source). */
function rebuiltCommand(): string[] {
  const exec = Deno.execPath().replace(/ \(deleted\)$/, "");
  if (basename(exec) !== "deno") return [exec, ...Deno.args];
  const main = Deno.mainModule.startsWith("file:")
    ? fileURLToPath(Deno.mainModule)
    : fileURLToPath(new URL("../../main.ts", import.meta.url));
  return [
    exec,
    "run",
    "-q",
    "-P=agent",
    "--v8-flags=--max-semi-space-size=2",
    "--no-code-cache",
    "--config",
    join(dirname(main), "deno.json"),
    main,
    ...Deno.args,
  ];
}

/** The successor's argv: `binary` (with our arguments), the launcher, or our own command. */
export async function successorCommand(binary: string | null): Promise<string[]> {
  if (binary) return [binary, ...Deno.args];
  const launcher = envValue(LAUNCHER_ENV);
  if (launcher) return [launcher, ...Deno.args];
  return await ownCmdline() ?? rebuiltCommand();
}

/**
 * Starts the successor in takeover mode (`POLYAGENT_TAKEOVER=<socket>`) in its own process
 * group, writing to this agent's stdout and stderr.
 */
export async function spawnSuccessor(
  binary: string | null,
  handoverSocket: string,
): Promise<SuccessorProcess> {
  const argv = await successorCommand(binary);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      env: { [TAKEOVER_ENV]: handoverSocket },
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
      detached: true,
    }).spawn();
  } catch (error) {
    throw new Error(`Cannot start "${argv[0]}"`, { cause: error });
  }
  const exited = child.status.then((s) =>
    s.signal
      ? `the successor was killed by ${s.signal}`
      : `the successor exited with status ${s.code} before taking over`
  );
  return {
    pid: child.pid,
    exited,
    kill: () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    },
    release: () => child.unref(),
  };
}
