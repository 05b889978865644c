/**
 * How the supervisor reads /proc. Deno 2.9 refuses reads below /proc without `--allow-all`, so
 * the agent reads them through a helper process in batches; the service passes that reader in
 * (backends import only core, so the supervisor does not import the procfs backend itself).
 */
import type { CommandRunner } from "../../core/mod.ts";

/** One directory entry with its symlink target ("" when not a link). */
export interface ProcDirEntry {
  dir: string;
  name: string;
  target: string;
}

/** Batch readers of /proc. */
export interface ProcReader {
  /** Whole files; missing ones are absent from the result. */
  readFiles(paths: readonly string[]): Promise<Map<string, string>>;
  /** Entries (with symlink targets) of directories such as /proc/<pid>/fd. */
  listDirs(dirs: readonly string[]): Promise<ProcDirEntry[]>;
}

/**
 * A {@linkcode ProcReader} over helper processes: one `grep -a -H -s '' -- paths…` per batch of
 * files and one `find … -printf` per batch of directories (argv only). Lines are matched to files
 * by splitting at the first colon (paths below /proc contain none), so parsing stays linear in the
 * output even for thousands of files and long socket tables.
 */
export function helperReader(runner: CommandRunner, timeoutMs = 5000): ProcReader {
  return {
    async readFiles(paths) {
      const out = new Map<string, string>();
      if (paths.length === 0) return out;
      const wanted = new Set(paths.filter((p) => !p.includes(":")));
      // Only very large batches are split in two greps that run side by side (each spawn costs
      // the agent a fork, so one grep is cheaper below that).
      const list = [...wanted];
      const half = list.length > 4000 ? Math.ceil(list.length / 2) : list.length;
      const chunks = [list.slice(0, half), list.slice(half)].filter((c) => c.length > 0);
      const results = await Promise.all(
        chunks.map((chunk) =>
          runner(["grep", "-a", "-H", "-s", "", "--", ...chunk], {
            check: false,
            timeoutMs,
            maxOutput: 64 << 20,
          })
        ),
      );
      const parts = new Map<string, string[]>();
      const text = results.map((r) => r.stdout).join("");
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
    },
    async listDirs(dirs) {
      if (dirs.length === 0) return [];
      const result = await runner(
        ["find", ...dirs, "-mindepth", "1", "-maxdepth", "1", "-printf", "%h\\t%f\\t%l\\n"],
        { check: false, timeoutMs, maxOutput: 64 << 20 },
      );
      const entries: ProcDirEntry[] = [];
      for (const line of result.stdout.split("\n")) {
        if (!line) continue;
        const [dir, name, target] = line.split("\t");
        if (dir !== undefined && name !== undefined) {
          entries.push({ dir, name, target: target ?? "" });
        }
      }
      return entries;
    },
  };
}
