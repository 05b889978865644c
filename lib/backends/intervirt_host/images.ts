/** The directory of local rootfs tarballs (`<dir>/debian/13.tar.gz`). */
import { join } from "node:path";

const IMAGE_EXTENSIONS = [".tar.gz", ".tgz", ".tar.xz", ".tar.zst", ".tar.bz2", ".tar"];

/** A local rootfs tarball. */
export interface ImageTarball {
  kind: "tarball";
  path: string;
}

/** Finds images by name in one directory. */
export class ImageDirectory {
  /** The directory searched. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The tarball `<dir>/<name>.tar.*` (first extension that exists), or null. */
  async find(name: string): Promise<ImageTarball | null> {
    for (const ext of IMAGE_EXTENSIONS) {
      const path = join(this.dir, name + ext);
      try {
        if ((await Deno.stat(path)).isFile) return { kind: "tarball", path };
      } catch {
        // try the next
      }
    }
    return null;
  }
}
