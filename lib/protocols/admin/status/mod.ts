/**
 * The admin listener's status page: one server-rendered page (`/status`) with every service's
 * state and each service's own section (from its `statusPage` hook), kept live over one
 * Server-Sent Events stream, plus the token, header and CSRF rules and the confirmed operator
 * actions. Plain template functions, no build step; the CSS and the one script are served from
 * here.
 *
 * @module
 */
export { mountStatusPage, type StatusPageOptions } from "./routes.ts";
export { isLoopbackHost, SECURITY_HEADERS, securityHeaders, TOKEN_COOKIE } from "./guard.ts";
export type { AgentView, StatusSources } from "./collect.ts";
