/** The one place where failures become cryptoded replies. */
import { errorText, type Logger } from "../../core/mod.ts";
import { ImportError, SendSignalError } from "../../backends/openvpn/mod.ts";
import { DnsUtilError, NoDnsUtilError } from "../../backends/resolver/mod.ts";
import { Resp, RESP_TEXT, respName } from "./codes.ts";

/** A failure with a response code and a message for the `data` field. */
export class CryptodedError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = "CryptodedError";
    this.code = code;
    this.data = data ?? message;
  }
}

/** A reply before encoding. */
export interface Reply {
  code: number;
  /** The JSON `data` (omitted when undefined). */
  data?: unknown;
  /** Text-mode body for OK replies (defaults to "Success"). */
  text?: string;
}

/** Maps anything thrown by a handler to a reply (unexpected errors are logged). */
export function errorReply(error: unknown, log: Logger): Reply {
  if (error instanceof CryptodedError) return { code: error.code, data: error.data };
  if (error instanceof SendSignalError) return { code: Resp.SEND_SIG, data: error.message };
  if (error instanceof NoDnsUtilError) return { code: Resp.NO_EXIST_DNS_UTIL, data: error.message };
  if (error instanceof DnsUtilError) return { code: Resp.ERR_DNS_UTIL, data: error.message };
  if (error instanceof ImportError) {
    const code = error.kind === "size" ? Resp.IMPORT_TOO_LARGE : Resp.INVALID_PROFILE_TYPE;
    return { code, data: error.message };
  }
  log.error("request failed", { error });
  return { code: Resp.UNKNOWN_ERR, data: errorText(error) };
}

/** Encodes a reply as JSON (`{"code","data"}`) or as the real daemon's plain text. */
export function encodeReply(reply: Reply, json: boolean): string {
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
