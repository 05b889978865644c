/** Memory [used, buff/cache, free] in MB from /proc/meminfo, computed the way `free` does. */

/** Parses /proc/meminfo into kB values. */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** [used, buff/cache, free] in MB (MiB, rounded). */
export function memoryUsage(text: string): [number, number, number] {
  const info = parseMeminfo(text);
  const kb = (k: string) => info.get(k) ?? 0;
  const total = kb("MemTotal");
  const free = kb("MemFree");
  const cache = kb("Buffers") + kb("Cached") + kb("SReclaimable");
  const used = Math.max(0, total - free - cache);
  const mb = (v: number) => Math.round(v / 1024);
  return [mb(used), mb(cache), mb(free)];
}
