/**
 * Bytes used and free per block device of the mounted filesystems: /proc/self/mountinfo for the
 * mounts (sources under /dev/ only), statfs(2) (node:fs `statfsSync`) for the figures. No
 * subprocess.
 */
import { statfsSync } from "node:fs";

/** One mounted block device. */
export interface BlockMount {
  source: string;
  mountPoint: string;
  fsType: string;
}

function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses mountinfo; keeps the first (shortest) mount point of each /dev/ source. */
export function parseMountinfo(text: string): BlockMount[] {
  const bySource = new Map<string, BlockMount>();
  for (const line of text.split("\n")) {
    const dash = line.indexOf(" - ");
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(" ");
    const right = line.slice(dash + 3).split(" ");
    const mountPoint = unescape(left[4] ?? "");
    const fsType = right[0] ?? "";
    const source = unescape(right[1] ?? "");
    if (!source.startsWith("/dev/") || !mountPoint) continue;
    const known = bySource.get(source);
    if (!known || mountPoint.length < known.mountPoint.length) {
      bySource.set(source, { source, mountPoint, fsType });
    }
  }
  return [...bySource.values()];
}

/** `{ "/dev/sda1": [bytesUsed, bytesFree] }` for every mounted block device. */
export function diskUsage(mountinfo?: string): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  const mounts = parseMountinfo(mountinfo ?? Deno.readTextFileSync("/proc/self/mountinfo"));
  for (const m of mounts) {
    try {
      const s = statfsSync(m.mountPoint);
      out[m.source] = [(s.blocks - s.bfree) * s.bsize, s.bavail * s.bsize];
    } catch {
      // unmounted meanwhile, or not readable
    }
  }
  return out;
}
