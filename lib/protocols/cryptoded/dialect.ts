/**
 * The two wire dialects, one per socket (each real client hard-codes its path): their command and
 * response numbers, whether a request without `json` is a JSON one, and how a reply is written.
 *
 * - document (rvd 8094ffc, `rvc`): the document's numbers; `json:true` → `{ "code", "data" }`,
 *   `json:false` → plain text (a status block, a path, or the error phrase), no trailing newline;
 * - v1 (cryptoded v1.0–v1.3.1, `cryptode`): RECONNECT and EDIT added, so STATUS is 3 …
 *   GET_CONFDIR 10; every reply is `{ "code", "data" }`, with the text in `data` for `json:false`.
 *
 * Both write JSON as json-c does (jsonc.ts), since the clients print it byte for byte.
 */
import { Resp, type RespName, V1Resp } from "./codes.ts";
import { type CryptodedFailure, failureData, failureText } from "./errors.ts";
import { jsoncText } from "./jsonc.ts";
import { Cmd, type CommandName, commandsByCode, V1Cmd } from "./schemas.ts";
import { documentStatus, documentStatusText } from "./status_doc.ts";
import { v1Status, v1StatusText } from "./status_v1.ts";
import type { ConnectionView } from "./tunnels/mod.ts";

/** A handler's answer, before a dialect writes it. */
export type CryptodedReply =
  | {
    kind: "status";
    list: ConnectionView[];
    single: boolean;
    profileDir: string;
    /** The request asked for polyagent's `last-error` (document dialect). */
    detail?: boolean;
  }
  | { kind: "value"; data?: unknown; text?: string }
  | { kind: "failure"; failure: CryptodedFailure };

/** One wire dialect. */
export interface CryptodedDialect {
  readonly name: "document" | "v1";
  /** Command code → command. */
  readonly commands: ReadonlyMap<number, CommandName>;
  /** Whether a request without `json` gets a JSON reply. */
  readonly jsonByDefault: boolean;
  /** The number of a response (UNKNOWN_ERR for one this dialect lacks). */
  code(resp: RespName): number;
  /** The reply's response. */
  resp(reply: CryptodedReply): RespName;
  /** The bytes of a reply (without a trailing newline). */
  encode(reply: CryptodedReply, json: boolean): string;
}

function respOf(reply: CryptodedReply): RespName {
  return reply.kind === "failure" ? reply.failure.resp : "OK";
}

/** The JSON `data` of a reply, status objects made by `object`. */
function jsonData(reply: CryptodedReply, object: (v: ConnectionView) => unknown): unknown {
  if (reply.kind === "failure") return failureData(reply.failure);
  if (reply.kind === "value") return reply.data ?? {};
  return reply.single ? object(reply.list[0]!) : reply.list.map(object);
}

/** The document dialect (`/var/run/rvd`). */
export const documentDialect: CryptodedDialect = {
  name: "document",
  commands: commandsByCode(Cmd),
  jsonByDefault: true,
  code: (resp) => (Resp as Record<string, number>)[resp] ?? Resp.UNKNOWN_ERR,
  resp: respOf,
  encode(reply, json) {
    if (json) {
      const detail = reply.kind === "status" && reply.detail === true;
      const data = jsonData(reply, (v) => documentStatus(v, detail));
      return jsoncText({ code: this.code(respOf(reply)), data });
    }
    if (reply.kind === "failure") return failureText(reply.failure);
    if (reply.kind === "value") return reply.text ?? "Success";
    return reply.list.length === 0 ? "Success" : reply.list.map(documentStatusText).join("");
  },
};

/** The cryptode v1.x dialect (`/var/run/cryptoded.sock`). */
export const v1Dialect: CryptodedDialect = {
  name: "v1",
  commands: commandsByCode(V1Cmd),
  jsonByDefault: false,
  code: (resp) => V1Resp[resp],
  resp: respOf,
  encode(reply, json) {
    const code = this.code(respOf(reply));
    if (json) return jsoncText({ code, data: jsonData(reply, v1Status) });
    let text: string;
    if (reply.kind === "failure") text = failureText(reply.failure);
    else if (reply.kind === "value") text = reply.text ?? "Success";
    else if (reply.list.length === 0) text = `no VPNs found in '${reply.profileDir}'`;
    else text = reply.list.map(v1StatusText).join("");
    return jsoncText({ code, data: text });
  },
};
