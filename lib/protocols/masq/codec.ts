/**
 * The MASQNode-UIv2 codec (the envelope, exactly as `UiTrafficConverter` marshals it; the payloads
 * are checked by `schemas.ts`): conversational messages carry `contextId`, one-way messages have no `contextId` key at all, and an error replaces
 * `payload` with `error: {code, message}`. Codes and context ids are u64: they are kept as
 * `bigint` and their digits written into the JSON text by hand.
 */

/** A well-formed inbound or outbound message. */
export interface UiMessage {
  opcode: string;
  /** The conversation, or null for a one-way message. */
  contextId: bigint | null;
  body: { payload: Record<string, unknown> } | { error: WireError };
}

/** The `error` part of an envelope. */
export interface WireError {
  code: bigint;
  message: string;
}

/** What decoding a text frame produced. */
export type Decoded =
  | { kind: "ok"; message: UiMessage }
  /** Not even an envelope (bad JSON, not an object, bad opcode or contextId). */
  | { kind: "critical"; message: string }
  /** A readable envelope with a bad payload or error part. */
  | { kind: "noncritical"; opcode: string; contextId: bigint | null; message: string };

const U64_MAX = (1n << 64n) - 1n;

function reviveExact(_key: string, value: unknown, context?: { source?: string }): unknown {
  if (
    typeof value === "number" && !Number.isSafeInteger(value) && context?.source !== undefined &&
    /^-?\d+$/.test(context.source)
  ) {
    return BigInt(context.source);
  }
  return value;
}

/** `JSON.parse` that keeps integers beyond 2^53 exact, as `bigint`. */
export function parseExactJson(text: string): unknown {
  // Only text with a 16+ digit run can hold an integer beyond 2^53: skip the slower reviver
  // otherwise. Its third argument (source text access) is supported by V8 in Deno 2.9.
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  return JSON.parse(text, reviveExact as (key: string, value: unknown) => unknown);
}

function describe(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "string") return value;
  try {
    // exact: a bad field may hold integers beyond 2^53 (bigint), which JSON.stringify refuses
    return stringifyExact(value) ?? String(value);
  } catch {
    return Array.isArray(value) ? "[…]" : "{…}"; // nested too deep to write back
  }
}

function typeError(field: string, type: string, value: unknown): string {
  return `Field ${field} should have been of type ${type}, but was '${describe(value)}' instead`;
}

function asU64(value: unknown): bigint | null {
  if (typeof value === "bigint") return value >= 0n && value <= U64_MAX ? value : null;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

type Envelope = { opcode: string; contextId: bigint | null; root: Record<string, unknown> };

/** The envelope's opcode and contextId, or the critical failure (not even an envelope). */
function decodeEnvelope(text: string): Envelope | Decoded {
  let root: unknown;
  try {
    root = parseExactJson(text);
  } catch (error) {
    return {
      kind: "critical",
      message: `Couldn't parse text as JSON: ${(error as Error).message}`,
    };
  }
  if (!isObject(root)) return { kind: "critical", message: `Root was not a JSON object: ${text}` };
  if (!("opcode" in root)) {
    return { kind: "critical", message: "Required field was missing: opcode" };
  }
  const opcode = root.opcode;
  if (typeof opcode !== "string") {
    return { kind: "critical", message: typeError("opcode", "string", opcode) };
  }
  let contextId: bigint | null = null;
  if ("contextId" in root) {
    contextId = asU64(root.contextId);
    if (contextId === null) {
      return { kind: "critical", message: typeError("contextId", "u64", root.contextId) };
    }
  }
  return { opcode, contextId, root };
}

/** The `error` part of an envelope, or what is wrong with it. */
function decodeError(error: unknown): WireError | string {
  if (!isObject(error)) return typeError("error", "object", error);
  const code = asU64(error.code);
  if (code === null) return typeError("code", "u64", error.code);
  if (typeof error.message !== "string") return typeError("message", "string", error.message);
  return { code, message: error.message };
}

/** The payload or error body of an envelope, or what is wrong with it. */
function decodeBody(root: Record<string, unknown>): UiMessage["body"] | string {
  if ("payload" in root) {
    return isObject(root.payload)
      ? { payload: root.payload }
      : typeError("payload", "object", root.payload);
  }
  if ("error" in root) {
    const error = decodeError(root.error);
    return typeof error === "string" ? error : { error };
  }
  return "Required field was missing: payload, error";
}

/** Decodes one text frame with the real converter's rules and messages. */
export function decodeMessage(text: string): Decoded {
  const envelope = decodeEnvelope(text);
  if ("kind" in envelope) return envelope;
  const { opcode, contextId } = envelope;
  const body = decodeBody(envelope.root);
  if (typeof body === "string") return { kind: "noncritical", opcode, contextId, message: body };
  return { kind: "ok", message: { opcode, contextId, body } };
}

const rawJson = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;

function exactReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? rawJson(value.toString()) : value;
}

/** `JSON.stringify` that writes `bigint` values as their exact digits. */
export function stringifyExact(value: unknown): string {
  return JSON.stringify(value, exactReplacer);
}

/** Writes a message as JSON text; one-way messages get no `contextId` key. */
export function encodeMessage(message: UiMessage): string {
  let out = `{"opcode":${JSON.stringify(message.opcode)}`;
  if (message.contextId !== null) out += `,"contextId":${message.contextId.toString()}`;
  if ("payload" in message.body) {
    out += `,"payload":${stringifyExact(message.body.payload)}`;
  } else {
    const { code, message: text } = message.body.error;
    out += `,"error":{"code":${code.toString()},"message":${JSON.stringify(text)}}`;
  }
  return out + "}";
}

/** A conversational (or, with `contextId` null, one-way) message with a payload. */
export function payloadMessage(
  opcode: string,
  contextId: bigint | null,
  payload: Record<string, unknown>,
): string {
  return encodeMessage({ opcode, contextId, body: { payload } });
}

/** A one-way message (no `contextId` key). */
export function oneWay(opcode: string, payload: Record<string, unknown>): string {
  return payloadMessage(opcode, null, payload);
}

/** An error reply on the request's opcode and context. */
export function errorMessage(
  opcode: string,
  contextId: bigint | null,
  code: bigint,
  message: string,
): string {
  return encodeMessage({ opcode, contextId, body: { error: { code, message } } });
}
