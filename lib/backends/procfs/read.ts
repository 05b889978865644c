/**
 * Reading /proc and /sys under Deno's permission model. Deno 2.9 refuses every read below /proc
 * and /sys unless the process has `--allow-all` (even with `--allow-read`), and the agent does not
 * run with `-A`. So these reads go through one short-lived helper process per batch — `grep` for
 * file contents and `find` for directory entries and symlink targets — with argv only, never a
 * shell. One call reads any number of files, so a sample of 1,000 processes costs one spawn.
 * Helpers start no children, so they are spawned without a process group (a cheaper spawn).
 */
import { type CommandRunner, runCommand } from "../../core/mod.ts";

/** Options for the readers. */
export interface ProcReadOptions {
  /** @default runCommand */
  runner?: CommandRunner;
  /** @default {5000} */
  timeoutMs?: number;
}

/**
 * Reads whole text files; files that do not exist (or vanished, like an exited process's) are
 * absent from the result. Lines are matched to files by splitting `grep -H` output at the first
 * colon (paths below /proc and /sys contain none; paths that do are not read), so parsing stays
 * linear in the output even for thousands of files.
 */
export async function readProcFiles(
  paths: readonly string[],
  options: ProcReadOptions = {},
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const wanted = new Set(paths.filter((p) => !p.includes(":")));
  if (wanted.size === 0) return out;
  const runner = options.runner ?? runCommand;
  const result = await runner(["grep", "-a", "-H", "-s", "", "--", ...wanted], {
    check: false,
    timeoutMs: options.timeoutMs ?? 5000,
    maxOutput: 64 << 20,
    processGroup: false,
  });
  const parts = new Map<string, string[]>();
  const text = result.stdout;
  let cursor = 0;
  while (cursor < text.length) {
    let end = text.indexOf("\n", cursor);
    if (end < 0) end = text.length;
    const colon = text.indexOf(":", cursor);
    if (colon > cursor && colon < end) {
      const path = text.slice(cursor, colon);
      if (wanted.has(path)) {
        let lines = parts.get(path);
        if (!lines) parts.set(path, lines = []);
        lines.push(text.slice(colon + 1, end));
      }
    }
    cursor = end + 1;
  }
  for (const [path, lines] of parts) out.set(path, lines.join("\n") + "\n");
  return out;
}

/** Reads one file; null when it does not exist. */
export async function readProcFile(
  path: string,
  options: ProcReadOptions = {},
): Promise<string | null> {
  return (await readProcFiles([path], options)).get(path) ?? null;
}

/** One directory entry: its path and, for a symlink, where it points. */
export interface ProcEntry {
  dir: string;
  name: string;
  /** Symlink target ("socket:[1234]" for a socket fd), or "" when not a link. */
  target: string;
}

/** Lists the entries of directories (for example `/proc/<pid>/fd`), with symlink targets. */
export async function listProcDirs(
  dirs: readonly string[],
  options: ProcReadOptions = {},
): Promise<ProcEntry[]> {
  if (dirs.length === 0) return [];
  const runner = options.runner ?? runCommand;
  const result = await runner(
    ["find", ...dirs, "-mindepth", "1", "-maxdepth", "1", "-printf", "%h\\t%f\\t%l\\n"],
    {
      check: false,
      timeoutMs: options.timeoutMs ?? 5000,
      maxOutput: 64 << 20,
      processGroup: false,
    },
  );
  const entries: ProcEntry[] = [];
  for (const line of result.stdout.split("\n")) {
    if (!line) continue;
    const [dir, name, target] = line.split("\t");
    if (dir !== undefined && name !== undefined) entries.push({ dir, name, target: target ?? "" });
  }
  return entries;
}
