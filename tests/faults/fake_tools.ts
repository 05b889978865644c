/**
 * Tools that misbehave, placed first on the agent's PATH: each named tool either hangs (a shell
 * that starts `sleep 3600` as its own child and waits for it, so a kill of the shell alone would
 * leave the sleep behind) or fails at once with garbage on stderr. Every process a hanging tool
 * starts is listed by pid, so a test can check that none outlives the runner's timeout.
 *
 * @module
 */
import { join } from "node:path";
import { LxcRuntime } from "../../lib/backends/lxc/mod.ts";
import { runCommand } from "../../lib/core/mod.ts";
import { sh, waitFor } from "../_helpers/mod.ts";

/** How a fake tool misbehaves. */
export type FakeMode = "hang" | "fail";

/** A directory of fake tools (removed, with every process they started, on dispose). */
export interface FakeTools extends AsyncDisposable {
  dir: string;
  /** Every shell and sleep a hanging tool started so far: `<pid> <what>`. */
  started(): string[];
  /** The lines of {@linkcode started} whose process is still alive. */
  alive(): Promise<string[]>;
  /** Waits (up to 5 s) until none of them that `keep` accepts is alive; the ones still alive. */
  settled(keep?: (line: string) => boolean): Promise<string[]>;
}

function script(mode: FakeMode, pidFile: string): string {
  if (mode === "fail") {
    return `#!/bin/sh\nprintf 'garbage \\001\\377 %s: internal error 0xdeadbeef\\n' "$0" >&2\nexit 1\n`;
  }
  return `#!/bin/sh\necho "$$ $0 $*" >> ${pidFile}\n/bin/sleep 3600 &\necho "$! sleep of $$ $0 $*" >> ${pidFile}\nwait\n`;
}

/** Writes `names` as fake tools in a fresh folder under /tmp. */
export async function fakeTools(names: readonly string[], mode: FakeMode): Promise<FakeTools> {
  const base = await Deno.makeTempDir({ dir: "/tmp", prefix: "polyagent-tools-" });
  const dir = join(base, "bin");
  const pidFile = join(base, "pids");
  await Deno.mkdir(dir);
  await Deno.chmod(base, 0o755);
  for (const name of names) {
    await Deno.writeTextFile(join(dir, name), script(mode, pidFile));
    await Deno.chmod(join(dir, name), 0o755);
  }
  const started = () => {
    try {
      return Deno.readTextFileSync(pidFile).split("\n").filter((l) => l);
    } catch {
      return [];
    }
  };
  const alive = async () => {
    const living: string[] = [];
    for (const line of started()) {
      // /proc of other processes is refused without --allow-all: ask ps (a zombie is dead; a
      // reused pid is another program's)
      const r = await sh(["ps", "-o", "stat=,args=", "-p", line.split(" ")[0]!], { check: false });
      const [stat = "", ...args] = r.stdout.trim().split(/\s+/);
      const ours = args.join(" ").includes(base) || args.join(" ") === "/bin/sleep 3600";
      if (r.code === 0 && !stat.startsWith("Z") && ours) living.push(line);
    }
    return living;
  };
  const matching = async (keep: (line: string) => boolean) => (await alive()).filter(keep);
  return {
    dir,
    started,
    alive,
    settled: (keep = () => true) =>
      waitFor(async () => (await matching(keep)).length === 0 ? [] : null, { timeoutMs: 5_000 })
        .catch(() => matching(keep)),
    async [Symbol.asyncDispose]() {
      for (const line of await alive()) {
        await sh(["kill", "-9", line.split(" ")[0]!], { check: false });
      }
      await Deno.remove(base, { recursive: true }).catch(() => {});
    },
  };
}

/** The network tools Intervirt needs (ss stays real: it only reads). */
export const NETWORK_TOOLS = ["ip", "nft", "sysctl", "nsenter"];

/** The LXC runtime's tools (as the runtime lists them) and the network tools Intervirt needs. */
export const INTERVIRT_TOOLS: readonly string[] = [
  ...new LxcRuntime(runCommand, { lxcPath: "/nonexistent" }).requiredTools(),
  ...NETWORK_TOOLS,
];
