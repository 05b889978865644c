/**
 * MASQNode-UIv2 frames for the Daemon and Node targets: envelopes (`opcode`, `contextId` or none,
 * `payload` or `error`) around payloads built from `schemas.ts` with example setup names and
 * values; what reply each frame owes, decided by the protocol's own envelope decoder
 * (`decodeMessage`): a conversation is answered on its opcode and contextId, everything else with
 * a one-way message (`unmarshalError`, `undelivered`, `logBroadcast`, a one-way answer), except
 * what is silent by design (binary frames; a well-formed `crash`). Also the reply form check.
 *
 * @module
 */
import {
  decodeMessage,
  KNOWN_OPCODES,
  MasqErrorCode,
  parseExactJson,
  SETUP_PARAMS,
} from "../../../lib/protocols/masq/mod.ts";
import {
  changePasswordRequest,
  crashRequest,
  emptyRequest,
  passwordOptRequest,
  setConfigurationRequest,
  setupRequest,
} from "../../../lib/protocols/masq/schemas.ts";
import type { WsMessage } from "../raw_ws.ts";
import type { Rng } from "../rng.ts";
import { generateValue, type JsonSchema, jsonSchemaOf, type ValuePools } from "../schema_values.ts";
import { type FuzzFrame, jsonFrame, objectSchema } from "../target.ts";
import { isValidUtf8, wsText } from "../ws_target.ts";

/** Largest text message before the connection is dropped (1009), in UTF-16 units. */
export const MAX_MESSAGE = 1 << 20;

const PAYLOADS: Record<string, JsonSchema> = {
  setup: jsonSchemaOf(setupRequest),
  start: jsonSchemaOf(emptyRequest),
  shutdown: jsonSchemaOf(emptyRequest),
  descriptor: jsonSchemaOf(emptyRequest),
  connectionStatus: jsonSchemaOf(emptyRequest),
  checkPassword: jsonSchemaOf(passwordOptRequest),
  configuration: jsonSchemaOf(passwordOptRequest),
  changePassword: jsonSchemaOf(changePasswordRequest),
  setConfiguration: jsonSchemaOf(setConfigurationRequest),
  crash: jsonSchemaOf(crashRequest),
};

const POOLS: ValuePools = {
  name: [...SETUP_PARAMS.map((p) => p.name), "gas-price", "start-block", "min-hops", "nope"],
  value: ["zero-hop", "standard", "1", "3", "6000", "base-mainnet", "info", "/tmp/x", "", null],
  dbPasswordOpt: ["secret", null],
  oldPasswordOpt: ["secret", null],
  newPassword: ["secret", "other"],
  actor: ["Dispatcher", "UiGateway"],
  panicMessage: ["boom"],
};

const U64: JsonSchema = { type: "integer", minimum: 0, maximum: 18446744073709551615 };

/** A MASQ frame: mostly conversations, some one-way, a few with an error body or binary. */
export function masqFrame(rng: Rng, index: number, opcodes: readonly string[]): FuzzFrame {
  const opcode = rng.chance(0.95) ? rng.pick(opcodes) : rng.pick(["", "nope", "SETUP"]);
  const payloadSchema = PAYLOADS[opcode] ?? { type: "object" };
  const value: Record<string, unknown> = { opcode };
  if (rng.chance(0.75)) value.contextId = index;
  const errorBody = rng.chance(0.05);
  if (errorBody) {
    value.error = { code: Number(MasqErrorCode.UNKNOWN_ERROR & 0xffffn), message: "x" };
  } else value.payload = generateValue(payloadSchema, rng, POOLS);
  const schema = objectSchema(
    {
      opcode: { type: "string" },
      contextId: U64,
      ...(errorBody
        ? { error: objectSchema({ code: U64, message: { type: "string" } }) }
        : { payload: payloadSchema }),
    },
    ["contextId"],
  );
  const frame = jsonFrame(rng, index, { value, schema });
  if (rng.chance(0.02)) return { ...frame, binary: true, label: `binary ${frame.label}` };
  const text = wsText(frame.bytes);
  if (!isValidUtf8(frame.bytes) || text.length > MAX_MESSAGE) {
    return { ...frame, endsConnection: true };
  }
  return frame;
}

/** The decoded envelope of a frame (the listener's own decoder), or null for a binary frame. */
export function decodeFrame(frame: FuzzFrame): ReturnType<typeof decodeMessage> | null {
  if (frame.binary) return null;
  return decodeMessage(wsText(frame.bytes));
}

/** The key of a conversation's reply. */
export function conversationKey(opcode: string, contextId: bigint): string {
  return `c:${opcode}:${contextId}`;
}

/** What a frame owes when its envelope decodes as a whole (`ok`) is left to the caller. */
export function envelopeKey(decoded: ReturnType<typeof decodeMessage>): string | null {
  if (decoded.kind === "critical") return "oneway";
  if (decoded.kind === "noncritical") {
    return decoded.contextId !== null
      ? conversationKey(decoded.opcode, decoded.contextId)
      : "oneway";
  }
  return null;
}

/** The key of a received message; null for the broadcasts in `ignore`. */
export function masqReplyKey(m: WsMessage, ignore: ReadonlySet<string>): string | null {
  try {
    const v = parseExactJson(m.text) as { opcode?: string; contextId?: bigint | number };
    if (v.contextId !== undefined) return conversationKey(String(v.opcode), BigInt(v.contextId));
    if (ignore.has(String(v.opcode))) return null;
    return v.opcode === "logBroadcast" ? "log" : "oneway";
  } catch {
    return "unparseable";
  }
}

const CODES = new Set(Object.values(MasqErrorCode).map(String));

/** Null when a message is a well-formed MASQ envelope with a known error code (if an error). */
export function checkMasqReply(m: WsMessage): string | null {
  if (m.binary) return "binary reply";
  let v: { opcode?: unknown; payload?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    v = parseExactJson(m.text) as typeof v;
  } catch {
    return `reply is not JSON: ${m.text.slice(0, 120)}`;
  }
  if (typeof v.opcode !== "string") return `reply without opcode: ${m.text.slice(0, 160)}`;
  if (v.error !== undefined) {
    if (!CODES.has(String(v.error.code)) || typeof v.error.message !== "string") {
      return `error reply with code ${String(v.error.code)}: ${m.text.slice(0, 200)}`;
    }
    if (v.error.message.startsWith("Internal error")) {
      return `internal error: ${m.text.slice(0, 300)}`;
    }
  } else if (typeof v.payload !== "object" || v.payload === null) {
    return `reply without payload or error: ${m.text.slice(0, 160)}`;
  }
  return null;
}

/** Every opcode the real `masq_lib` knows. */
export const ALL_OPCODES: readonly string[] = [...KNOWN_OPCODES.keys()];
