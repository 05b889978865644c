/**
 * The sozu command socket under fuzz (Unix socket, NUL-framed JSON). Requests are built from the
 * envelope and the payload schemas of `schemas.ts` / `order_schemas.ts` in all three envelope
 * shapes, with example ids, hostnames, certificates and addresses (listeners only on 127.77.x.y,
 * so nothing binds where other programs listen). Every NUL-separated piece owes one final reply
 * (OK or ERROR; PROCESSING is not final) with its id (the id the listener can read, "" when none);
 * SUBSCRIBE_EVENTS gets none by design. SOFT_STOP and HARD_STOP, which end the service by design,
 * and UPGRADE_MAIN (UPGRADE_MASTER), which replaces the agent under test with a successor, are
 * never sent.
 *
 * @module
 */
import {
  addCertificateCode,
  applicationInput,
  backendCode,
  backendReadme,
  frontInput,
  httpListenerInput,
  httpsListenerInput,
  listenerRefInput,
  removeApplicationInput,
  removeBackendCode,
  removeCertificateCode,
  replaceCertificateInput,
} from "../../../lib/protocols/sozu/order_schemas.ts";
import {
  decodeRequest,
  listFrontendsInput,
  MAX_FRAME,
  queryInput,
  salvageId,
  SOZU_COMMANDS,
  sozuEnvelopeSchema,
  statePathInput,
} from "../../../lib/protocols/sozu/schemas.ts";
import { makeCertificate } from "../../../tests/sozu/_certs.ts";
import type { FuzzAgent } from "../agent.ts";
import type { Rng } from "../rng.ts";
import { generateValue, type JsonSchema, jsonSchemaOf, type ValuePools } from "../schema_values.ts";
import { burstConnections, closeConn, joinFrames, readUntil, sendAll } from "../stream_io.ts";
import {
  type FuzzFrame,
  type FuzzTarget,
  type GroupOutcome,
  jsonFrame,
  objectSchema,
  ReplyLedger,
} from "../target.ts";

const js = jsonSchemaOf;
const NONE: JsonSchema = { type: "null" };

/** Payload schema of every order and command the fuzzer sends (stops left out). */
const PAYLOADS: Record<string, JsonSchema> = {
  ADD_APPLICATION: js(applicationInput),
  ADD_CLUSTER: js(applicationInput),
  REMOVE_APPLICATION: js(removeApplicationInput),
  REMOVE_CLUSTER: js(removeApplicationInput),
  ADD_HTTP_FRONT: js(frontInput),
  REMOVE_HTTP_FRONT: js(frontInput),
  ADD_HTTPS_FRONT: js(frontInput),
  REMOVE_HTTPS_FRONT: js(frontInput),
  ADD_BACKEND: { anyOf: [js(backendCode), js(backendReadme)] },
  REMOVE_BACKEND: js(removeBackendCode),
  ADD_CERTIFICATE: js(addCertificateCode),
  REPLACE_CERTIFICATE: js(replaceCertificateInput),
  REMOVE_CERTIFICATE: js(removeCertificateCode),
  ADD_HTTP_LISTENER: js(httpListenerInput),
  ADD_HTTPS_LISTENER: js(httpsListenerInput),
  REMOVE_LISTENER: js(listenerRefInput),
  ACTIVATE_LISTENER: js(listenerRefInput),
  DEACTIVATE_LISTENER: js(listenerRefInput),
  QUERY: js(queryInput),
  STATUS: NONE,
  METRICS: NONE,
  LOGGING: NONE,
  ADD_TCP_FRONT: NONE,
  SAVE_STATE: js(statePathInput),
  LOAD_STATE: js(statePathInput),
  DUMP_STATE: NONE,
  LIST_WORKERS: NONE,
  LIST_FRONTENDS: js(listFrontendsInput),
  SUBSCRIBE_EVENTS: NONE,
  LAUNCH_WORKER: NONE,
  UPGRADE_MAIN: NONE,
  RELOAD_CONFIGURATION: NONE,
};

function pools(cert: { certificate: string; key: string; fingerprint: string }): ValuePools {
  return {
    app_id: ["app0", "app1", "app2"],
    cluster_id: ["app0"],
    backend_id: ["b0", "b1", "b2"],
    sticky_id: ["s1"],
    hostname: ["a.fuzz.test", "*.w.fuzz.test", "b.fuzz.test"],
    path_begin: ["", "/api"],
    address: ["127.77.0.9:9001", "127.77.0.9:9002", "127.77.1.1:18081"],
    front: ["127.77.1.1:18081", "127.77.1.2:18082"],
    public_address: ["127.77.1.1:80"],
    ip_address: ["127.77.0.9"],
    port: [9001, 9002],
    proxy: ["http", "https"],
    path: ["fz-state-1", "fz-state-2"],
    certificate: [cert.certificate],
    key: [cert.key],
    fingerprint: [cert.fingerprint, "a".repeat(64)],
    old_fingerprint: [cert.fingerprint],
    names: [["a.fuzz.test"], []],
    domain: ["a.fuzz.test"],
  };
}

/** Builds the envelope of `name` in one of the three shapes the listener accepts. */
function envelope(name: string, payload: unknown, id: string, rng: Rng): Record<string, unknown> {
  const base: Record<string, unknown> = { id, version: 0 };
  if (rng.chance(0.1)) base.worker_id = rng.pick([0, "0", 7]);
  if (SOZU_COMMANDS.has(name) && name !== "STATUS") {
    return { ...base, type: name, ...(payload === null ? {} : { data: payload }) };
  }
  const shape = rng.int(3);
  if (shape === 0) return { ...base, type: "PROXY", data: { type: name, data: payload } };
  if (shape === 1 && payload !== null && typeof payload === "object" && !Array.isArray(payload)) {
    return { ...base, data: { type: name, ...payload } };
  }
  return { ...base, type: name, ...(payload === null ? {} : { data: payload }) };
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** The reply key every NUL-separated piece of `bytes` owes ("none" when silent by design). */
function pieceKeys(bytes: Uint8Array): { keys: string[]; stop: boolean } {
  const keys: string[] = [];
  let stop = false;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0) continue;
    const piece = bytes.subarray(start, i);
    start = i + 1;
    if (piece.length === 0) continue;
    if (piece.length > MAX_FRAME) {
      keys.push('""');
      continue;
    }
    let text: string;
    try {
      text = decoder.decode(piece);
    } catch {
      keys.push('""');
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      keys.push(JSON.stringify(salvageId(text)));
      continue;
    }
    const id = (value as { id?: unknown } | null)?.id;
    let request: ReturnType<typeof decodeRequest> | null = null;
    try {
      request = decodeRequest(value);
    } catch {
      // answered with ERROR
    }
    if (request?.order === "SOFT_STOP" || request?.order === "HARD_STOP") stop = true;
    if (request?.type === "UPGRADE_MAIN" || request?.type === "UPGRADE_MASTER") stop = true;
    const silent = request !== null && request.order === null &&
      request.type === "SUBSCRIBE_EVENTS";
    keys.push(silent ? "none" : JSON.stringify(typeof id === "string" ? id : ""));
  }
  return { keys, stop };
}

function checkReply(text: string): string | null {
  let v: { id?: unknown; version?: unknown; status?: unknown; message?: unknown };
  try {
    v = JSON.parse(text);
  } catch {
    return `reply is not JSON: ${text.slice(0, 120)}`;
  }
  if (typeof v.id !== "string" || v.version !== 0 || typeof v.message !== "string") {
    return `reply is not {id, version, status, message, data}: ${text.slice(0, 160)}`;
  }
  if (!["OK", "ERROR", "PROCESSING"].includes(String(v.status))) {
    return `status ${String(v.status)}`;
  }
  if (v.message.startsWith("internal error")) return `internal error: ${text.slice(0, 300)}`;
  return null;
}

/** The sozu command socket target. */
export class SozuTarget implements FuzzTarget {
  readonly name = "sozu";
  readonly #socket: string;
  readonly #pools: ValuePools;
  readonly #envelope = js(sozuEnvelopeSchema);

  private constructor(socket: string, p: ValuePools) {
    this.#socket = socket;
    this.#pools = p;
  }

  /** Makes a certificate for the examples. */
  static async create(agent: FuzzAgent): Promise<SozuTarget> {
    return new SozuTarget(agent.endpoints.sozuSocket, pools(await makeCertificate("a.fuzz.test")));
  }

  frame(rng: Rng, index: number): FuzzFrame {
    for (;;) {
      const name = rng.chance(0.97) ? rng.pick(Object.keys(PAYLOADS)) : rng.pick(["NOPE", "proxy"]);
      const schema = PAYLOADS[name] ?? NONE;
      const payload = generateValue(schema, rng, this.#pools);
      const value = envelope(name, payload, `f${index}`, rng);
      const full = objectSchema({ ...this.#envelope.properties, data: schema }, [
        "version",
        "worker_id",
        "type",
        "data",
      ]);
      const frame = jsonFrame(rng, index, { value, schema: full });
      if (!pieceKeys(frame.bytes).stop) return frame;
    }
  }

  #connect(): Promise<Deno.Conn> {
    return Deno.connect({ transport: "unix", path: this.#socket });
  }

  async group(frames: FuzzFrame[]): Promise<GroupOutcome> {
    const ledger = new ReplyLedger();
    let silent = 0;
    for (const f of frames) {
      for (const key of pieceKeys(f.bytes).keys) {
        if (key === "none") silent++;
        else ledger.expect(key, f.index);
      }
    }
    const bytes = joinFrames(frames, 0);
    const first = frames[0]!.index;
    const problems: GroupOutcome["problems"] = [];
    const conn = await this.#connect();
    const writing = sendAll(conn, bytes);
    let consumed = 0;
    const read = await readUntil(conn, 15_000, (received) => {
      for (let nul = received.indexOf(0, consumed); nul >= 0; nul = received.indexOf(0, consumed)) {
        const text = new TextDecoder().decode(received.subarray(consumed, nul));
        consumed = nul + 1;
        const problem = checkReply(text);
        if (problem) problems.push({ index: first, problem });
        try {
          const v = JSON.parse(text);
          if (v.status !== "PROCESSING") ledger.take(JSON.stringify(v.id));
        } catch {
          ledger.take("unparseable");
        }
      }
      return ledger.outstanding === 0;
    });
    await writing;
    closeConn(conn);
    if (read.closed && ledger.outstanding > 0) {
      problems.push({ index: first, problem: "the listener closed the connection" });
    }
    return {
      problems: [...problems, ...ledger.problems(first)],
      replies: frames.length - ledger.outstanding,
      silentByDesign: silent,
    };
  }

  async burst(frames: FuzzFrame[], rng: Rng): Promise<void> {
    await burstConnections(() => this.#connect(), frames, rng);
  }

  async probe(): Promise<string | null> {
    const conn = await this.#connect();
    await sendAll(conn, new TextEncoder().encode('{"id":"probe","version":0,"type":"STATUS"}\0'));
    const read = await readUntil(conn, 10_000, (b) => b.includes(0));
    closeConn(conn);
    const text = new TextDecoder().decode(read.bytes).replace(/\0$/, "");
    try {
      const v = JSON.parse(text);
      if (v.id === "probe" && v.status === "OK") return null;
    } catch {
      // below
    }
    return `STATUS answered ${text.slice(0, 200)}`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
