/**
 * Tools that misbehave, placed first on the agent's PATH: each named tool either hangs (a shell
 * that starts `sleep 3600` as its own child and waits for it, so a kill of the shell alone would
 * leave the sleep behind) or fails at once with garbage on stderr. Every process a hanging tool
 * starts is listed by pid, so a test can check that none outlives the runner's timeout.
 *
 * @module
 */
import { join } from "node:path";
import { sh } from "../_helpers/mod.ts";

/** How a fake tool misbehaves. */
export type FakeMode = "hang" | "fail";

/** A directory of fake tools. */
export interface FakeTools {
  dir: string;
  /** Every shell and sleep a hanging tool started so far: `<pid> <what>`. */
  started(): string[];
  /** The lines of {@linkcode started} whose process is still alive. */
  alive(): Promise<string[]>;
  /** Kills whatever is still alive (cleanup). */
  killAll(): Promise<void>;
}

function script(mode: FakeMode, pidFile: string): string {
  if (mode === "fail") {
    return `#!/bin/sh\nprintf 'garbage \\001\\377 %s: internal error 0xdeadbeef\\n' "$0" >&2\nexit 1\n`;
  }
  return `#!/bin/sh\necho "$$ $0 $*" >> ${pidFile}\n/bin/sleep 3600 &\necho "$! sleep of $$ $0 $*" >> ${pidFile}\nwait\n`;
}

/** Writes `names` as fake tools in `<parent>/fake-bin`. */
export async function fakeTools(
  parent: string,
  names: string[],
  mode: FakeMode,
): Promise<FakeTools> {
  const dir = join(parent, "fake-bin");
  const pidFile = join(parent, "fake-pids");
  await Deno.mkdir(dir, { recursive: true });
  for (const name of names) {
    await Deno.writeTextFile(join(dir, name), script(mode, pidFile), { mode: 0o755 });
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
      // /proc of other processes is refused without --allow-all: ask ps (a zombie is dead)
      const r = await sh(["ps", "-o", "stat=", "-p", line.split(" ")[0]!], { check: false });
      if (r.code === 0 && !r.stdout.trim().startsWith("Z")) living.push(line);
    }
    return living;
  };
  return {
    dir,
    started,
    alive,
    async killAll() {
      for (const line of await alive()) {
        await sh(["kill", "-9", line.split(" ")[0]!], { check: false });
      }
    },
  };
}

/** The network tools Intervirt needs (ss stays real: it only reads). */
export const NETWORK_TOOLS = ["ip", "nft", "sysctl", "nsenter"];

/** The LXC tools and network tools Intervirt needs. */
export const INTERVIRT_TOOLS = [
  "lxc-create",
  "lxc-start",
  "lxc-stop",
  "lxc-destroy",
  "lxc-info",
  "lxc-ls",
  "lxc-attach",
  "tar",
  ...NETWORK_TOOLS,
];
