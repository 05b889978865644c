/**
 * The built-in Node's handler table: what it serves without a MASQ network (shutdown,
 * descriptor, connectionStatus, checkPassword, changePassword with the `newPassword` broadcast,
 * configuration, setConfiguration, crash with a crash point); every warning and error also goes
 * to all clients as `logBroadcast`; any other conversation gets UNKNOWN_ERROR, never silence.
 */
import { errorText, type Logger } from "../../core/mod.ts";
import { ErrorCode, KNOWN_OPCODES } from "./codes.ts";
import { errorMessage, oneWay, payloadMessage, type UiMessage } from "./envelope.ts";
import { errorReply, ProtocolError } from "./errors.ts";
import { HandlerTable, type Request } from "./handler_table.ts";
import type { NodeStore } from "./node_store.ts";
import {
  changePasswordRequest,
  crashRequest,
  emptyRequest,
  parsePayload,
  passwordOptRequest,
  setConfigurationRequest,
} from "./schemas.ts";
import { DEFAULT_CHAIN } from "./setup_params.ts";
import type { ClientId, Target } from "./ui_server.ts";

/** Options for {@linkcode NodeActor}. */
export interface NodeActorOptions {
  /** The `--name value` arguments the Node was started with. */
  args: ReadonlyMap<string, string>;
  store: NodeStore;
  log: Logger;
  send(target: Target, text: string): void;
  /** Ends the process after the shutdown reply is out. */
  shutdown(client: ClientId): void;
  /** Ends the process as a crash (the `crash` message with `--crash-point message`). */
  crash(actor: string, message: string): void;
}

const U64 = /^\d{1,20}$/;
const U64_MAX = (1n << 64n) - 1n;

function splitNumbers(value: string, names: readonly string[]): Record<string, bigint> {
  const parts = value.split("|");
  return Object.fromEntries(names.map((n, i) => [n, BigInt(parts[i] ?? "0")]));
}

const SETTABLE: Record<string, (v: string) => boolean> = {
  "gas-price": (v) => U64.test(v) && BigInt(v) >= 1n && BigInt(v) <= U64_MAX,
  "start-block": (v) => U64.test(v) && BigInt(v) <= U64_MAX,
  "min-hops": (v) => /^[1-6]$/.test(v),
};

/** The built-in Node. */
export class NodeActor {
  #o: NodeActorOptions;
  #table = new HandlerTable();
  #queue: Promise<void> = Promise.resolve();

  constructor(options: NodeActorOptions) {
    this.#o = options;
    this.#table
      .register("shutdown", (r) => this.#shutdown(r))
      .register("descriptor", (r) => this.#descriptor(r))
      .register("connectionStatus", (r) => this.#connectionStatus(r))
      .register("checkPassword", (r) => this.#checkPassword(r))
      .register("changePassword", (r) => this.#changePassword(r))
      .register("configuration", (r) => this.#configuration(r))
      .register("setConfiguration", (r) => this.#setConfiguration(r))
      .register("crash", (r) => this.#crash(r));
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
      if (contextId !== null) {
        reply(errorMessage(opcode, contextId, ErrorCode.UNMARSHAL_ERROR, text));
      } else this.warn(text);
      return;
    }
    const handler = this.#table.get(opcode);
    if (!handler) {
      const what = KNOWN_OPCODES.has(opcode) ? opcode : `unknown opcode ${JSON.stringify(opcode)}`;
      const text = `The built-in node does not provide ${what}: it runs without a MASQ network`;
      if (contextId !== null) {
        reply(
          errorReply(
            new ProtocolError(ErrorCode.UNKNOWN_ERROR, text),
            opcode,
            contextId,
            this.#o.log,
          ),
        );
      } else {
        this.warn(text);
      }
      return;
    }
    try {
      await handler({ client, opcode, contextId, payload: message.body.payload, message });
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.warn(`${opcode} from client ${client} failed: ${error.message}`);
      }
      if (contextId !== null) reply(errorReply(error, opcode, contextId, this.#o.log));
    }
  }

  #reply(r: Request, payload: Record<string, unknown>): void {
    this.#o.send({ client: r.client }, payloadMessage(r.opcode, r.contextId, payload));
  }

  #arg(name: string): string | undefined {
    return this.#o.args.get(name);
  }

  #shutdown(r: Request): void {
    parsePayload(emptyRequest, r.opcode, r.payload);
    this.#o.log.info(`Received shutdown order from client ${r.client}`);
    if (r.contextId !== null) this.#reply(r, {});
    this.#o.shutdown(r.client);
  }

  #descriptor(r: Request): void {
    parsePayload(emptyRequest, r.opcode, r.payload);
    const chain = this.#arg("chain") ?? DEFAULT_CHAIN;
    const key = this.#o.store.data.publicKey;
    const mode = this.#arg("neighborhood-mode") ?? "standard";
    const ip = this.#arg("ip");
    let descriptor: string | null = null;
    if (mode === "zero-hop") descriptor = `masq://${chain}:${key}@:`;
    else if (ip) descriptor = `masq://${chain}:${key}@${ip}:${this.#arg("clandestine-port") ?? ""}`;
    this.#reply(r, { nodeDescriptorOpt: descriptor });
  }

  #connectionStatus(r: Request): void {
    parsePayload(emptyRequest, r.opcode, r.payload);
    this.#reply(r, { stage: "NotConnected" });
  }

  async #checkPassword(r: Request): Promise<void> {
    const { dbPasswordOpt } = parsePayload(passwordOptRequest, r.opcode, r.payload);
    this.#reply(r, { matches: await this.#o.store.passwordMatches(dbPasswordOpt ?? null) });
  }

  async #changePassword(r: Request): Promise<void> {
    const request = parsePayload(changePasswordRequest, r.opcode, r.payload);
    const store = this.#o.store;
    const old = request.oldPasswordOpt ?? null;
    if (request.newPassword.length === 0) {
      throw new ProtocolError(
        ErrorCode.CONFIGURATOR_WRITE_ERROR,
        "The new password must not be empty",
      );
    }
    if (store.hasPassword && old === null) {
      throw new ProtocolError(
        ErrorCode.CONFIGURATOR_WRITE_ERROR,
        "The database already has a password. You may only change it",
      );
    }
    if (!(await store.passwordMatches(old))) {
      throw new ProtocolError(
        ErrorCode.CONFIGURATOR_WRITE_ERROR,
        "Bad password; the old password does not match",
      );
    }
    await store.setPassword(request.newPassword);
    this.#reply(r, {});
    this.#o.send({ allExcept: r.client }, oneWay("newPassword", {}));
  }

  async #configuration(r: Request): Promise<void> {
    const { dbPasswordOpt } = parsePayload(passwordOptRequest, r.opcode, r.payload);
    const store = this.#o.store;
    if (dbPasswordOpt !== undefined && dbPasswordOpt !== null) {
      if (!(await store.passwordMatches(dbPasswordOpt))) {
        throw new ProtocolError(ErrorCode.CONFIGURATOR_READ_ERROR, "Bad password; try again");
      }
    }
    const cfg = store.data.config;
    const gasPrice = cfg["gas-price"] ?? this.#arg("gas-price") ?? "1";
    const startBlock = cfg["start-block"];
    const thresholds = this.#arg("payment-thresholds") ??
      "1000000000|1200|1200|500000000|21600|500000000";
    const ratePack = this.#arg("rate-pack") ?? "53844|53844|107688|107688";
    const scans = this.#arg("scan-intervals") ?? "600|600|600";
    this.#reply(r, {
      blockchainServiceUrlOpt: this.#arg("blockchain-service-url") ?? null,
      chainName: this.#arg("chain") ?? DEFAULT_CHAIN,
      clandestinePort: Number(this.#arg("clandestine-port") ?? 0),
      currentSchemaVersion: "10",
      earningWalletAddressOpt: this.#arg("earning-wallet") ?? null,
      gasPrice: BigInt(gasPrice),
      maxBlockCount: null,
      neighborhoodMode: this.#arg("neighborhood-mode") ?? "standard",
      portMappingProtocol: this.#arg("mapping-protocol") ?? null,
      startBlock: startBlock === undefined ? null : BigInt(startBlock),
      consumingWalletPrivateKeyOpt: null,
      consumingWalletAddressOpt: null,
      pastNeighbors: [],
      paymentThresholds: splitNumbers(thresholds, [
        "debtThresholdGwei",
        "maturityThresholdSec",
        "paymentGracePeriodSec",
        "permanentDebtAllowedGwei",
        "thresholdIntervalSec",
        "unbanBelowGwei",
      ]),
      ratePack: splitNumbers(ratePack, [
        "routingByteRate",
        "routingServiceRate",
        "exitByteRate",
        "exitServiceRate",
      ]),
      scanIntervals: splitNumbers(scans, ["pendingPayableSec", "payableSec", "receivableSec"]),
    });
  }

  async #setConfiguration(r: Request): Promise<void> {
    const { name, value } = parsePayload(setConfigurationRequest, r.opcode, r.payload);
    const valid = SETTABLE[name];
    if (!valid) {
      throw new ProtocolError(
        ErrorCode.UNRECOGNIZED_PARAMETER,
        `This parameter name is not known: ${JSON.stringify(name)}`,
      );
    }
    if (!valid(value)) {
      throw new ProtocolError(
        ErrorCode.NON_PARSABLE_VALUE,
        `${name}: cannot parse ${JSON.stringify(value)}`,
      );
    }
    await this.#o.store.setConfig(name, value);
    this.#reply(r, {});
  }

  #crash(r: Request): void {
    const { actor, panicMessage } = parsePayload(crashRequest, r.opcode, r.payload);
    if (this.#arg("crash-point") !== "message") {
      this.#o.log.info("crash request ignored: not started with --crash-point message", { actor });
      return;
    }
    this.#o.crash(actor, panicMessage);
  }
}
