/**
 * Authentication on a session: the saved token first (`auth: <token>`, empty `msg`), the password
 * once when the token is missing, expired or rejected; the token and its expiry are saved in the
 * token document. Also the heartbeat's probe: a token re-authentication on a live link. A token
 * that cannot be saved (state disk full or read-only) is used from memory: the link comes up, and
 * the next save that works puts it on disk.
 */
import type { JsonDocument, Logger } from "../../core/mod.ts";
import { authReplySchema } from "./schemas.ts";
import type { TokenState } from "./token_store.ts";

/** Sends one request of ours on the session and resolves with the reply's `msg`. */
export type QuixRequester = (req: string, msg: unknown, auth: string | null) => Promise<unknown>;

/** How an authentication went. */
export type QuixAuthResult =
  | { ok: true; via: "token" | "password" }
  | { ok: false; error: string; transient?: boolean };

/** Options for {@linkcode QuixAuthenticator}. */
export interface QuixAuthenticatorOptions {
  token: JsonDocument<TokenState>;
  username: string;
  password: string;
  log: Logger;
}

/** Authenticates sessions and keeps the saved token. */
export class QuixAuthenticator {
  #o: QuixAuthenticatorOptions;
  /** The token state in use when its last save failed. */
  #unsaved: TokenState | null = null;

  constructor(options: QuixAuthenticatorOptions) {
    this.#o = options;
  }

  /** The saved token, if any. */
  get token(): string | null {
    return this.#state().token;
  }

  /** The token state in use: the one that could not be saved, else the saved one. */
  #state(): TokenState {
    return this.#unsaved ?? this.#o.token.value;
  }

  /** Saves `state`; when that fails, keeps it in memory (logged) and the link goes on. */
  async #save(state: TokenState): Promise<void> {
    try {
      await this.#o.token.write(state);
      this.#unsaved = null;
    } catch (error) {
      this.#unsaved = state;
      this.#o.log.warn("token not saved; kept in memory", { error });
    }
  }

  /** Authenticates with the saved token when it is still valid, else with the password. */
  async authenticate(request: QuixRequester): Promise<QuixAuthResult> {
    const saved = this.#state();
    if (saved.token && (saved.expiresAt === null || saved.expiresAt > Date.now() + 1000)) {
      const parsed = authReplySchema.safeParse(await request("authenticate", {}, saved.token));
      if (parsed.success && parsed.data.success) {
        await this.#saveValidity(saved.token, parsed.data.validity);
        return { ok: true, via: "token" };
      }
      const reason = parsed.success ? parsed.data.reason ?? "rejected" : "malformed reply";
      this.#o.log.warn("saved token rejected; falling back to the password", { reason });
      await this.#forget();
    } else if (saved.token) {
      this.#o.log.info("saved token expired; authenticating with the password");
      await this.#forget();
    }
    return await this.#withPassword(request);
  }

  /**
   * Re-authenticates with the saved token: "rejected" when the server refused it (the token is
   * forgotten), else "ok" (accepted, or nothing to say: no token, malformed reply).
   */
  async probe(request: QuixRequester): Promise<"ok" | "rejected"> {
    const token = this.#state().token;
    if (!token) return "ok";
    const reply = authReplySchema.safeParse(await request("authenticate", {}, token));
    if (!reply.success) return "ok";
    if (reply.data.success) {
      await this.#saveValidity(token, reply.data.validity);
      return "ok";
    }
    this.#o.log.warn("token rejected on a live link; reconnecting", { reason: reply.data.reason });
    await this.#forget();
    return "rejected";
  }

  async #withPassword(request: QuixRequester): Promise<QuixAuthResult> {
    const { username, password } = this.#o;
    if (!username || !password) {
      return { ok: false, error: "no saved token and no username/password configured" };
    }
    const parsed = authReplySchema.safeParse(
      await request("authenticate", { username, password }, null),
    );
    if (!parsed.success) return { ok: false, error: "malformed authenticate reply" };
    if (!parsed.data.success || !parsed.data.token) {
      return { ok: false, error: parsed.data.reason ?? "rejected" };
    }
    const validity = parsed.data.validity ?? 86_400;
    await this.#save({
      token: parsed.data.token,
      expiresAt: Date.now() + validity * 1000,
      obtainedAt: Date.now(),
    });
    this.#o.log.info("authenticated with the password; token saved", { validitySec: validity });
    return { ok: true, via: "password" };
  }

  async #saveValidity(token: string, validity: number | undefined): Promise<void> {
    const prev = this.#state();
    await this.#save({
      token,
      expiresAt: validity === undefined ? prev.expiresAt : Date.now() + validity * 1000,
      obtainedAt: prev.obtainedAt ?? Date.now(),
    });
  }

  #forget(): Promise<void> {
    return this.#save({ token: null, expiresAt: null, obtainedAt: null });
  }
}
