/**
 * The agent's table as one object: it remembers what it last applied (so an unchanged state
 * costs nothing) and sends set element changes through a long-lived `nft -i` session.
 */
import type { CommandRunner } from "../../core/mod.ts";
import { type AppliedTable, applyRuleset, deleteTable } from "./nft.ts";
import type { NetfilterState } from "./ruleset.ts";
import { NftSession, type NftTransactions } from "./session.ts";

/** One agent-owned `inet` table, applied through `runner` and an `nft -i` session. */
export class AgentNftTable {
  readonly #runner: CommandRunner;
  readonly #table: string;
  readonly #session = new NftSession();
  /** The session as the ruleset code uses it: each transaction within `timeoutMs`. */
  readonly #transactions: NftTransactions;
  #known: AppliedTable | null = null;

  /** `timeoutMs` caps each `nft -i` transaction (the runner caps the other nft calls). */
  constructor(runner: CommandRunner, table: string, timeoutMs = Infinity) {
    this.#runner = runner;
    this.#table = table;
    const session = this.#session;
    this.#transactions = {
      apply: (commands, limit) => session.apply(commands, Math.min(limit, timeoutMs)),
      close: () => session.close(),
    };
  }

  /**
   * Makes the table hold exactly `state` (whose `table` is this one); returns whether the live
   * table changed. `compareLive` reads the live table instead of trusting what was last applied.
   */
  async apply(state: NetfilterState, compareLive = false): Promise<boolean> {
    const known = compareLive ? null : this.#known;
    const result = await applyRuleset(this.#runner, state, known, this.#transactions);
    this.#known = result.applied;
    return result.change !== "none";
  }

  /** Deletes the table (a missing one is fine) and forgets what was applied. */
  async delete(): Promise<void> {
    await deleteTable(this.#runner, this.#table);
    this.#known = null;
  }

  /** Starts the `nft -i` session now so the first change does not pay for it. */
  warm(): void {
    this.#session.warm();
  }

  /** Stops the `nft -i` session. */
  close(): Promise<void> {
    return this.#session.close();
  }
}
