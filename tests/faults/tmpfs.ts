/**
 * A small tmpfs for disk-full and read-only faults: mounted on a folder the test owns (root only),
 * filled to the last byte, remounted read-only and back, and unmounted (lazily if still busy).
 *
 * @module
 */
import { join } from "node:path";
import { sh } from "../_helpers/mod.ts";

/** A mounted tmpfs. */
export interface SmallDisk extends AsyncDisposable {
  path: string;
  /** Writes a filler file until the disk is full. */
  fill(): Promise<void>;
  /** Removes the filler: space is back. */
  free(): Promise<void>;
  /** Remounts read-only (true) or read-write (false). */
  readOnly(on: boolean): Promise<void>;
  /** Files (names) below `sub` whose name says they are temp files of an atomic write. */
  tempFiles(sub: string): string[];
}

async function run(argv: string[]): Promise<void> {
  const r = await sh(argv, { check: false });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.trim()}`);
}

/** Mounts a tmpfs of `sizeKb` on `path` (created), mode 0755. */
export async function mountSmallDisk(path: string, sizeKb: number): Promise<SmallDisk> {
  await Deno.mkdir(path, { recursive: true });
  await run(["mount", "-t", "tmpfs", "-o", `size=${sizeKb}k,mode=0755`, "tmpfs", path]);
  const filler = join(path, "filler");
  return {
    path,
    async fill() {
      // dd stops at ENOSPC with status 1: that is the point
      await sh(["dd", "if=/dev/zero", `of=${filler}`, "bs=4k"], { check: false });
    },
    async free() {
      await Deno.remove(filler).catch(() => {});
    },
    async readOnly(on: boolean) {
      await run(["mount", "-o", `remount,${on ? "ro" : "rw"}`, path]);
    },
    tempFiles(sub: string) {
      const found: string[] = [];
      for (const entry of Deno.readDirSync(join(path, sub))) {
        if (/\.tmp-\d+-\d+$/.test(entry.name)) found.push(entry.name);
      }
      return found;
    },
    async [Symbol.asyncDispose]() {
      const r = await sh(["umount", path], { check: false });
      if (r.code !== 0) await sh(["umount", "-l", path], { check: false });
    },
  };
}
