/**
 * The agent's container records and how they change: the locks that serialise operations, the
 * durable document, and the commit that writes a new state and updates the nft table side by side.
 */
import { type JsonDocument, NotFoundError, UnavailableError } from "../../../core/mod.ts";
import { Gate, KeyedLock } from "./lock.ts";
import type { ContainerNetwork } from "./network.ts";
import { cloneState, type IntervirtState, type StoredContainer } from "./state.ts";

/** Options for {@linkcode ContainerStore}. */
export interface ContainerStoreOptions {
  document: JsonDocument<IntervirtState>;
  /** Updated on every commit once it is set up. */
  network: ContainerNetwork;
  /** What the host lacks (root, tools), or null when the agent can manage containers. */
  unavailable: string | null;
  /** Called after each committed change. */
  onChange?: () => void;
}

/** The records, their locks and their commits. */
export class ContainerStore {
  readonly #doc: JsonDocument<IntervirtState>;
  readonly #network: ContainerNetwork;
  readonly #unavailable: string | null;
  readonly #onChange: () => void;
  readonly #keys = new KeyedLock();
  readonly #gate = new Gate();
  readonly #commitLock = new KeyedLock();
  #state: IntervirtState;

  constructor(options: ContainerStoreOptions) {
    this.#doc = options.document;
    this.#network = options.network;
    this.#unavailable = options.unavailable;
    this.#onChange = options.onChange ?? (() => {});
    this.#state = cloneState(options.document.value);
  }

  /** The current state itself (do not change it: use {@linkcode commit}). */
  get current(): IntervirtState {
    return this.#state;
  }

  /** Why the agent cannot manage containers here, or null. */
  get unavailable(): string | null {
    return this.#unavailable;
  }

  /** Throws when the host cannot manage containers. */
  require(): void {
    if (this.#unavailable) {
      throw new UnavailableError(
        `Cannot manage containers on this host: missing ${this.#unavailable}`,
      );
    }
  }

  /**
   * Runs `fn` holding `keys` (container ids, addresses, forwards) under the gate: shared, or
   * `exclusive` for operations on every container.
   */
  async locked<T>(keys: string[], fn: () => Promise<T>, exclusive = false): Promise<T> {
    const gate = await this.#gate.acquire(exclusive);
    try {
      const release = await this.#keys.acquire(keys);
      try {
        return await fn();
      } finally {
        release();
      }
    } finally {
      gate();
    }
  }

  /** The record of `id`; throws when there is none. */
  get(id: string): StoredContainer {
    const c = this.#state.containers[id];
    if (!c) throw new NotFoundError(`Container ${id} doesn't exist`);
    return c;
  }

  /**
   * Applies `mutate` to the current state: the nft update and the durable write run side by side
   * and both finish before this resolves; a failed nft update restores the previous state.
   */
  async commit(
    mutate: (state: IntervirtState) => void,
    options: { netfilter?: boolean } = {},
  ): Promise<void> {
    let written: Promise<void>;
    const release = await this.#commitLock.acquire(["commit"]);
    try {
      const previous = this.#state;
      const next = cloneState(previous);
      mutate(next);
      next.connections.sort((x, y) => (x.join("|") < y.join("|") ? -1 : 1));
      written = this.#doc.write(next);
      if (this.#network.ready && (options.netfilter ?? true)) {
        try {
          await this.#network.apply(next);
        } catch (error) {
          await written.catch(() => {});
          await this.#doc.write(previous);
          throw error;
        }
      }
      this.#state = next;
    } finally {
      release();
    }
    await written;
    this.#onChange();
  }
}
