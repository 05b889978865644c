/**
 * The `[quix]` service: the Quix WSI backend agent. polyagent dials the control server over a
 * WebSocket, authenticates (saved token, password fallback), and serves `execute`,
 * `view_running`, `proc_signal` and `telemetry`; it asks for `get_vpn_conf` and brings the
 * WireGuard tunnel up. `polyagent ctl quix status|vpn refresh` talk to it over a Unix socket.
 *
 * The skeleton: `config.ts` (the section), `schemas.ts` (every message, the request names),
 * `handlers.ts` (request → handler on core's HandlerTable), `errors.ts` (the one mapper to
 * `{"result":"error","reason","detail"}`), `server.ts` (the dialer: reconnect with backoff,
 * heartbeat, idle redial), `connection.ts` (one session: authenticate, frames, dispatch, reply),
 * `service.ts` (lifecycle), `definition.ts` (the section, {@linkcode QuixBackends} and the
 * factory), `ctl.ts` (the command-line client). Beside them: `operations.ts` (what the handlers
 * ask, over the backends), `auth.ts` (token and password authentication, the heartbeat probe),
 * `dedupe.ts` (resent requests), `status_socket.ts` (the local socket `ctl quix` talks to),
 * `backoff.ts` and `token_store.ts`.
 *
 * Life of a server request: `connection.ts` receives a text frame, checks its size, parses it with
 * `schemas.ts`, looks `req` up in the table of `handlers.ts` (a resent state-changing copy is
 * answered by `dedupe.ts`), the handler parses `msg` and calls `operations.ts`, which calls the
 * backends; a failure becomes an error body in `errors.ts`; the reply echoes `rid`.
 *
 * @module
 */

export { QuixAuthenticator, type QuixAuthResult } from "./auth.ts";
export { backoffDelay } from "./backoff.ts";
export { type QuixConfig, quixConfigSchema } from "./config.ts";
export {
  answerQuixRequest,
  QuixConnection,
  type QuixLinkSettings,
  type QuixOutcome,
  SUPERSEDED_CLOSE_CODE,
} from "./connection.ts";
export { ctlCall, renderStatus } from "./ctl.ts";
export { ResentRequests } from "./dedupe.ts";
export { type QuixBackends, quixDefinition } from "./definition.ts";
export { errorBody, QuixError, type QuixErrorBody, type QuixReason } from "./errors.ts";
export {
  buildQuixHandlers,
  type QuixHandler,
  type QuixHandlerEntry,
  type QuixHandlerTable,
  type QuixOperations,
} from "./handlers.ts";
export { createQuixOperations } from "./operations.ts";
export * from "./schemas.ts";
export { QuixDialer, type QuixLinkStatus, redactUrl } from "./server.ts";
export { QuixService } from "./service.ts";
export { QuixStatusSocket } from "./status_socket.ts";
