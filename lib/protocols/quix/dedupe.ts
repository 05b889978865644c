/**
 * Resent requests: the reply of a state-changing request is kept for a while, and a resent copy
 * (same `req`, `rid` and body, for example after a reconnect) gets the first run's reply instead
 * of running again. An error reply is forgotten, so a retry runs.
 */
import type { Logger } from "../../core/mod.ts";
import { isErrorBody } from "./errors.ts";

/** Options for {@linkcode ResentRequests}. */
export interface ResentRequestsOptions {
  log: Logger;
  /** How long a reply is kept for resent copies. @default {300000} */
  windowMs?: number;
  /** Entries kept at most. @default {2000} */
  max?: number;
}

/** The replies of recent state-changing requests, by request key; shared by every session. */
export class ResentRequests {
  #o: ResentRequestsOptions;
  #recent = new Map<string, { at: number; reply: Promise<unknown> }>();

  constructor(options: ResentRequestsOptions) {
    this.#o = options;
  }

  /**
   * The reply to the request `key`: the first run's when it is still kept, else `run()`'s (which
   * must map its errors to a reply body). `fields` name the request in the log.
   */
  async answer(
    key: string,
    run: () => Promise<unknown>,
    fields: Record<string, unknown>,
  ): Promise<unknown> {
    this.#prune();
    const seen = this.#recent.get(key);
    if (seen) {
      this.#o.log.info("resent request answered without running it again", fields);
      return await seen.reply;
    }
    const reply = run();
    this.#recent.set(key, { at: Date.now(), reply });
    const msg = await reply;
    if (isErrorBody(msg)) this.#recent.delete(key);
    return msg;
  }

  #prune(): void {
    const window = this.#o.windowMs ?? 300_000;
    const max = this.#o.max ?? 2000;
    const oldest = Date.now() - window;
    for (const [key, value] of this.#recent) {
      if (value.at >= oldest && this.#recent.size <= max) break;
      this.#recent.delete(key);
    }
  }
}
