/** Applies and removes the agent's nftables table with `nft` (argv only, with timeouts). */
import { CommandError, type CommandRunner } from "../../core/mod.ts";
import { type NetfilterState, parseFingerprint, renderRuleset } from "./ruleset.ts";

const TIMEOUT_MS = 10_000;

/** What {@linkcode applyRuleset} did. */
export interface ApplyResult {
  /** False when the table already held exactly this state. */
  changed: boolean;
  /** Fingerprint of the state now in the table. */
  fingerprint: string;
}

/** Reads the fingerprint of the live table, or null when it is missing. */
export async function liveFingerprint(
  runner: CommandRunner,
  table: string,
): Promise<string | null> {
  const result = await runner(["nft", "list", "table", "inet", table], {
    timeoutMs: TIMEOUT_MS,
    check: false,
  });
  if (result.code !== 0) return null;
  return parseFingerprint(result.stdout) ?? "";
}

/**
 * Makes the table hold exactly `state`. Skips `nft` when `known` (the fingerprint last applied)
 * matches; pass null to compare against the live table instead.
 */
export async function applyRuleset(
  runner: CommandRunner,
  state: NetfilterState,
  known: string | null,
): Promise<ApplyResult> {
  const rendered = renderRuleset(state);
  const current = known ?? await liveFingerprint(runner, state.table);
  if (current === rendered.fingerprint) {
    return { changed: false, fingerprint: rendered.fingerprint };
  }
  await runner(["nft", "-f", "-"], { stdin: rendered.script, timeoutMs: TIMEOUT_MS });
  return { changed: true, fingerprint: rendered.fingerprint };
}

/** Deletes the table; a missing table is fine. */
export async function deleteTable(runner: CommandRunner, table: string): Promise<void> {
  try {
    await runner(["nft", "delete", "table", "inet", table], { timeoutMs: TIMEOUT_MS });
  } catch (error) {
    if (error instanceof CommandError && /No such file|does not exist/i.test(error.stderrTail)) {
      return;
    }
    throw error;
  }
}
