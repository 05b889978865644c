/**
 * The one place where failures become MASQNode-UIv2 wire errors. Domain code (the Daemon, the
 * built-in Node, the payload checks) throws core's neutral errors; their kind and `reason` pick
 * the code here. Anything else is a bug: logged and answered as UNKNOWN_ERROR. Frames that do
 * not decode get the real converter's answers (`unmarshalError`, UNMARSHAL_ERROR).
 *
 * | thrown | wire code |
 * | --- | --- |
 * | any, reason `unmarshal` (a payload that fails its schema, an error in place of a payload) | UNMARSHAL_ERROR |
 * | ConflictError, reason `node-running` | NODE_ALREADY_RUNNING_ERROR |
 * | FailedError, reason `node-launch` | NODE_LAUNCH_ERROR |
 * | UnavailableError, reason `node-not-running` | NODE_NOT_RUNNING_ERROR |
 * | NotFoundError, reason `unrecognized-parameter` | UNRECOGNIZED_PARAMETER |
 * | InvalidError, reason `non-parsable` | NON_PARSABLE_VALUE |
 * | any, reason `password` (database password rules) | CONFIGURATOR_READ_ERROR on `configuration`, else CONFIGURATOR_WRITE_ERROR |
 * | any other DomainError (e.g. UnavailableError `not-provided`) | UNKNOWN_ERROR, its message |
 * | anything else | UNKNOWN_ERROR, `Internal error handling <opcode>: …` (logged) |
 */
import { DomainError, errorText, type Logger } from "../../core/mod.ts";
import { MasqErrorCode } from "./codes.ts";
import { type Decoded, errorMessage, oneWay } from "./codec.ts";

const BY_REASON: Readonly<Record<string, bigint>> = {
  "unmarshal": MasqErrorCode.UNMARSHAL_ERROR,
  "node-running": MasqErrorCode.NODE_ALREADY_RUNNING_ERROR,
  "node-launch": MasqErrorCode.NODE_LAUNCH_ERROR,
  "node-not-running": MasqErrorCode.NODE_NOT_RUNNING_ERROR,
  "unrecognized-parameter": MasqErrorCode.UNRECOGNIZED_PARAMETER,
  "non-parsable": MasqErrorCode.NON_PARSABLE_VALUE,
};

/** The wire code of a neutral domain error on `opcode`. */
function codeOf(error: DomainError, opcode: string): bigint {
  if (error.reason === "password") {
    return opcode === "configuration"
      ? MasqErrorCode.CONFIGURATOR_READ_ERROR
      : MasqErrorCode.CONFIGURATOR_WRITE_ERROR;
  }
  return BY_REASON[error.reason ?? ""] ?? MasqErrorCode.UNKNOWN_ERROR;
}

/** The error reply for a failed conversation (logs anything that is not a domain error). */
export function masqErrorReply(
  error: unknown,
  opcode: string,
  contextId: bigint | null,
  log: Logger,
): string {
  if (error instanceof DomainError) {
    return errorMessage(opcode, contextId, codeOf(error, opcode), error.message);
  }
  log.error("handler failed", { opcode, error: errorText(error) });
  return errorMessage(
    opcode,
    contextId,
    MasqErrorCode.UNKNOWN_ERROR,
    `Internal error handling ${opcode}: ${errorText(error)}`,
  );
}

/**
 * A message that could not be used as it is: UNMARSHAL_ERROR on its conversation, or for a
 * one-way message the one-way `unmarshalError` carrying the offending text.
 */
export function unmarshalReply(
  opcode: string,
  contextId: bigint | null,
  message: string,
  badData: string,
): string {
  return contextId === null
    ? oneWay("unmarshalError", { message, badData })
    : errorMessage(opcode, contextId, MasqErrorCode.UNMARSHAL_ERROR, message);
}

/** The answer to a frame that did not decode (`text` is the frame). */
export function undecodableReply(decoded: Exclude<Decoded, { kind: "ok" }>, text: string): string {
  if (decoded.kind === "critical") {
    return oneWay("unmarshalError", { message: decoded.message, badData: text });
  }
  return unmarshalReply(decoded.opcode, decoded.contextId, decoded.message, text);
}
