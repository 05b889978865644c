/**
 * The one place where failures become cryptoded replies. Domain code, the parameter parsers and
 * the backends throw neutral {@linkcode DomainError}s; their kind and `reason` pick the response
 * code (table below) and the message becomes `data`. Anything else is UNKNOWN_ERR and is logged.
 */
import { DomainError, type DomainErrorKind, errorText, type Logger } from "../../core/mod.ts";
import { Resp, RESP_TEXT, respName } from "./codes.ts";

/** A reply before encoding. */
export interface CryptodedReply {
  code: number;
  /** The JSON `data` (omitted when undefined). */
  data?: unknown;
  /** Text-mode body for OK replies (defaults to "Success"). */
  text?: string;
}

/** `reason` → response code, for the reasons the document distinguishes. */
const BY_REASON: Readonly<Record<string, number>> = {
  "param": Resp.INVALID_CMD,
  "json": Resp.JSON_INVALID,
  "profile-type": Resp.INVALID_PROFILE_TYPE,
  "import-too-large": Resp.IMPORT_TOO_LARGE,
  "conf-dir": Resp.INVALID_CONF_DIR,
  "profile-exists": Resp.IMPORT_EXIST_PROFILE,
  "empty-list": Resp.EMPTY_LIST,
  "wrong-permission": Resp.WRONG_PERMISSION,
  "already-connected": Resp.CONN_ALREADY_CONNECTED,
  "already-disconnected": Resp.CONN_ALREADY_DISCONNECTED,
  "sudo": Resp.SUDO_REQUIRED,
  "send-signal": Resp.SEND_SIG,
  "dns-util-missing": Resp.NO_EXIST_DNS_UTIL,
  "dns-util-failed": Resp.ERR_DNS_UTIL,
};

/** Kind → response code, when the reason names none. */
const BY_KIND: Readonly<Record<DomainErrorKind, number>> = {
  invalid: Resp.INVALID_CMD,
  not_found: Resp.CONN_NOT_FOUND,
  conflict: Resp.CONN_IN_PROGRESS,
  busy: Resp.CONN_IN_PROGRESS,
  unavailable: Resp.UNKNOWN_ERR,
  forbidden: Resp.WRONG_PERMISSION,
  failed: Resp.UNKNOWN_ERR,
};

/** The response code of a neutral error. */
export function cryptodedCode(error: DomainError): number {
  return (error.reason !== undefined ? BY_REASON[error.reason] : undefined) ?? BY_KIND[error.kind];
}

/** Maps anything thrown by a handler to a reply (unexpected errors are logged). */
export function cryptodedErrorReply(error: unknown, log: Logger): CryptodedReply {
  if (error instanceof DomainError) return { code: cryptodedCode(error), data: error.message };
  log.error("request failed", { error });
  return { code: Resp.UNKNOWN_ERR, data: errorText(error) };
}

/** Encodes a reply as JSON (`{"code","data"}`) or as the real daemon's plain text. */
export function encodeCryptodedReply(reply: CryptodedReply, json: boolean): string {
  if (json) {
    const body: Record<string, unknown> = { code: reply.code };
    if (reply.data !== undefined) body.data = reply.data;
    return JSON.stringify(body) + "\n";
  }
  const text = reply.code === Resp.OK
    ? reply.text ?? RESP_TEXT[Resp.OK]!
    : `${RESP_TEXT[reply.code] ?? respName(reply.code)}${
      typeof reply.data === "string" && reply.data ? `: ${reply.data}` : ""
    }`;
  return text.endsWith("\n") ? text : text + "\n";
}
