/**
 * The one handler table every protocol builds on: a map from message type (a name or a numeric
 * code) to the protocol's own handler type, that refuses a second registration of the same type.
 * A duplicate is a programming error and throws at startup, never at request time.
 */

/** Message type → handler; `H` is the protocol's handler type, `K` its message-type key. */
export class HandlerTable<K extends string | number, H> {
  readonly #entries = new Map<K, H>();
  readonly #label: string;

  /** `label` names the table in the duplicate-registration error (e.g. "sozu order"). */
  constructor(label = "message") {
    this.#label = label;
  }

  /** Adds the handler of `type`; throws when `type` already has one. */
  register(type: K, handler: H): this {
    if (this.#entries.has(type)) {
      throw new Error(`Duplicate ${this.#label} handler: ${JSON.stringify(type)}`);
    }
    this.#entries.set(type, handler);
    return this;
  }

  /** The handler of `type`, or undefined. */
  get(type: K): H | undefined {
    return this.#entries.get(type);
  }

  /** Whether `type` has a handler. */
  has(type: K): boolean {
    return this.#entries.has(type);
  }

  /** Every registered type, in registration order. */
  types(): K[] {
    return [...this.#entries.keys()];
  }
}
