/**
 * The built-in Node's actor: what it serves without a MASQ network (shutdown, descriptor,
 * connectionStatus, checkPassword, changePassword with the `newPassword` broadcast,
 * configuration, setConfiguration, crash with a crash point); every warning and error also goes
 * to all clients as `logBroadcast`; any other conversation gets UNKNOWN_ERROR, never silence.
 */
import {
  ConflictError,
  DomainError,
  errorText,
  ForbiddenError,
  InvalidError,
  type Logger,
  NotFoundError,
  UnavailableError,
} from "../../../core/mod.ts";
import { oneWay, payloadMessage, type UiMessage } from "../codec.ts";
import type { ClientId } from "../connection.ts";
import { masqErrorReply, unmarshalReply } from "../errors.ts";
import {
  type MasqHandlerTable,
  type MasqNodeOperations,
  type MasqRequest,
  nodeHandlers,
} from "../handlers.ts";
import { type ChangePasswordRequest, KNOWN_OPCODES } from "../schemas.ts";
import type { MasqTarget } from "../server.ts";
import { DEFAULT_CHAIN } from "../setup_params.ts";
import { nodeConfiguration } from "./configuration.ts";
import type { NodeStore } from "./node_store.ts";

/** Options for {@linkcode NodeActor}. */
export interface NodeActorOptions {
  /** The `--name value` arguments the Node was started with. */
  args: ReadonlyMap<string, string>;
  store: NodeStore;
  log: Logger;
  send(target: MasqTarget, text: string): void;
  /** Ends the process after the shutdown reply is out. */
  shutdown(client: ClientId): void;
  /** Ends the process as a crash (the `crash` message with `--crash-point message`). */
  crash(actor: string, message: string): void;
}

const U64 = /^\d{1,20}$/;
const U64_MAX = (1n << 64n) - 1n;

const SETTABLE: Record<string, (v: string) => boolean> = {
  "gas-price": (v) => U64.test(v) && BigInt(v) >= 1n && BigInt(v) <= U64_MAX,
  "start-block": (v) => U64.test(v) && BigInt(v) <= U64_MAX,
  "min-hops": (v) => /^[1-6]$/.test(v),
};

/** The built-in Node. */
export class NodeActor implements MasqNodeOperations {
  #o: NodeActorOptions;
  #table: MasqHandlerTable;
  #queue: Promise<void> = Promise.resolve();

  constructor(options: NodeActorOptions) {
    this.#o = options;
    this.#table = nodeHandlers(this);
  }

  /** Logs a warning and broadcasts it as `logBroadcast`. */
  warn(msg: string): void {
    this.#o.log.warn(msg);
    this.#o.send({ all: true }, oneWay("logBroadcast", { msg, logLevel: "Warn" }));
  }

  /** Logs an error and broadcasts it as `logBroadcast`. */
  error(msg: string): void {
    this.#o.log.error(msg);
    this.#o.send({ all: true }, oneWay("logBroadcast", { msg, logLevel: "Error" }));
  }

  /** Queues one inbound message. */
  dispatch(client: ClientId, message: UiMessage): void {
    this.#queue = this.#queue.then(() => this.#handle(client, message)).catch((error) => {
      this.#o.log.error("node work failed", { error: errorText(error) });
    });
  }

  async #handle(client: ClientId, message: UiMessage): Promise<void> {
    const { opcode, contextId } = message;
    const reply = (text: string) => this.#o.send({ client }, text);
    if (!("payload" in message.body)) {
      const text = `Cannot handle ${opcode} carrying an error in place of a payload`;
      if (contextId !== null) reply(unmarshalReply(opcode, contextId, text, ""));
      else this.warn(text);
      return;
    }
    const handler = this.#table.get(opcode);
    if (!handler) {
      const what = KNOWN_OPCODES.has(opcode) ? opcode : `unknown opcode ${JSON.stringify(opcode)}`;
      const text = `The built-in node does not provide ${what}: it runs without a MASQ network`;
      if (contextId === null) this.warn(text);
      else {
        const error = new UnavailableError(text, { reason: "not-provided" });
        reply(masqErrorReply(error, opcode, contextId, this.#o.log));
      }
      return;
    }
    try {
      await handler({ client, opcode, contextId, payload: message.body.payload, message });
    } catch (error) {
      if (error instanceof DomainError) {
        this.warn(`${opcode} from client ${client} failed: ${error.message}`);
      }
      if (contextId !== null) reply(masqErrorReply(error, opcode, contextId, this.#o.log));
    }
  }

  #reply(r: MasqRequest, payload: Record<string, unknown>): void {
    this.#o.send({ client: r.client }, payloadMessage(r.opcode, r.contextId, payload));
  }

  #arg(name: string): string | undefined {
    return this.#o.args.get(name);
  }

  /** `shutdown`: answers, then ends the process. */
  shutdown(r: MasqRequest): void {
    this.#o.log.info(`Received shutdown order from client ${r.client}`);
    if (r.contextId !== null) this.#reply(r, {});
    this.#o.shutdown(r.client);
  }

  /** `descriptor`: the node descriptor, when the mode and address make one. */
  descriptor(r: MasqRequest): void {
    const chain = this.#arg("chain") ?? DEFAULT_CHAIN;
    const key = this.#o.store.data.publicKey;
    const mode = this.#arg("neighborhood-mode") ?? "standard";
    const ip = this.#arg("ip");
    let descriptor: string | null = null;
    if (mode === "zero-hop") descriptor = `masq://${chain}:${key}@:`;
    else if (ip) descriptor = `masq://${chain}:${key}@${ip}:${this.#arg("clandestine-port") ?? ""}`;
    this.#reply(r, { nodeDescriptorOpt: descriptor });
  }

  /** `connectionStatus`: never connected (no MASQ network). */
  connectionStatus(r: MasqRequest): void {
    this.#reply(r, { stage: "NotConnected" });
  }

  /** `checkPassword`. */
  async checkPassword(r: MasqRequest, password: string | null): Promise<void> {
    this.#reply(r, { matches: await this.#o.store.passwordMatches(password) });
  }

  /** `changePassword`: sets the password and tells the other clients `newPassword`. */
  async changePassword(r: MasqRequest, request: ChangePasswordRequest): Promise<void> {
    const store = this.#o.store;
    const old = request.oldPasswordOpt ?? null;
    if (request.newPassword.length === 0) {
      throw new InvalidError("The new password must not be empty", { reason: "password" });
    }
    if (store.hasPassword && old === null) {
      throw new ConflictError("The database already has a password. You may only change it", {
        reason: "password",
      });
    }
    if (!(await store.passwordMatches(old))) {
      throw new ForbiddenError("Bad password; the old password does not match", {
        reason: "password",
      });
    }
    await store.setPassword(request.newPassword);
    this.#reply(r, {});
    this.#o.send({ allExcept: r.client }, oneWay("newPassword", {}));
  }

  /** `configuration`: the Node's settings (a given password must match). */
  async configuration(r: MasqRequest, password: string | null): Promise<void> {
    const store = this.#o.store;
    if (password !== null && !(await store.passwordMatches(password))) {
      throw new ForbiddenError("Bad password; try again", { reason: "password" });
    }
    this.#reply(r, nodeConfiguration(this.#o.args, store.data.config));
  }

  /** `setConfiguration`: one of the settable values. */
  async setConfiguration(r: MasqRequest, name: string, value: string): Promise<void> {
    const valid = SETTABLE[name];
    if (!valid) {
      throw new NotFoundError(`This parameter name is not known: ${JSON.stringify(name)}`, {
        reason: "unrecognized-parameter",
      });
    }
    if (!valid(value)) {
      throw new InvalidError(`${name}: cannot parse ${JSON.stringify(value)}`, {
        reason: "non-parsable",
      });
    }
    await this.#o.store.setConfig(name, value);
    this.#reply(r, {});
  }

  /** `crash`: ends the process as a crash when started with `--crash-point message`. */
  crash(_r: MasqRequest, actor: string, panicMessage: string): void {
    if (this.#arg("crash-point") !== "message") {
      this.#o.log.info("crash request ignored: not started with --crash-point message", { actor });
      return;
    }
    this.#o.crash(actor, panicMessage);
  }
}
