/** The saved token (0600 JSON document in the state directory). */

/** What is saved. */
export interface TokenState {
  token: string | null;
  /** Unix ms when the token stops being valid, or null when unknown. */
  expiresAt: number | null;
  obtainedAt: number | null;
}

/** A document with no token. */
export function emptyToken(): TokenState {
  return { token: null, expiresAt: null, obtainedAt: null };
}

/** Checks stored data. */
export function parseToken(data: unknown): TokenState {
  const d = data as Partial<TokenState> | null;
  if (typeof d !== "object" || d === null) throw new TypeError("not an object");
  return {
    token: typeof d.token === "string" && d.token ? d.token : null,
    expiresAt: typeof d.expiresAt === "number" ? d.expiresAt : null,
    obtainedAt: typeof d.obtainedAt === "number" ? d.obtainedAt : null,
  };
}
