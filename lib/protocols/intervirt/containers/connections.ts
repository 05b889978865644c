/** The network requests: Connect, Disconnect, SetInternetAccess and the port forwards. */
import { ConflictError, InvalidError, NotFoundError } from "../../../core/mod.ts";
import type { AddForwardRequest, RemoveForwardRequest } from "../schemas.ts";
import type { ContainerDomainParts } from "./parts.ts";
import { checkExternalPort } from "./ports.ts";
import { type IntervirtState, isConnected, pairOf, type StoredForward } from "./state.ts";

/** Connects pairs, toggles internet access and manages port forwards. */
export class ConnectionOperations {
  readonly #p: ContainerDomainParts;

  constructor(parts: ContainerDomainParts) {
    this.#p = parts;
  }

  /** Sets up the network, then commits `mutate` (which the nft table follows). */
  async #change(mutate: (state: IntervirtState) => void): Promise<void> {
    await this.#p.network.ensure(() => this.#p.store.current);
    await this.#p.store.commit(mutate);
  }

  #pairCheck(a: string, b: string): void {
    if (a === b) {
      throw new InvalidError(`Invalid field "id2": it names the same container as "id1" (${a})`);
    }
    const missing = [a, b].filter((id) => !this.#p.store.current.containers[id]);
    if (missing.length === 2) throw new NotFoundError(`Container ${a} and ${b} don't exist`);
    if (missing.length === 1) throw new NotFoundError(`Container ${missing[0]} doesn't exist`);
  }

  /** Connect (idempotent). */
  connect(a: string, b: string): Promise<void> {
    this.#p.store.require();
    return this.#p.store.locked([a, b], async () => {
      this.#pairCheck(a, b);
      if (isConnected(this.#p.store.current, a, b)) return;
      await this.#change((s) => {
        s.connections.push(pairOf(a, b));
      });
    });
  }

  /** Disconnect (idempotent: an unconnected pair stays unconnected). */
  disconnect(a: string, b: string): Promise<void> {
    this.#p.store.require();
    return this.#p.store.locked([a, b], async () => {
      this.#pairCheck(a, b);
      if (!isConnected(this.#p.store.current, a, b)) return;
      const [x, y] = pairOf(a, b);
      await this.#change((s) => {
        s.connections = s.connections.filter(([p, q]) => !(p === x && q === y));
      });
    });
  }

  /** SetInternetAccess. */
  setInternet(id: string, enabled: boolean): Promise<void> {
    this.#p.store.require();
    return this.#p.store.locked([id], async () => {
      const c = this.#p.store.get(id);
      if (c.internet === enabled) return;
      await this.#change((s) => {
        s.containers[id]!.internet = enabled;
      });
    });
  }

  /** AddPortForwarding. */
  addForward(r: AddForwardRequest): Promise<void> {
    this.#p.store.require();
    const protocol = r.protocol as StoredForward["protocol"];
    return this.#p.store.locked([r.id, `fwd:${protocol}:${r.externalPort}`], async () => {
      this.#p.store.get(r.id);
      const existing = this.#p.store.current.forwards.find((f) =>
        f.protocol === protocol && f.externalPort === r.externalPort
      );
      if (existing) {
        throw new ConflictError(
          `Port forwarding ${protocol}/${r.externalPort} already exists (to ${existing.id}:${existing.internalPort})`,
        );
      }
      await checkExternalPort(
        {
          reserved: this.#p.config.reserved_ports,
          agentListeners: this.#p.agentListeners,
          hostListeners: (protocol, port) => this.#p.backends.host.listeners(protocol, port),
        },
        protocol,
        r.externalPort,
      );
      const { externalPort, internalPort } = r;
      await this.#change((s) => {
        s.forwards.push({ protocol, externalPort, id: r.id, internalPort });
      });
    });
  }

  /** RemovePortForwarding. */
  removeForward(r: RemoveForwardRequest): Promise<void> {
    this.#p.store.require();
    const protocol = r.protocol as StoredForward["protocol"];
    return this.#p.store.locked([`fwd:${protocol}:${r.externalPort}`], async () => {
      const match = (f: { protocol: string; externalPort: number }) =>
        f.protocol === protocol && f.externalPort === r.externalPort;
      if (!this.#p.store.current.forwards.some(match)) {
        throw new NotFoundError(`Port forwarding ${protocol}/${r.externalPort} doesn't exist`);
      }
      await this.#change((s) => {
        s.forwards = s.forwards.filter((f) => !match(f));
      });
    });
  }
}
