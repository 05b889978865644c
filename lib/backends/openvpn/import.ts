/**
 * Reading what IMPORT brings in: a `.ovpn` file, or a Tunnelblick `.tblk` bundle whose
 * `Contents/Resources/*.ovpn` have their `ca`/`cert`/`key`/`tls-auth`/`tls-crypt` file
 * references inlined (DER certificates and keys converted to PEM with openssl).
 */
import { basename, isAbsolute, join, resolve } from "node:path";
import { type CommandRunner, InvalidError } from "../../core/mod.ts";

/**
 * A problem with the import source: an invalid input whose `reason` is "import-too-large" (empty
 * or over the limit) or "profile-type" (anything else: wrong type, missing, unreadable).
 */
export class ImportError extends InvalidError {
  /** What was wrong with the source. */
  readonly problem: "type" | "size" | "missing";
  constructor(problem: "type" | "size" | "missing", message: string) {
    super(message, { reason: problem === "size" ? "import-too-large" : "profile-type" });
    this.name = "ImportError";
    this.problem = problem;
  }
}

/** One profile ready to be written. */
export interface ImportedProfile {
  name: string;
  content: string;
}

/** Checks size rules: not empty, at most `limit` bytes. */
export function checkSize(what: string, bytes: number, limit: number): void {
  if (bytes === 0) throw new ImportError("size", `${what} is empty`);
  if (bytes > limit) {
    throw new ImportError("size", `${what} is ${bytes} bytes, more than the limit of ${limit}`);
  }
}

async function readRegular(path: string, limit: number): Promise<string> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new ImportError("missing", `"${path}" does not exist`);
  }
  if (!info.isFile) throw new ImportError("type", `"${path}" is not a regular file`);
  checkSize(`"${path}"`, info.size, limit);
  return await Deno.readTextFile(path);
}

/** Reads a `.ovpn` file for import; the name is the file name without `.ovpn`. */
export async function readOvpnFile(path: string, limit: number): Promise<ImportedProfile> {
  if (!path.endsWith(".ovpn")) {
    throw new ImportError("type", `"${path}" is not an .ovpn file`);
  }
  return { name: basename(path).slice(0, -5), content: await readRegular(path, limit) };
}

const INLINE_KEYS = ["ca", "cert", "key", "tls-auth", "tls-crypt", "pkcs12"] as const;

async function toPem(
  kind: string,
  path: string,
  runner: CommandRunner,
): Promise<string> {
  const bytes = await Deno.readFile(path);
  const text = new TextDecoder().decode(bytes);
  if (text.includes("-----BEGIN")) return text.trim() + "\n";
  const argv = kind === "key"
    ? ["openssl", "pkey", "-inform", "DER", "-in", path]
    : ["openssl", "x509", "-inform", "DER", "-in", path];
  try {
    return (await runner(argv, { timeoutMs: 10_000 })).stdout.trim() + "\n";
  } catch (error) {
    throw new ImportError("type", `cannot convert "${path}" to PEM: ${(error as Error).message}`);
  }
}

/** Replaces file references with inline blocks, reading files relative to `dir`. */
export async function inlineFiles(
  content: string,
  dir: string,
  runner: CommandRunner,
): Promise<string> {
  const out: string[] = [];
  for (const line of content.split("\n")) {
    const m = /^\s*([a-z-]+)\s+("?)([^"\s]+)\2(\s+\d)?\s*$/.exec(line.replace(/\r$/, ""));
    const key = m?.[1];
    if (m && key && (INLINE_KEYS as readonly string[]).includes(key) && m[3] !== "[inline]") {
      const file = m[3]!;
      const path = isAbsolute(file) ? file : resolve(dir, file);
      if (!path.startsWith(resolve(dir) + "/")) {
        throw new ImportError("type", `"${file}" points outside the bundle`);
      }
      const pem = await toPem(key, path, runner).catch((error) => {
        if (error instanceof ImportError) throw error;
        throw new ImportError("missing", `"${file}" referenced by ${key} cannot be read`);
      });
      out.push(`<${key}>`, pem.trimEnd(), `</${key}>`);
      if (key === "tls-auth" && m[4]) out.push(`key-direction ${m[4].trim()}`);
      continue;
    }
    out.push(line);
  }
  return out.join("\n");
}

/** Reads every `.ovpn` of a Tunnelblick bundle with its files inlined. */
export async function readTblk(
  path: string,
  limit: number,
  runner: CommandRunner,
): Promise<ImportedProfile[]> {
  const clean = path.replace(/\/+$/, "");
  if (!clean.endsWith(".tblk")) throw new ImportError("type", `"${path}" is not a .tblk bundle`);
  const bundle = basename(clean).slice(0, -5);
  const resources = join(clean, "Contents", "Resources");
  const ovpns: string[] = [];
  try {
    for await (const entry of Deno.readDir(resources)) {
      if (entry.isFile && entry.name.endsWith(".ovpn")) ovpns.push(entry.name);
    }
  } catch {
    throw new ImportError("missing", `"${resources}" cannot be read`);
  }
  if (ovpns.length === 0) throw new ImportError("type", `"${path}" holds no .ovpn file`);
  ovpns.sort();
  const out: ImportedProfile[] = [];
  for (const file of ovpns) {
    const raw = await readRegular(join(resources, file), limit);
    const content = await inlineFiles(raw, resources, runner);
    checkSize(`"${file}" with its files inlined`, new TextEncoder().encode(content).length, limit);
    const name = ovpns.length === 1 ? bundle : `${bundle}-${file.slice(0, -5)}`;
    out.push({ name, content });
  }
  return out;
}
