/** Directories the agent creates for itself. */
import { dirname } from "node:path";

/**
 * Creates `dir` with `mode` when it is missing; missing parents get the default mode (a recursive
 * mkdir would give them `mode` too, locking other users out of, say, ./var). An existing
 * directory keeps the mode its operator chose.
 */
export async function ensureDir(dir: string, mode: number): Promise<void> {
  try {
    await Deno.mkdir(dir, { mode });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return;
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.mkdir(dirname(dir), { recursive: true });
    await Deno.mkdir(dir, { mode }).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    });
  }
}
