/**
 * The status page's rules: security headers on every admin response, the token (a bearer header,
 * or a cookie set once from `?token=`) that the page needs when one is configured or the listener
 * is not on loopback, and the CSRF check of the action form (same origin, the page's token).
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { messagePage } from "./render_page.ts";

/** The cookie that carries the token after `?token=`. */
export const TOKEN_COOKIE = "polyagent_admin";

/** Headers every admin response carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; " +
    "form-action 'self'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
};

/** Whether a listen host is a loopback address. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h) ||
    h === "::ffff:127.0.0.1";
}

/** Compares two secrets without an early exit on the first differing character. */
export function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Adds {@linkcode SECURITY_HEADERS} to every response. */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
  };
}

/** Options of {@linkcode pageAccess}. */
export interface PageAccessOptions {
  /** `admin.token` ("" = none). */
  token: string;
  /** Whether `admin.listen` is a loopback address. */
  loopback: boolean;
}

function bearer(header: string | undefined): string | null {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return m ? m[1]! : null;
}

/** The request URL without its `token` parameter, as a path + query to redirect to. */
function withoutToken(c: Context): string {
  const url = new URL(c.req.url);
  url.searchParams.delete("token");
  return url.pathname + url.search;
}

/**
 * Lets a request to the page through when it may see it: without a token only on a loopback
 * listener; with one, when it comes as a bearer header or the cookie. A GET with the right
 * `?token=` sets the cookie and redirects to the same URL without it.
 */
export function pageAccess(options: PageAccessOptions): MiddlewareHandler {
  return async (c, next) => {
    const token = options.token;
    if (token === "") {
      if (options.loopback) return await next();
      return c.html(
        messagePage(
          "Token required",
          "The admin listener is not on a loopback address: set admin.token to use the status page.",
        ),
        403,
      );
    }
    const presented = bearer(c.req.header("authorization")) ?? getCookie(c, TOKEN_COOKIE);
    if (presented !== undefined && presented !== null && sameSecret(presented, token)) {
      return await next();
    }
    const query = c.req.query("token");
    if (c.req.method === "GET" && query !== undefined && sameSecret(query, token)) {
      setCookie(c, TOKEN_COOKIE, token, { httpOnly: true, sameSite: "Strict", path: "/status" });
      return c.redirect(withoutToken(c), 303);
    }
    c.header("www-authenticate", 'Bearer realm="polyagent admin"');
    return c.html(
      messagePage("Token required", "Open the page once with ?token=… or send a bearer token."),
      401,
    );
  };
}

/**
 * Whether a form POST is same-origin and carries the page's CSRF token: `Origin` (when sent)
 * must be this host, `Sec-Fetch-Site` (when sent) `same-origin`, and `csrf` must match.
 */
export function sameOriginPost(c: Context, form: { csrf?: unknown }, csrf: string): boolean {
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin) return false;
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin") return false;
  return typeof form.csrf === "string" && sameSecret(form.csrf, csrf);
}
