/**
 * The one place where failures become cryptoded replies. Domain code, the parameter parsers and
 * the backends throw neutral {@linkcode DomainError}s; their kind and `reason` pick the response
 * (table below) and the message is kept for the log and the JSON `data`. Anything else is
 * UNKNOWN_ERR and is logged. Each dialect turns the response into its own number (codes.ts) and
 * wire form ({@linkcode failureData}, {@linkcode failureText}).
 */
import { DomainError, type DomainErrorKind, errorText, type Logger } from "../../core/mod.ts";
import { RESP_TEXT, type RespName } from "./codes.ts";

/** A failed request: the response and why. */
export interface CryptodedFailure {
  resp: Exclude<RespName, "OK">;
  message: string;
}

/** `reason` → response, for the reasons the protocol distinguishes. */
const BY_REASON: Readonly<Record<string, CryptodedFailure["resp"]>> = {
  "param": "INVALID_CMD",
  "json": "JSON_INVALID",
  "profile-type": "INVALID_PROFILE_TYPE",
  "import-too-large": "IMPORT_TOO_LARGE",
  "conf-dir": "INVALID_CONF_DIR",
  "profile-exists": "IMPORT_EXIST_PROFILE",
  "empty-list": "EMPTY_LIST",
  "wrong-permission": "WRONG_PERMISSION",
  "already-connected": "CONN_ALREADY_CONNECTED",
  "already-disconnected": "CONN_ALREADY_DISCONNECTED",
  "sudo": "SUDO_REQUIRED",
  "send-signal": "SEND_SIG",
  "dns-util-missing": "NO_EXIST_DNS_UTIL",
  "dns-util-failed": "ERR_DNS_UTIL",
  "openvpn": "ERR_INVALID_OVPN_BIN",
  "edit-option": "ERR_VPNCONF_OPT_TYPE",
  "edit-value": "ERR_VPNCONF_OPT_VAL",
};

/** Kind → response, when the reason names none. */
const BY_KIND: Readonly<Record<DomainErrorKind, CryptodedFailure["resp"]>> = {
  invalid: "INVALID_CMD",
  not_found: "CONN_NOT_FOUND",
  conflict: "CONN_IN_PROGRESS",
  busy: "CONN_IN_PROGRESS",
  unavailable: "UNKNOWN_ERR",
  forbidden: "WRONG_PERMISSION",
  failed: "UNKNOWN_ERR",
};

/** The response of a neutral error. */
export function cryptodedResp(error: DomainError): CryptodedFailure["resp"] {
  return (error.reason !== undefined ? BY_REASON[error.reason] : undefined) ?? BY_KIND[error.kind];
}

/** Maps anything thrown by a handler to a failure (unexpected errors are logged). */
export function cryptodedFailure(error: unknown, log: Logger): CryptodedFailure {
  if (error instanceof DomainError) return { resp: cryptodedResp(error), message: error.message };
  log.error("request failed", { error });
  return { resp: "UNKNOWN_ERR", message: errorText(error) };
}

/** The failures the original daemons answered themselves, with an empty `data` object. */
const ORIGINAL_STATE_ERRORS: ReadonlySet<RespName> = new Set([
  "CONN_NOT_FOUND",
  "CONN_ALREADY_CONNECTED",
  "CONN_ALREADY_DISCONNECTED",
  "CONN_IN_PROGRESS",
]);

/**
 * The JSON `data` of a failure: `{ }` for the connection-state errors, as the originals; the
 * message (naming the field or the cause) for everything else.
 */
export function failureData(failure: CryptodedFailure): unknown {
  return ORIGINAL_STATE_ERRORS.has(failure.resp) ? {} : failure.message;
}

/** The text-mode phrase of a failure (the detail goes to the log). */
export function failureText(failure: CryptodedFailure): string {
  return RESP_TEXT[failure.resp];
}
