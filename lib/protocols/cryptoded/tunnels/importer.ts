/**
 * IMPORT: reads the source (inline content, a .ovpn file or a .tblk bundle) through the profile
 * store, checks every name, size and clash, and writes the profiles. Throws neutral errors:
 * "conf-dir", "profile-type", "import-too-large", "profile-exists".
 */
import { ConflictError, InvalidError, UnavailableError } from "../../../core/mod.ts";
import {
  checkSize,
  type ImportedProfile,
  isValidProfileName,
} from "../../../backends/openvpn/mod.ts";
import type { CryptodedProfileStore } from "../backends.ts";

/** Where IMPORT takes its profiles from. */
export type ProfileImportSource =
  | { kind: "ovpn" | "tblk"; path: string }
  | { kind: "inline"; name: string; content: string };

/** What IMPORT wrote. */
export interface ProfileImportResult {
  /** The profile names. */
  names: string[];
  /** The files written. */
  files: string[];
}

/** Imports the profiles of `source`, each at most `limit` bytes. */
export async function importProfiles(
  store: CryptodedProfileStore,
  source: ProfileImportSource,
  limit: number,
): Promise<ProfileImportResult> {
  const problem = await store.dirProblem();
  if (problem) throw new UnavailableError(problem, { reason: "conf-dir" });
  const profiles: ImportedProfile[] = source.kind === "inline"
    ? [{ name: source.name, content: source.content }]
    : await store.readSource(source, limit);
  for (const p of profiles) {
    if (!isValidProfileName(p.name)) {
      throw new InvalidError(`${JSON.stringify(p.name)} is not a valid profile name`, {
        reason: "profile-type",
      });
    }
  }
  const files: string[] = [];
  for (const p of profiles) files.push(await writeNew(store, p, limit));
  return { names: profiles.map((p) => p.name), files };
}

async function writeNew(
  store: CryptodedProfileStore,
  profile: ImportedProfile,
  limit: number,
): Promise<string> {
  checkSize(
    `profile ${JSON.stringify(profile.name)}`,
    new TextEncoder().encode(profile.content).length,
    limit,
  );
  if (await store.exists(profile.name)) {
    throw new ConflictError(`a profile named ${JSON.stringify(profile.name)} already exists`, {
      reason: "profile-exists",
    });
  }
  return await store.write(profile.name, profile.content);
}
