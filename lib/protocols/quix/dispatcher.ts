/**
 * Turns one server request into one reply: looks the request up in the handler table, runs it,
 * maps failures to the error form, and answers a resent copy of a state-changing request (same
 * `req`, `rid` and body within the window) with the first run's reply instead of running it again.
 */
import type { Logger } from "../../core/mod.ts";
import { errorBody, QuixError } from "./errors.ts";
import type { HandlerTable } from "./handlers.ts";
import type { Frame, Rid } from "./schemas.ts";

/** A reply frame. */
export interface Reply {
  rid: Rid | null;
  msg: unknown;
}

/** Options for {@linkcode Dispatcher}. */
export interface DispatcherOptions {
  table: HandlerTable;
  log: Logger;
  /** How long a state-changing request's reply is kept for resent copies. @default {300000} */
  dedupeWindowMs?: number;
  /** Entries kept at most. @default {2000} */
  dedupeMax?: number;
}

/** Dispatches requests to the handler table. */
export class Dispatcher {
  #o: DispatcherOptions;
  #recent = new Map<string, { at: number; reply: Promise<unknown> }>();
  /** Requests served, by outcome. */
  readonly counts = { ok: 0, error: 0, duplicate: 0 };

  constructor(options: DispatcherOptions) {
    this.#o = options;
  }

  /** The reply to a request frame (one with `req`). */
  async handle(frame: Frame): Promise<Reply> {
    const rid = frame.rid ?? null;
    const req = frame.req ?? "";
    const entry = this.#o.table.get(req);
    try {
      if (!entry) {
        throw new QuixError("unknown_request", `Unknown request "${req.slice(0, 64)}"`);
      }
      if (rid === null) throw new QuixError("bad_request", "rid: required");
      const requestKey = JSON.stringify([req, rid, frame.msg ?? null]);
      if (!entry.mutating) {
        const msg = await entry.handler({ msg: frame.msg, requestKey });
        this.counts.ok++;
        return { rid, msg };
      }
      this.#prune();
      const seen = this.#recent.get(requestKey);
      if (seen) {
        this.counts.duplicate++;
        this.#o.log.info("resent request answered without running it again", { req, rid });
        return { rid, msg: await seen.reply };
      }
      const reply = entry.handler({ msg: frame.msg, requestKey }).catch((error) =>
        errorBody(error, this.#o.log)
      );
      this.#recent.set(requestKey, { at: Date.now(), reply });
      const msg = await reply;
      if ((msg as { result?: string }).result === "error") {
        this.#recent.delete(requestKey);
        this.counts.error++;
      } else this.counts.ok++;
      return { rid, msg };
    } catch (error) {
      this.counts.error++;
      return { rid, msg: errorBody(error, this.#o.log) };
    }
  }

  #prune(): void {
    const window = this.#o.dedupeWindowMs ?? 300_000;
    const max = this.#o.dedupeMax ?? 2000;
    const oldest = Date.now() - window;
    for (const [key, value] of this.#recent) {
      if (value.at >= oldest && this.#recent.size <= max) break;
      this.#recent.delete(key);
    }
  }
}
