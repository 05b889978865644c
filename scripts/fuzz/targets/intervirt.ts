/**
 * Intervirt under fuzz (WebSocket). Requests are built from the envelope and the request schemas
 * of `schemas.ts` with example ids, addresses and ports. Every frame owes one final reply with its
 * `uuid` as `refID` (null when the frame had no usable one); progress frames (`status: -1`) are
 * not final. The agent runs without the container runtime on its PATH, so after validation every
 * container request is code 4, and host commands are off (code 7).
 *
 * @module
 */
import {
  addContainerSchema,
  addForwardSchema,
  commandSchema,
  idSchema,
  internetSchema,
  intervirtEnvelopeSchema,
  newIpv4Schema,
  newIpv6Schema,
  pairSchema,
  removeForwardSchema,
} from "../../../lib/protocols/intervirt/schemas.ts";
import type { FuzzAgent } from "../agent.ts";
import { RawWebSocket, type WsMessage } from "../raw_ws.ts";
import type { Rng } from "../rng.ts";
import { generateValue, type JsonSchema, jsonSchemaOf, type ValuePools } from "../schema_values.ts";
import { type FuzzFrame, type FuzzTarget, type GroupOutcome, jsonFrame } from "../target.ts";
import { isValidUtf8, wsBurst, wsGroup, type WsProtocol, wsText } from "../ws_target.ts";

const MAX_MESSAGE = 65_536;

const POOLS: ValuePools = {
  id: ["c1", "c2", "web-1", "db"],
  id1: ["c1", "web-1"],
  id2: ["c2", "db"],
  ipv4: ["10.93.0.10", "10.93.0.11"],
  newIpv4: ["10.93.0.12"],
  ipv6: ["fd93::10", "fd93::11"],
  newIpv6: ["fd93::12"],
  newIP: ["10.93.0.13", "fd93::13"],
  mac: ["02:00:00:00:00:01", "02:00:00:00:00:02"],
  image: ["debian/13", "alpine/3.20"],
  internalPort: [80, 443],
  externalPort: [18080, 18443],
  protocol: ["tcp", "udp"],
  command: ["version", "wipe", "update", "shutdown", "reboot"],
};

const SCHEMAS: Record<string, JsonSchema> = {
  AddContainer: jsonSchemaOf(addContainerSchema),
  RemoveContainer: jsonSchemaOf(idSchema),
  StartContainer: jsonSchemaOf(idSchema),
  StopContainer: jsonSchemaOf(idSchema),
  IDWithNewIpv4: jsonSchemaOf(newIpv4Schema),
  IDWithNewIpv6: jsonSchemaOf(newIpv6Schema),
  Connect: jsonSchemaOf(pairSchema),
  Disconnect: jsonSchemaOf(pairSchema),
  SetInternetAccess: jsonSchemaOf(internetSchema),
  AddPortForwarding: jsonSchemaOf(addForwardSchema),
  RemovePortForwarding: jsonSchemaOf(removeForwardSchema),
  Command: jsonSchemaOf(commandSchema),
};

/** The reply key a frame expects: its refID as JSON. */
function expectedRef(frame: FuzzFrame): string {
  if (frame.binary) return "null";
  const text = wsText(frame.bytes);
  if (text.length > MAX_MESSAGE) return "null";
  try {
    const body = JSON.parse(text);
    if (typeof body !== "object" || body === null || Array.isArray(body)) return "null";
    return typeof body.uuid === "string" ? JSON.stringify(body.uuid) : "null";
  } catch {
    return "null";
  }
}

/** The Intervirt target. */
export class IntervirtTarget implements FuzzTarget, WsProtocol {
  readonly name = "intervirt";
  readonly waitMs = 10_000;
  readonly ordered = false;
  readonly #url: URL;
  readonly #envelope = jsonSchemaOf(intervirtEnvelopeSchema);
  #sentinels = 0;

  private constructor(url: string) {
    this.#url = new URL(url);
  }

  /** The target for the agent's Intervirt listener. */
  static create(agent: FuzzAgent): Promise<IntervirtTarget> {
    return Promise.resolve(new IntervirtTarget(agent.endpoints.intervirt));
  }

  connect(): Promise<RawWebSocket> {
    return RawWebSocket.connect({
      host: this.#url.hostname,
      port: Number(this.#url.port),
      path: this.#url.pathname,
    });
  }

  frame(rng: Rng, index: number): FuzzFrame {
    const type = rng.chance(0.95)
      ? rng.pick(Object.keys(SCHEMAS))
      : rng.pick(["Nope", "command", ""]);
    const schema = SCHEMAS[type] ?? SCHEMAS.Command!;
    const body = generateValue(schema, rng, POOLS) as Record<string, unknown>;
    const value = { type, uuid: `u-${index}`, ...body };
    const envelope = {
      type: "object",
      properties: { ...this.#envelope.properties, ...schema.properties },
      required: [...(schema.required ?? []), "type", "uuid"],
    };
    const frame = jsonFrame(rng, index, { value, schema: envelope });
    if (rng.chance(0.02)) return { ...frame, binary: true, label: `binary ${frame.label}` };
    if (!isValidUtf8(frame.bytes)) return { ...frame, endsConnection: true };
    return frame;
  }

  expect(frame: FuzzFrame): string {
    return expectedRef(frame);
  }

  replyKey(m: WsMessage): string | null {
    try {
      const v = JSON.parse(m.text);
      if (v.status === -1 && "progress" in v) return null;
      return JSON.stringify(v.refID ?? null);
    } catch {
      return "unparseable";
    }
  }

  checkReply(m: WsMessage): string | null {
    if (m.binary) return "binary reply";
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(m.text);
    } catch {
      return `reply is not JSON: ${m.text.slice(0, 120)}`;
    }
    if (typeof v.type !== "string" || !("refID" in v)) {
      return `reply without type/refID: ${m.text.slice(0, 160)}`;
    }
    if ("code" in v) {
      const code = v.code;
      if (typeof code !== "number" || code < 2 || code > 8 || typeof v.error !== "string") {
        return `error reply with code ${JSON.stringify(code)}: ${m.text.slice(0, 200)}`;
      }
    }
    return null;
  }

  sentinel(n: number): { text: string; key: string } {
    const uuid = `sentinel-${n}`;
    return {
      text: JSON.stringify({ type: "Command", uuid, command: "version" }),
      key: JSON.stringify(uuid),
    };
  }

  group(frames: FuzzFrame[]): Promise<GroupOutcome> {
    return wsGroup(this, frames, ++this.#sentinels);
  }

  burst(frames: FuzzFrame[], rng: Rng): Promise<void> {
    return wsBurst(this, frames, rng);
  }

  async probe(): Promise<string | null> {
    const ws = await this.connect();
    const reply = Promise.withResolvers<string>();
    ws.onMessage = (m) => reply.resolve(m.text);
    await ws.text(JSON.stringify({ type: "Command", uuid: "probe", command: "version" }));
    const timer = setTimeout(() => reply.resolve("(none within 10 s)"), 10_000);
    const text = await reply.promise;
    clearTimeout(timer);
    await ws.close(1000, 500);
    try {
      const v = JSON.parse(text);
      if (v.type === "Version" && v.refID === "probe" && typeof v.version === "string") return null;
    } catch {
      // below
    }
    return `version answered ${text.slice(0, 200)}`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
