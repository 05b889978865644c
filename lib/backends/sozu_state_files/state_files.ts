/**
 * The files SAVE_STATE writes and LOAD_STATE reads: sozu's record streams, kept under one
 * directory (`<state_dir>/sozu/` by default). A relative path resolves under it and may not leave
 * it; an absolute path is refused unless the configuration allows them. Writes are atomic (the
 * directory is created 0700 first); reads refuse files over 256 MiB.
 */
import { isAbsolute, normalize, resolve, sep } from "node:path";
import { ForbiddenError, writeFileAtomic } from "../../core/mod.ts";

/** Largest saved state LOAD_STATE reads. */
export const MAX_STATE_FILE_BYTES = 256 * 1024 * 1024;

/** Where saved states live and which paths they may use. */
export interface SozuStateFilesOptions {
  /** Directory relative paths resolve under (created 0700 on the first write). */
  dir: string;
  /** Whether absolute paths are allowed. */
  allowAbsolutePaths: boolean;
  /** Files a save must never overwrite (the automatic state document). */
  protectedPaths: readonly string[];
}

/** Access to the saved-state files (what the sozu handlers use; a test may fake it). */
export interface SozuStateFileStore {
  /** The file a client's `path` names; throws a core `ForbiddenError` when it is not allowed. */
  resolve(path: string): string;
  /** Whether `file` (resolved) is one a save must never overwrite. */
  isProtected(file: string): boolean;
  /** Writes `text` to `file` atomically. */
  write(file: string, text: string): Promise<void>;
  /** Reads `file` as text. */
  read(file: string): Promise<string>;
}

/** The saved-state files on disk. */
export class SozuStateFiles implements SozuStateFileStore {
  readonly #options: SozuStateFilesOptions;

  constructor(options: SozuStateFilesOptions) {
    this.#options = options;
  }

  resolve(path: string): string {
    if (isAbsolute(path)) {
      if (!this.#options.allowAbsolutePaths) {
        throw new ForbiddenError(
          `absolute state paths are not allowed: "${path}" (set sozu.allow_absolute_state_paths)`,
        );
      }
      return normalize(path);
    }
    const base = resolve(this.#options.dir);
    const full = resolve(base, path);
    if (!full.startsWith(base + sep)) {
      throw new ForbiddenError(`state path "${path}" leaves the state directory`);
    }
    return full;
  }

  isProtected(file: string): boolean {
    return this.#options.protectedPaths.some((p) => resolve(p) === file);
  }

  async write(file: string, text: string): Promise<void> {
    await Deno.mkdir(this.#options.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, text);
  }

  async read(file: string): Promise<string> {
    const info = await Deno.stat(file);
    if (info.size > MAX_STATE_FILE_BYTES) throw new Error("larger than 256 MiB");
    return await Deno.readTextFile(file);
  }
}
