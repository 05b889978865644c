/**
 * The profile directory: `<name>.ovpn` plus optional settings in `<name>.json` and `<name>.noc`
 * (profile_settings.ts). Files not owned by root (or by the agent's own uid when it is not root)
 * or wider than 0600 are refused, with the file and the reason.
 */
import { join } from "node:path";
import { isStaleTempName, syncDirectory, writeFileAtomic } from "../../core/mod.ts";
import {
  NO_SETTINGS,
  parseEndpoint,
  parseSettings,
  type ProfileEndpoint,
  type ProfileSettings,
} from "./profile_settings.ts";

/** Connection names: letters, digits, `-`, `_`, `.`, at most 128, ending in a letter or digit. */
export const PROFILE_NAME = /^[A-Za-z0-9_.-]{0,127}[A-Za-z0-9]$/;

/** True for a safe connection name (never a path outside the directory). */
export function isValidProfileName(name: string): boolean {
  return PROFILE_NAME.test(name) && name !== "." && name !== ".." && !name.startsWith(".");
}

/** A usable profile. */
export interface Profile extends ProfileSettings {
  name: string;
  /** Path of the .ovpn file. */
  path: string;
  /** Whether `<name>.noc` exists (v1.x "config-status"). */
  hasNoc: boolean;
  /** The `remote` / `proto` of the .ovpn. */
  endpoint: ProfileEndpoint;
}

/** A profile that was refused. */
export interface RefusedProfile {
  name: string;
  /** The file that failed the check. */
  file: string;
  reason: string;
}

/** What a scan found. */
export interface ProfileScan {
  profiles: Map<string, Profile>;
  refused: Map<string, RefusedProfile>;
}

/** Why a file may not be used as a profile, or null. */
export function permissionProblem(info: Deno.FileInfo, ownUid: number): string | null {
  if (info.uid !== 0 && info.uid !== ownUid) {
    return `owned by uid ${info.uid}, not by root`;
  }
  const mode = (info.mode ?? 0) & 0o777;
  if ((mode & 0o177) !== 0) return `mode ${mode.toString(8).padStart(4, "0")} is wider than 0600`;
  return null;
}

/** The settings of `name` (`.json`, then `.noc` over it); a string says which file is refused. */
async function readSettings(
  dir: string,
  name: string,
  ownUid: number,
): Promise<{ settings: ProfileSettings; hasNoc: boolean } | { file: string; reason: string }> {
  let settings = NO_SETTINGS;
  let hasNoc = false;
  for (const ext of [".json", ".noc"]) {
    const file = join(dir, `${name}${ext}`);
    try {
      const info = await Deno.lstat(file);
      const problem = info.isFile ? permissionProblem(info, ownUid) : "not a regular file";
      if (problem) return { file, reason: problem };
      const parsed = parseSettings(await Deno.readTextFile(file), settings);
      if (typeof parsed === "string") return { file, reason: parsed };
      settings = parsed;
      if (ext === ".noc") hasNoc = true;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        return { file, reason: (error as Error).message };
      }
    }
  }
  return { settings, hasNoc };
}

/** Reads the profile directory. Throws when the directory itself is unusable. */
export async function scanProfiles(dir: string, ownUid: number): Promise<ProfileScan> {
  const profiles = new Map<string, Profile>();
  const refused = new Map<string, RefusedProfile>();
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && isStaleTempName(entry.name)) {
      await Deno.remove(join(dir, entry.name)).catch(() => {}); // left by a killed import
      continue;
    }
    if (!entry.name.endsWith(".ovpn")) continue;
    const name = entry.name.slice(0, -5);
    if (isValidProfileName(name)) names.push(name);
  }
  names.sort();
  for (const name of names) {
    const path = join(dir, `${name}.ovpn`);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
    } catch {
      continue;
    }
    if (!info.isFile || info.size === 0) {
      refused.set(name, { name, file: path, reason: "not a non-empty regular file" });
      continue;
    }
    const problem = permissionProblem(info, ownUid);
    if (problem) {
      refused.set(name, { name, file: path, reason: problem });
      continue;
    }
    const read = await readSettings(dir, name, ownUid);
    if ("reason" in read) {
      refused.set(name, { name, ...read });
      continue;
    }
    const endpoint = parseEndpoint(await Deno.readTextFile(path).catch(() => ""));
    profiles.set(name, { name, path, ...read.settings, hasNoc: read.hasNoc, endpoint });
  }
  return { profiles, refused };
}

/** Why the directory cannot hold profiles, or null. */
export async function confDirProblem(dir: string): Promise<string | null> {
  try {
    const info = await Deno.stat(dir);
    if (!info.isDirectory) return `"${dir}" is not a directory`;
    return null;
  } catch (error) {
    return `"${dir}" cannot be read: ${(error as Error).message}`;
  }
}

/** True when `<dir>/<name>.ovpn` exists. */
export async function profileExists(dir: string, name: string): Promise<boolean> {
  try {
    await Deno.lstat(join(dir, `${name}.ovpn`));
    return true;
  } catch {
    return false;
  }
}

/** Writes `<dir>/<name>.ovpn` with mode 0600 (atomic, durable). */
export async function writeProfile(dir: string, name: string, content: string): Promise<string> {
  const path = join(dir, `${name}.ovpn`);
  await writeFileAtomic(path, content, { mode: 0o600 });
  return path;
}

/** Removes a profile's files (.ovpn, .json, .noc); returns the paths removed. */
export async function removeProfileFiles(dir: string, name: string): Promise<string[]> {
  const removed: string[] = [];
  for (const ext of [".ovpn", ".json", ".noc"]) {
    const path = join(dir, `${name}${ext}`);
    try {
      await Deno.remove(path);
      removed.push(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  if (removed.length > 0) await syncDirectory(dir);
  return removed;
}

/** Why the profile file at `path` may not be used now, or "gone" when it vanished. */
export async function profileFileProblem(path: string, ownUid: number): Promise<string | null> {
  try {
    return permissionProblem(await Deno.lstat(path), ownUid);
  } catch {
    return "gone";
  }
}
