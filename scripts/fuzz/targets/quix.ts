/**
 * Quix under fuzz. The agent dials out, so the fuzzer is its control server: a WebSocket server
 * on loopback (raw frames, so it can send binary and invalid UTF-8 too) that accepts any login,
 * then sends requests built from `frameSchema` and the request schemas (`execute`,
 * `view_running`, `proc_signal`, `telemetry`). Every request is answered with its `rid` (null
 * when the frame had none it could use); a frame without `req` that carries a `rid` is a reply to
 * nothing and is ignored by design. An `execute` never names a program that exists on this
 * machine other than the one allowed program, which does not exist either.
 *
 * @module
 */
import { join } from "node:path";
import {
  executeSchema,
  frameSchema,
  procSignalSchema,
  telemetrySchema,
  viewRunningSchema,
} from "../../../lib/protocols/quix/schemas.ts";
import { QUIX_ALLOWED } from "../agent.ts";
import { RawWebSocket, type WsMessage } from "../raw_ws.ts";
import type { Rng } from "../rng.ts";
import { jsonSchemaOf } from "../schema_values.ts";
import { sendFrame, wsText } from "../ws_target.ts";
import {
  type FuzzFrame,
  type FuzzTarget,
  type GroupOutcome,
  jsonFrame,
  ReplyLedger,
} from "../target.ts";

const MAX_FRAME = 1 << 20;
const REASONS = new Set([
  "bad_request",
  "unknown_request",
  "not_authenticated",
  "not_found",
  "not_permitted",
  "spawn_failed",
  "invalid_config",
  "vpn_failed",
]);

/** The fuzzer's Quix control server: accepts the agent, logs it in, relays its replies. */
export class QuixControlServer {
  readonly user = "fuzz";
  readonly password = "fuzz-password";
  readonly #listener: Deno.TcpListener;
  #session: RawWebSocket | null = null;
  /** The session once logged in. */
  #online: RawWebSocket | null = null;
  #waiters: ((ws: RawWebSocket) => void)[] = [];
  /** The WireGuard config `get_vpn_conf` returns (null: `no_vpn`, what the fuzzer wants). */
  vpnConf: string | null = null;
  /** Receives every reply frame (no `req`) of the current session. */
  onReply: (text: string, binary: boolean) => void = () => {};
  sessions = 0;

  private constructor(listener: Deno.TcpListener) {
    this.#listener = listener;
    void this.#acceptLoop();
  }

  /** Listens on a free loopback port. */
  static start(): Promise<QuixControlServer> {
    return Promise.resolve(
      new QuixControlServer(Deno.listen({ hostname: "127.0.0.1", port: 0 })),
    );
  }

  /** The URL the agent dials. */
  get url(): string {
    return `ws://127.0.0.1:${(this.#listener.addr as Deno.NetAddr).port}/oob/`;
  }

  /** The logged-in session (waits for the agent to dial and log in). */
  session(timeoutMs = 20_000): Promise<RawWebSocket> {
    if (this.#online && !this.#online.done) return Promise.resolve(this.#online);
    const { promise, resolve, reject } = Promise.withResolvers<RawWebSocket>();
    const timer = setTimeout(() => reject(new Error("the agent did not log in")), timeoutMs);
    this.#waiters.push((ws) => {
      clearTimeout(timer);
      resolve(ws);
    });
    return promise;
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      RawWebSocket.accept(conn).then((ws) => this.#adopt(ws), () => conn.close());
    }
  }

  #adopt(ws: RawWebSocket): void {
    this.sessions++;
    this.#session?.abort();
    this.#session = ws;
    this.#online = null;
    ws.onMessage = (m: WsMessage) => this.#onMessage(ws, m);
    void ws.closed.then(() => {
      if (this.#session !== ws) return;
      this.#session = null;
      this.#online = null;
    });
  }

  #onMessage(ws: RawWebSocket, m: WsMessage): void {
    let frame: { req?: unknown; rid?: unknown } | null = null;
    try {
      frame = m.binary ? null : JSON.parse(m.text);
    } catch {
      // a reply the target will judge
    }
    if (frame?.req === "authenticate") {
      const body = { success: true, token: "fuzz-token", validity: 86_400 };
      void ws.text(JSON.stringify({ rid: frame.rid, msg: body })).then(() => {
        // The agent marks itself online after reading this reply; requests sent meanwhile wait.
        if (this.#session !== ws || ws.done) return;
        this.#online = ws;
        for (const wake of this.#waiters.splice(0)) wake(ws);
      });
      return;
    }
    if (frame?.req === "get_vpn_conf") {
      const msg = this.vpnConf === null
        ? { result: "error", reason: "no_vpn" }
        : { result: "success", conf_type: "wireguard", conf_data: this.vpnConf };
      void ws.text(JSON.stringify({ rid: frame.rid, msg }));
      return;
    }
    if (this.#session === ws) this.onReply(m.text, m.binary);
  }

  /** Stops listening and drops the session. */
  stop(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // closed
    }
    this.#session?.abort();
    return Promise.resolve();
  }
}

/** Whether `name` is a program that exists here (on PATH or as a path). */
function isRealProgram(name: string): boolean {
  const candidates = name.includes("/")
    ? [name]
    : (Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin").split(":")
      .concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"]).map((d) => join(d, name));
  return candidates.some((p) => {
    try {
      Deno.statSync(p);
      return true;
    } catch {
      return false;
    }
  });
}

/** Rewrites an `execute` whose program exists here into one whose program does not. */
function defuse(frame: FuzzFrame): FuzzFrame {
  let v: { req?: unknown; msg?: { cmd?: unknown } } | null;
  try {
    v = JSON.parse(wsText(frame.bytes));
  } catch {
    return frame;
  }
  const cmd = v?.msg?.cmd;
  if (v?.req !== "execute" || !Array.isArray(cmd) || typeof cmd[0] !== "string") return frame;
  if (cmd[0] === QUIX_ALLOWED || !isRealProgram(cmd[0])) return frame;
  cmd[0] = "fz-no-such-program";
  return { ...frame, bytes: new TextEncoder().encode(JSON.stringify(v)), label: frame.label };
}

const REQUESTS: Record<string, { schema: ReturnType<typeof jsonSchemaOf>; examples: unknown[] }> = {
  execute: {
    schema: jsonSchemaOf(executeSchema),
    examples: [{ cmd: [QUIX_ALLOWED, "--x"] }, { cmd: ["fz-no-such-program"] }],
  },
  view_running: { schema: jsonSchemaOf(viewRunningSchema), examples: [{}, { verb: 1 }] },
  proc_signal: {
    schema: jsonSchemaOf(procSignalSchema),
    examples: [{ pid: 4_000_000, mode: "SIGTERM" }, { pid: 1, mode: "SIGHUP" }],
  },
  telemetry: {
    schema: jsonSchemaOf(telemetrySchema),
    examples: [{ stat_types: ["ttl_cpu_usage", "ttl_mem_usage"] }, { stat_types: ["disk_util"] }],
  },
  authenticate: { schema: {}, examples: [{ username: "x", password: "y" }] },
};

/** The key of the reply the agent owes for a frame, or null when it owes none by design. */
export function expectedRid(frame: FuzzFrame): string | null | "none" {
  if (frame.binary) return "null";
  const text = wsText(frame.bytes);
  if (text.length > MAX_FRAME) return "null";
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return "null";
  }
  const parsed = frameSchema.safeParse(raw);
  if (!parsed.success || typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    const rid = (raw as { rid?: unknown } | null)?.rid;
    return typeof rid === "number" || typeof rid === "string" ? JSON.stringify(rid) : "null";
  }
  if (parsed.data.req === undefined) return parsed.data.rid === undefined ? "null" : "none";
  return JSON.stringify(parsed.data.rid ?? null);
}

const ENVELOPE = jsonSchemaOf(frameSchema);

/** Frame `index` of a Quix run. */
export function quixFrame(rng: Rng, index: number): FuzzFrame {
  const req = rng.chance(0.93) ? rng.pick(Object.keys(REQUESTS)) : rng.pick(["", "x", "EXECUTE"]);
  const spec = REQUESTS[req] ?? REQUESTS.view_running!;
  const value: Record<string, unknown> = { req, rid: rng.chance(0.5) ? index : `r${index}` };
  if (rng.chance(0.9)) value.msg = rng.pick(spec.examples);
  if (rng.chance(0.1)) value.auth = rng.pick([null, "token", ""]);
  const schema = {
    ...ENVELOPE,
    properties: { ...ENVELOPE.properties, msg: spec.schema },
    required: ["req", "rid"],
  };
  const frame = defuse(jsonFrame(rng, index, { value, schema }));
  if (rng.chance(0.02)) return { ...frame, binary: true, label: `binary ${frame.label}` };
  if (!frame.binary && !isValidUtf8(frame.bytes)) return { ...frame, endsConnection: true };
  return frame;
}

/** The Quix target. */
export class QuixTarget implements FuzzTarget {
  readonly name = "quix";
  readonly #server: QuixControlServer;
  #probeCount = 0;

  private constructor(server: QuixControlServer) {
    this.#server = server;
  }

  /** Waits for the agent's session. */
  static async create(server: QuixControlServer): Promise<QuixTarget> {
    await server.session();
    return new QuixTarget(server);
  }

  frame(rng: Rng, index: number): FuzzFrame {
    return quixFrame(rng, index);
  }

  /**
   * Sends a group on the current session; a frame that ends the link by design (invalid UTF-8,
   * always a group's last) goes once everything before it is answered.
   */
  async group(frames: FuzzFrame[]): Promise<GroupOutcome> {
    const ws = await this.#server.session();
    const ledger = new ReplyLedger();
    const problems: GroupOutcome["problems"] = [];
    const killer = frames.at(-1)!.endsConnection ? frames.at(-1)! : null;
    const body = killer ? frames.slice(0, -1) : frames;
    let silent = killer ? 1 : 0;
    for (const f of body) {
      const key = expectedRid(f);
      if (key === "none") silent++;
      else ledger.expect(key!, f.index);
    }
    const owed = ledger.outstanding;
    const first = frames[0]!.index;
    this.#server.onReply = (text, binary) => {
      const problem = checkReply(text, binary);
      if (problem) problems.push({ index: first, problem });
      try {
        ledger.take(JSON.stringify(JSON.parse(text).rid ?? null));
      } catch {
        ledger.take("unparseable");
      }
    };
    void ws.closed.then(() => ledger.interrupt());
    for (const f of body) await sendFrame(ws, f);
    await ledger.settled(10_000);
    if (killer) {
      await sendFrame(ws, killer);
      await Promise.race([ws.closed, new Promise((r) => setTimeout(r, 5000))]);
      if (!ws.done) {
        problems.push({ index: killer.index, problem: "invalid UTF-8 did not close the link" });
      }
    }
    this.#server.onReply = () => {};
    return {
      problems: [...problems, ...ledger.problems(first)],
      replies: owed - ledger.outstanding,
      silentByDesign: silent,
    };
  }

  async burst(frames: FuzzFrame[], _rng: Rng): Promise<void> {
    const ws = await this.#server.session();
    for (const f of frames) await ws.text(f.bytes);
    ws.abort();
    await this.#server.session();
  }

  async probe(): Promise<string | null> {
    const ws = await this.#server.session().catch(() => null);
    if (!ws) return "the agent did not log in to the control server";
    const rid = `probe-${++this.#probeCount}`;
    const reply = Promise.withResolvers<string>();
    this.#server.onReply = (text) => {
      if (text.includes(rid)) reply.resolve(text);
    };
    await ws.text(JSON.stringify({ req: "view_running", rid, msg: {} }));
    const timer = setTimeout(() => reply.resolve("(none within 10 s)"), 10_000);
    const text = await reply.promise;
    clearTimeout(timer);
    this.#server.onReply = () => {};
    try {
      const v = JSON.parse(text);
      if (v.rid === rid && Array.isArray(v.msg)) return null;
    } catch {
      // below
    }
    return `view_running answered ${text.slice(0, 200)}`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Null when a reply is `{rid, msg}` with a known error reason (if an error); else the problem. */
function checkReply(text: string, binary: boolean): string | null {
  if (binary) return "binary reply";
  let v: { rid?: unknown; msg?: { result?: unknown; reason?: unknown; detail?: unknown } };
  try {
    v = JSON.parse(text);
  } catch {
    return `reply is not JSON: ${text.slice(0, 120)}`;
  }
  if (typeof v !== "object" || v === null || !("rid" in v) || !("msg" in v)) {
    return `reply is not {rid, msg}: ${text.slice(0, 120)}`;
  }
  if (v.msg?.result === "error") {
    if (!REASONS.has(String(v.msg.reason)) || typeof v.msg.detail !== "string") {
      return `error reply with reason ${JSON.stringify(v.msg.reason)}: ${text.slice(0, 200)}`;
    }
  }
  return null;
}

function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}
