/**
 * Applies and removes the agent's nftables table with `nft` (argv only, with timeouts). An
 * unchanged state costs nothing; a change of set elements only (Connect, Disconnect, internet)
 * is one small `add/delete element` transaction; anything else replaces the table atomically.
 */
import { CommandError, type CommandRunner } from "../../core/mod.ts";
import type { NftTransactions } from "./session.ts";
import {
  elementDiff,
  type ElementSets,
  type NetfilterState,
  parseLiveTable,
  renderRuleset,
  sameElements,
} from "./ruleset.ts";

const TIMEOUT_MS = 10_000;

/** What is known to be in the live table. */
export interface AppliedTable {
  fingerprint: string;
  elements: ElementSets;
}

/** What {@linkcode applyRuleset} did. */
export interface NftApplyResult {
  /** "none" when the table already held the state. */
  change: "none" | "elements" | "table";
  applied: AppliedTable;
}

/** Reads the live table, or null when it is missing. */
export async function readLiveTable(
  runner: CommandRunner,
  table: string,
): Promise<AppliedTable | null> {
  const result = await runner(["nft", "list", "table", "inet", table], {
    timeoutMs: TIMEOUT_MS,
    check: false,
  });
  if (result.code !== 0) return null;
  const live = parseLiveTable(result.stdout);
  return { fingerprint: live.fingerprint ?? "", elements: live.elements };
}

/**
 * Makes the table hold exactly `state`. `known` is what this process last applied; pass null to
 * read the live table instead (after a restart, or to detect drift). With a `session`, element
 * changes go through it instead of a new `nft` process.
 */
export async function applyRuleset(
  runner: CommandRunner,
  state: NetfilterState,
  known: AppliedTable | null,
  session?: NftTransactions,
): Promise<NftApplyResult> {
  const rendered = renderRuleset(state);
  const applied = { fingerprint: rendered.fingerprint, elements: rendered.elements };
  const current = known ?? await readLiveTable(runner, state.table);
  if (current && current.fingerprint === rendered.fingerprint) {
    if (sameElements(current.elements, rendered.elements)) return { change: "none", applied };
    const diff = elementDiff(state.table, current.elements, rendered.elements);
    try {
      if (session) await session.apply(diff.trimEnd().replaceAll("\n", "; "), TIMEOUT_MS);
      else await runner(["nft", "-f", "-"], { stdin: diff, timeoutMs: TIMEOUT_MS });
      return { change: "elements", applied };
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      // The live table drifted from what we knew: fall back to replacing it whole.
    }
  }
  await runner(["nft", "-f", "-"], { stdin: rendered.script, timeoutMs: TIMEOUT_MS });
  return { change: "table", applied };
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
