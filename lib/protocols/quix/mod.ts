/**
 * The `[quix]` service: the Quix WSI backend agent. polyagent dials the control server over a
 * WebSocket, authenticates (saved token, password fallback), and serves `execute`,
 * `view_running`, `proc_signal` and `telemetry`; it asks for `get_vpn_conf` and brings the
 * WireGuard tunnel up. `polyagent ctl quix status|vpn refresh` talk to it over a Unix socket.
 *
 * @module
 */

export { backoffDelay } from "./backoff.ts";
export { type QuixConfig, quixConfigSchema } from "./config.ts";
export { ctlCall, renderStatus } from "./ctl.ts";
export { Dispatcher, type Reply } from "./dispatcher.ts";
export { errorBody, QuixError, type QuixReason } from "./errors.ts";
export { buildHandlers, HandlerTable, type QuixBackends } from "./handlers.ts";
export { type LinkStatus, QuixLink, redactUrl, SUPERSEDED_CLOSE_CODE } from "./link.ts";
export * from "./schemas.ts";
export { QuixService } from "./service.ts";
export { quixDefinition } from "./definition.ts";
