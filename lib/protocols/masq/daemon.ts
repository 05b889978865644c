/**
 * The Daemon actor: handles `setup` and `start` conversations, redirects everything else to a
 * running Node (or answers NODE_NOT_RUNNING_ERROR / `undelivered`), and broadcasts `crashed`
 * when the recorded Node exits. Messages are handled one at a time, in arrival order, like the
 * real actor; every state change is durable before it is acknowledged.
 */
import { errorText, type JsonDocument, type Logger } from "../../core/mod.ts";
import {
  freeLoopbackPort,
  isSameProcessAlive,
  type LaunchedNode,
  LaunchError,
  launchNode,
  type NodeExit,
  pidExists,
  watchAdoptedNode,
} from "../../backends/masq_node/mod.ts";
import { ErrorCode, NODE_UI_PROTOCOL } from "./codes.ts";
import type { DaemonDocument, NodeRecord } from "./config.ts";
import { crashReason } from "./crash_reason.ts";
import {
  encodeMessage,
  errorMessage,
  oneWay,
  payloadMessage,
  stringifyExact,
  type UiMessage,
} from "./envelope.ts";
import { errorReply, ProtocolError } from "./errors.ts";
import { HandlerTable, type Request } from "./handler_table.ts";
import { emptyRequest, parsePayload, setupRequest } from "./schemas.ts";
import {
  applySetup,
  censor,
  type HostFacts,
  launchArguments,
  reportSetup,
  type SetupState,
} from "./setup_model.ts";
import type { ClientId, Target } from "./ui_server.ts";

/** The line the built-in node prints on stdout once it listens. */
export const NODE_READY_LINE: RegExp = /^MASQNode-UIv2 node ready on /;

/** Options for {@linkcode Daemon}. */
export interface DaemonOptions {
  log: Logger;
  doc: JsonDocument<DaemonDocument>;
  host: HostFacts;
  send(target: Target, text: string): void;
  /** argv prefix that runs the Node; the sorted `--name value` arguments follow. */
  nodeCommand: readonly string[];
  /** True for the built-in node (readiness line); false for a foreign binary (connect probe). */
  builtIn: boolean;
  /** Environment for the Node. */
  nodeEnv: Record<string, string>;
  launchTimeoutMs: number;
  /** Called whenever the Node's state changes (for /healthz). */
  onNodeChange?(node: NodeRecord | null): void;
}

interface RunningNode extends NodeRecord {
  launched: LaunchedNode | null;
}

/** One Daemon. */
export class Daemon {
  #o: DaemonOptions;
  #table = new HandlerTable();
  #queue: Promise<void> = Promise.resolve();
  #node: RunningNode | null = null;
  #abort = new AbortController();

  constructor(options: DaemonOptions) {
    this.#o = options;
    this.#table
      .register("setup", (r) => this.#setup(r))
      .register("start", (r) => this.#start(r));
  }

  /** The Node on record, if any. */
  get node(): NodeRecord | null {
    const n = this.#node;
    return n ? { pid: n.pid, port: n.port, startTime: n.startTime } : null;
  }

  /** Re-adopts a Node recorded by an earlier run if it still runs; forgets it otherwise. */
  async adopt(): Promise<void> {
    const record = this.#o.doc.value.node;
    if (!record) return;
    if (!(await isSameProcessAlive(record.pid, record.startTime))) {
      this.#o.log.info("recorded node is gone; back to setup mode", { pid: record.pid });
      await this.#o.doc.write({ ...this.#o.doc.value, node: null });
      return;
    }
    const node: RunningNode = { ...record, launched: null };
    this.#node = node;
    this.#o.log.info("re-adopted running node", { pid: node.pid, port: node.port });
    this.#o.onNodeChange?.(this.node);
    watchAdoptedNode({
      pid: node.pid,
      startTime: node.startTime,
      port: node.port,
      protocol: NODE_UI_PROTOCOL,
      signal: this.#abort.signal,
    }).then((exit) => {
      if (exit) this.#enqueue(() => this.#nodeExited(node, exit));
    });
  }

  /** Queues one inbound message. */
  dispatch(client: ClientId, message: UiMessage): void {
    this.#enqueue(() => this.#handle(client, message));
  }

  /** Stops watching the Node (it keeps running) and drops queued work. */
  close(): void {
    this.#abort.abort();
    this.#node?.launched?.detach();
  }

  #enqueue(work: () => Promise<void>): void {
    this.#queue = this.#queue.then(work).catch((error) => {
      this.#o.log.error("daemon work failed", { error: errorText(error) });
    });
  }

  #reply(client: ClientId, text: string): void {
    this.#o.send({ client }, text);
  }

  async #handle(client: ClientId, message: UiMessage): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const handler = message.contextId !== null && "payload" in message.body
      ? this.#table.get(message.opcode)
      : undefined;
    try {
      if (!handler || !("payload" in message.body)) {
        await this.#unexpected(client, message);
        return;
      }
      await handler({
        client,
        opcode: message.opcode,
        contextId: message.contextId,
        payload: message.body.payload,
        message,
      });
    } catch (error) {
      const reply = errorReply(error, message.opcode, message.contextId, this.#o.log);
      // A one-way message has no conversation to answer: the failure is only logged.
      if (message.contextId !== null) this.#reply(client, reply);
    }
  }

  /** The running Node, after checking with the OS that it still lives. */
  async #running(): Promise<RunningNode | null> {
    const node = this.#node;
    if (!node) return null;
    if (pidExists(node.pid)) return node;
    await this.#nodeExited(node, { code: null, signal: null, stderr: null });
    return null;
  }

  async #setup(r: Request): Promise<void> {
    const request = parsePayload(setupRequest, r.opcode, r.payload);
    const doc = this.#o.doc;
    const state = { set: doc.value.set, configured: doc.value.configured };
    const running = (await this.#running()) !== null;
    if (running || request.values.length === 0) {
      // A report only: the censored values of the current cluster, cached as JSON text.
      this.#reply(
        r.client,
        `{"opcode":"setup","contextId":${r.contextId},"payload":{"running":${running},"values":${
          this.#currentValuesJson(state)
        },"errors":[]}}`,
      );
      return;
    }
    const outcome = applySetup(
      state,
      request.values.map((v) => ({ name: v.name, value: v.value ?? null })),
      this.#o.host,
    );
    if (JSON.stringify(outcome.state.set) !== JSON.stringify(state.set)) {
      await doc.write({ ...doc.value, set: outcome.state.set });
    }
    const payload = { running: false, values: censor(outcome.values), errors: outcome.errors };
    this.#reply(r.client, payloadMessage("setup", r.contextId, payload));
    if (outcome.changed) this.#o.send({ allExcept: r.client }, oneWay("setup", payload));
  }

  #valuesCache: { set: unknown; configured: unknown; json: string } | null = null;

  /** The censored report of the stored cluster as JSON text, recomputed only when it changed. */
  #currentValuesJson(state: SetupState): string {
    const cache = this.#valuesCache;
    if (cache && cache.set === state.set && cache.configured === state.configured) {
      return cache.json;
    }
    const json = JSON.stringify(censor(reportSetup(state, this.#o.host)));
    this.#valuesCache = { set: state.set, configured: state.configured, json };
    return json;
  }

  async #start(r: Request): Promise<void> {
    parsePayload(emptyRequest, r.opcode, r.payload);
    const running = await this.#running();
    if (running) {
      throw new ProtocolError(
        ErrorCode.NODE_ALREADY_RUNNING_ERROR,
        "Could not launch Node: already running",
      );
    }
    const doc = this.#o.doc;
    const values = reportSetup(
      { set: doc.value.set, configured: doc.value.configured },
      this.#o.host,
    );
    let launched: LaunchedNode | null = null;
    // The free port is found by binding and releasing it, so another process can take it before
    // the Node binds: a Node that dies saying its port is busy is retried once on a new port.
    for (let attempt = 1; launched === null; attempt++) {
      const port = freeLoopbackPort();
      const argv = [...this.#o.nodeCommand, ...launchArguments(values, port)];
      try {
        launched = await launchNode({
          argv,
          port,
          env: this.#o.nodeEnv,
          readyTimeoutMs: this.#o.launchTimeoutMs,
          ...(this.#o.builtIn ? { readyLine: NODE_READY_LINE } : {}),
          log: this.#o.log,
        });
      } catch (error) {
        if (
          attempt < 2 && error instanceof LaunchError &&
          /already seems to be listening|AddrInUse|address already in use/i.test(error.stderr)
        ) {
          this.#o.log.warn("node's UI port was taken; retrying on another", { port });
          continue;
        }
        const text = error instanceof LaunchError ? error.message : errorText(error);
        throw new ProtocolError(ErrorCode.NODE_LAUNCH_ERROR, `Could not launch Node: ${text}`);
      }
    }
    const node: RunningNode = {
      pid: launched.pid,
      port: launched.port,
      startTime: launched.startTime,
      launched,
    };
    this.#node = node;
    await doc.write({
      ...doc.value,
      node: { pid: node.pid, port: node.port, startTime: node.startTime },
    });
    this.#o.log.info("node started", { pid: node.pid, port: node.port });
    this.#o.onNodeChange?.(this.node);
    launched.exited.then((exit) => this.#enqueue(() => this.#nodeExited(node, exit)));
    this.#reply(
      r.client,
      payloadMessage("start", r.contextId, {
        newProcessId: node.pid,
        redirectUiPort: node.port,
      }),
    );
  }

  /** Broadcasts `crashed` once for a recorded Node and returns to setup mode. */
  async #nodeExited(node: RunningNode, exit: NodeExit): Promise<void> {
    if (this.#node !== node || this.#abort.signal.aborted) return;
    this.#node = null;
    node.launched?.detach();
    await this.#o.doc.write({ ...this.#o.doc.value, node: null });
    this.#o.log.info("node exited", { pid: node.pid, code: exit.code, signal: exit.signal });
    this.#o.onNodeChange?.(null);
    this.#o.send(
      { all: true },
      oneWay("crashed", { processId: node.pid, crashReason: crashReason(exit.code, exit.stderr) }),
    );
  }

  async #unexpected(client: ClientId, message: UiMessage): Promise<void> {
    const { opcode, contextId } = message;
    if (!("payload" in message.body)) {
      const text = `Cannot handle ${opcode} carrying an error in place of a payload`;
      this.#reply(
        client,
        contextId === null
          ? oneWay("unmarshalError", { message: text, badData: encodeMessage(message) })
          : errorMessage(opcode, contextId, ErrorCode.UNMARSHAL_ERROR, text),
      );
      return;
    }
    const node = await this.#running();
    if (node) {
      this.#reply(
        client,
        oneWay("redirect", {
          port: node.port,
          opcode,
          contextId,
          payload: stringifyExact(message.body.payload),
        }),
      );
      return;
    }
    this.#reply(
      client,
      contextId === null ? oneWay("undelivered", { opcode }) : errorMessage(
        opcode,
        contextId,
        ErrorCode.NODE_NOT_RUNNING_ERROR,
        `Cannot handle ${opcode} request: Node is not running`,
      ),
    );
  }
}
