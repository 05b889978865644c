/**
 * Bytes used and free per block device of the mounted filesystems, from `df -P -B1` (statfs(2) of
 * every mount; Deno's own statfs needs a permission the agent does not have, and /proc needs
 * `--allow-all`). Only sources under /dev/ are kept, each once.
 */

/** Parses `df -P -B1` output into `{ "/dev/sda1": [bytesUsed, bytesFree] }`. */
export function parseDf(text: string): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const source = f[0]!;
    if (!source.startsWith("/dev/") || source in out) continue;
    const used = Number(f[2]);
    const free = Number(f[3]);
    if (Number.isFinite(used) && Number.isFinite(free)) out[source] = [used, free];
  }
  return out;
}

/** The df command used. */
export const DF_ARGV: readonly string[] = ["df", "-P", "-B1"];
