/**
 * DNS override for the Linux resolver: resolvectl (systemd-resolved, per interface), resolvconf,
 * or a managed resolv.conf whose original (content and mode, or symlink target, or absence) is
 * handed back as a {@linkcode DnsBackup} for the caller to store durably before anything changes,
 * and restored exactly on disable.
 */
import { dirname } from "node:path";
import {
  CommandError,
  type CommandRunner,
  FailedError,
  UnavailableError,
  writeFileAtomic,
} from "../../core/mod.ts";

/** Which resolver mechanism to drive. */
export type DnsMethod = "auto" | "resolvectl" | "resolvconf" | "file";

/** No usable resolver mechanism: unavailable, reason "dns-util-missing". */
export class NoDnsUtilError extends UnavailableError {
  constructor(message: string) {
    super(message, { reason: "dns-util-missing" });
    this.name = "NoDnsUtilError";
  }
}

/** The resolver mechanism failed: failed, reason "dns-util-failed". */
export class DnsUtilError extends FailedError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { reason: "dns-util-failed", ...(options ?? {}) });
    this.name = "DnsUtilError";
  }
}

/** What was there before an override, to put back. */
export type DnsBackup =
  | { kind: "file"; content: string; mode: number }
  | { kind: "symlink"; target: string }
  | { kind: "absent" }
  | { kind: "resolvectl"; interface: string }
  | { kind: "resolvconf"; record: string };

/** Settings for {@linkcode DnsResolver}. */
export interface DnsResolverOptions {
  method: DnsMethod;
  /** resolv.conf to manage in `file` mode. */
  resolvConf: string;
  /** Interface for resolvectl (required for that method). */
  interface: string;
  runner: CommandRunner;
  timeoutMs: number;
}

function which(name: string): string | null {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return null;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const RECORD = "polyagent.cryptoded";

/**
 * Writes `path` atomically when the agent may create files next to it; otherwise (the shipped
 * permission set grants /etc/resolv.conf itself, not /etc) rewrites it in place and fsyncs.
 */
async function writeResolv(path: string, text: string, mode: number): Promise<void> {
  const dir = dirname(path);
  const canCreate = Deno.permissions.querySync({ name: "write", path: dir }).state === "granted";
  if (canCreate) {
    await writeFileAtomic(path, text, { mode });
    return;
  }
  const file = await Deno.open(path, { write: true, create: true, truncate: true, mode });
  try {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
    await file.sync();
  } finally {
    file.close();
  }
  await Deno.chmod(path, mode);
}

/** Drives one resolver mechanism. */
export class DnsResolver {
  #o: DnsResolverOptions;

  constructor(options: DnsResolverOptions) {
    this.#o = options;
  }

  /** The mechanism to use now; throws {@linkcode NoDnsUtilError} when none is usable. */
  detect(): Exclude<DnsMethod, "auto"> {
    const { method } = this.#o;
    const resolvedUp = exists("/run/systemd/resolve/io.systemd.Resolve");
    if (method === "resolvectl" || (method === "auto" && this.#o.interface && resolvedUp)) {
      if (!which("resolvectl")) throw new NoDnsUtilError("resolvectl is not installed");
      if (!this.#o.interface) {
        throw new NoDnsUtilError("resolvectl needs cryptoded.dns_interface to be set");
      }
      return "resolvectl";
    }
    if (method === "resolvconf" || (method === "auto" && which("resolvconf"))) {
      if (!which("resolvconf")) throw new NoDnsUtilError("resolvconf is not installed");
      return "resolvconf";
    }
    if (!exists(dirname(this.#o.resolvConf))) {
      throw new NoDnsUtilError(
        `no resolvectl or resolvconf, and "${dirname(this.#o.resolvConf)}" does not exist`,
      );
    }
    return "file";
  }

  /** Reads what must be restored later (before {@linkcode apply}). */
  async backup(method: Exclude<DnsMethod, "auto">): Promise<DnsBackup> {
    if (method === "resolvectl") return { kind: "resolvectl", interface: this.#o.interface };
    if (method === "resolvconf") return { kind: "resolvconf", record: RECORD };
    const path = this.#o.resolvConf;
    try {
      const info = await Deno.lstat(path);
      if (info.isSymlink) return { kind: "symlink", target: await Deno.readLink(path) };
      if (!info.isFile) throw new DnsUtilError(`"${path}" is not a regular file`);
      return {
        kind: "file",
        content: await Deno.readTextFile(path),
        mode: (info.mode ?? 0o644) & 0o7777,
      };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { kind: "absent" };
      if (error instanceof DnsUtilError) throw error;
      throw new DnsUtilError(`cannot read "${path}": ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async #run(argv: string[], stdin?: string): Promise<void> {
    try {
      await this.#o.runner(argv, {
        timeoutMs: this.#o.timeoutMs,
        ...(stdin !== undefined ? { stdin } : {}),
      });
    } catch (error) {
      throw new DnsUtilError(
        error instanceof CommandError ? error.message : `cannot run ${argv[0]}: ${error}`,
        { cause: error },
      );
    }
  }

  /** Points the resolver at `servers`, keeping `search`/`options` lines of the original file. */
  async apply(servers: readonly string[], backup: DnsBackup): Promise<void> {
    if (backup.kind === "resolvectl") {
      await this.#run(["resolvectl", "dns", backup.interface, ...servers]);
      await this.#run(["resolvectl", "domain", backup.interface, "~."]);
      return;
    }
    if (backup.kind === "resolvconf") {
      await this.#run(
        ["resolvconf", "-a", backup.record],
        servers.map((s) => `nameserver ${s}\n`).join(""),
      );
      return;
    }
    const kept = backup.kind === "file"
      ? backup.content.split("\n").filter((l) => /^\s*(search|domain|options)\s/.test(l))
      : [];
    const text = [
      "# Written by polyagent cryptoded DNS_OVERRIDE; the original comes back on disable",
      ...servers.map((s) => `nameserver ${s}`),
      ...kept,
      "",
    ].join("\n");
    const path = this.#o.resolvConf;
    try {
      const info = await Deno.lstat(path).catch(() => null);
      if (info?.isSymlink) await Deno.remove(path);
      await writeResolv(path, text, 0o644);
    } catch (error) {
      throw new DnsUtilError(`cannot write "${path}": ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Puts back exactly what {@linkcode backup} saw. */
  async restore(backup: DnsBackup): Promise<void> {
    if (backup.kind === "resolvectl") {
      await this.#run(["resolvectl", "revert", backup.interface]);
      return;
    }
    if (backup.kind === "resolvconf") {
      await this.#run(["resolvconf", "-d", backup.record]);
      return;
    }
    const path = this.#o.resolvConf;
    try {
      if (backup.kind === "absent") {
        await Deno.remove(path).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
      } else if (backup.kind === "symlink") {
        await Deno.remove(path).catch(() => {});
        // Deno.symlink needs unscoped write permission, which the agent does not have
        await this.#o.runner(["ln", "-s", "--", backup.target, path], {
          timeoutMs: this.#o.timeoutMs,
        });
      } else {
        await writeResolv(path, backup.content, backup.mode);
      }
    } catch (error) {
      throw new DnsUtilError(`cannot restore "${path}": ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** The name servers the resolver uses now (file and resolvconf modes read resolv.conf). */
  async current(): Promise<string[]> {
    try {
      const text = await Deno.readTextFile(this.#o.resolvConf);
      return [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
    } catch {
      return [];
    }
  }
}
