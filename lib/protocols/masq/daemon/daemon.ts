/**
 * The Daemon actor: handles `setup` and `start` conversations, redirects everything else to a
 * running Node (or answers NODE_NOT_RUNNING_ERROR / `undelivered`), and broadcasts `crashed`
 * when the recorded Node exits. Messages are handled one at a time, in arrival order, like the
 * real actor; every state change is durable before it is acknowledged.
 */
import {
  ConflictError,
  errorText,
  type JsonDocument,
  type Logger,
  UnavailableError,
} from "../../../core/mod.ts";
import type { LaunchedNode, NodeExit } from "../../../backends/masq_node/mod.ts";
import { NODE_UI_PROTOCOL } from "../codes.ts";
import { encodeMessage, oneWay, payloadMessage, stringifyExact, type UiMessage } from "../codec.ts";
import type { DaemonDocument, NodeRecord } from "../config.ts";
import type { ClientId } from "../connection.ts";
import { masqErrorReply, unmarshalReply } from "../errors.ts";
import { daemonHandlers, type MasqHandlerTable, type MasqRequest } from "../handlers.ts";
import type { SetupRequestValue } from "../schemas.ts";
import type { MasqTarget } from "../server.ts";
import {
  applySetup,
  censor,
  type HostFacts,
  reportSetup,
  type SetupState,
} from "../setup_model.ts";
import { type CrashReason, crashReason } from "./crash_reason.ts";
import { launchConfiguredNode, type NodeLaunchPlan } from "./launch.ts";

/** Options for {@linkcode Daemon}. */
export interface DaemonOptions extends NodeLaunchPlan {
  doc: JsonDocument<DaemonDocument>;
  host: HostFacts;
  send(target: MasqTarget, text: string): void;
  /** Called whenever the Node's state changes (for /healthz). */
  onNodeChange?(node: NodeRecord | null): void;
}

interface RunningNode extends NodeRecord {
  launched: LaunchedNode | null;
}

/** One Daemon. */
export class Daemon {
  #o: DaemonOptions;
  #log: Logger;
  #table: MasqHandlerTable;
  #queue: Promise<void> = Promise.resolve();
  #node: RunningNode | null = null;
  #abort = new AbortController();
  #valuesCache: { set: unknown; configured: unknown; json: string } | null = null;
  #lastCrash: { pid: number; reason: CrashReason; at: number } | null = null;

  constructor(options: DaemonOptions) {
    this.#o = options;
    this.#log = options.log;
    this.#table = daemonHandlers({
      setup: (r, values) => this.#setup(r, values),
      start: (r) => this.#start(r),
    });
  }

  /** The Node on record, if any. */
  get node(): NodeRecord | null {
    const n = this.#node;
    return n ? { pid: n.pid, port: n.port, startTime: n.startTime } : null;
  }

  /** The last Node exit this Daemon saw (pid, crash reason, Unix ms), for the status page. */
  get lastCrash(): { pid: number; reason: CrashReason; at: number } | null {
    return this.#lastCrash;
  }

  /** Re-adopts a Node recorded by an earlier run if it still runs; forgets it otherwise. */
  async adopt(): Promise<void> {
    const record = this.#o.doc.value.node;
    if (!record) return;
    if (!(await this.#o.nodes.isAlive(record.pid, record.startTime))) {
      this.#log.info("recorded node is gone; back to setup mode", { pid: record.pid });
      await this.#o.doc.write({ ...this.#o.doc.value, node: null });
      return;
    }
    const node: RunningNode = { ...record, launched: null };
    this.#node = node;
    this.#log.info("re-adopted running node", { pid: node.pid, port: node.port });
    this.#o.onNodeChange?.(this.node);
    this.#o.nodes.watchAdopted({
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
      this.#log.error("daemon work failed", { error: errorText(error) });
    });
  }

  #reply(client: ClientId, text: string): void {
    this.#o.send({ client }, text);
  }

  async #handle(client: ClientId, message: UiMessage): Promise<void> {
    if (this.#abort.signal.aborted) return;
    const { opcode, contextId, body } = message;
    const handler = contextId !== null && "payload" in body ? this.#table.get(opcode) : undefined;
    try {
      if (!handler || !("payload" in body)) {
        await this.#unexpected(client, message);
        return;
      }
      await handler({ client, opcode, contextId, payload: body.payload, message });
    } catch (error) {
      const reply = masqErrorReply(error, opcode, contextId, this.#log);
      // A one-way message has no conversation to answer: the failure is only logged.
      if (contextId !== null) this.#reply(client, reply);
    }
  }

  /** The running Node, after checking with the OS that it still lives. */
  async #running(): Promise<RunningNode | null> {
    const node = this.#node;
    if (!node) return null;
    if (this.#o.nodes.exists(node.pid)) return node;
    await this.#nodeExited(node, { code: null, signal: null, stderr: null });
    return null;
  }

  async #setup(r: MasqRequest, values: readonly SetupRequestValue[]): Promise<void> {
    const doc = this.#o.doc;
    const state = { set: doc.value.set, configured: doc.value.configured };
    const running = (await this.#running()) !== null;
    if (running || values.length === 0) {
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
      values.map((v) => ({ name: v.name, value: v.value ?? null })),
      this.#o.host,
    );
    if (JSON.stringify(outcome.state.set) !== JSON.stringify(state.set)) {
      await doc.write({ ...doc.value, set: outcome.state.set });
    }
    const payload = { running: false, values: censor(outcome.values), errors: outcome.errors };
    this.#reply(r.client, payloadMessage("setup", r.contextId, payload));
    if (outcome.changed) this.#o.send({ allExcept: r.client }, oneWay("setup", payload));
  }

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

  async #start(r: MasqRequest): Promise<void> {
    if (await this.#running()) {
      throw new ConflictError("Could not launch Node: already running", { reason: "node-running" });
    }
    const doc = this.#o.doc;
    const values = reportSetup(
      { set: doc.value.set, configured: doc.value.configured },
      this.#o.host,
    );
    const node = await this.#record(await launchConfiguredNode(this.#o, values));
    this.#reply(
      r.client,
      payloadMessage("start", r.contextId, { newProcessId: node.pid, redirectUiPort: node.port }),
    );
  }

  /** Makes a launched Node the one on record (durably) and watches for its exit. */
  async #record(launched: LaunchedNode): Promise<RunningNode> {
    const node: RunningNode = {
      pid: launched.pid,
      port: launched.port,
      startTime: launched.startTime,
      launched,
    };
    this.#node = node;
    await this.#o.doc.write({
      ...this.#o.doc.value,
      node: { pid: node.pid, port: node.port, startTime: node.startTime },
    });
    this.#log.info("node started", { pid: node.pid, port: node.port });
    this.#o.onNodeChange?.(this.node);
    launched.exited.then((exit) => this.#enqueue(() => this.#nodeExited(node, exit)));
    return node;
  }

  /** Broadcasts `crashed` once for a recorded Node and returns to setup mode. */
  async #nodeExited(node: RunningNode, exit: NodeExit): Promise<void> {
    if (this.#node !== node || this.#abort.signal.aborted) return;
    this.#node = null;
    node.launched?.detach();
    await this.#o.doc.write({ ...this.#o.doc.value, node: null });
    this.#log.info("node exited", { pid: node.pid, code: exit.code, signal: exit.signal });
    this.#o.onNodeChange?.(null);
    const reason = crashReason(exit.code, exit.stderr);
    this.#lastCrash = { pid: node.pid, reason, at: Date.now() };
    this.#o.send({ all: true }, oneWay("crashed", { processId: node.pid, crashReason: reason }));
  }

  /** Anything the Daemon does not handle itself: redirected to the Node, or refused. */
  async #unexpected(client: ClientId, message: UiMessage): Promise<void> {
    const { opcode, contextId } = message;
    if (!("payload" in message.body)) {
      const text = `Cannot handle ${opcode} carrying an error in place of a payload`;
      this.#reply(client, unmarshalReply(opcode, contextId, text, encodeMessage(message)));
      return;
    }
    const node = await this.#running();
    if (node) {
      const payload = stringifyExact(message.body.payload);
      this.#reply(client, oneWay("redirect", { port: node.port, opcode, contextId, payload }));
      return;
    }
    if (contextId === null) {
      this.#reply(client, oneWay("undelivered", { opcode }));
      return;
    }
    throw new UnavailableError(`Cannot handle ${opcode} request: Node is not running`, {
      reason: "node-not-running",
    });
  }
}
