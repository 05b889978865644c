/**
 * Reconcile after a (re)start: brings the host in line with the stored state (the runtime's
 * containers, their running state, their bridge ports, the nft table) and names the drift found.
 */
import { ownedRuntimeNames } from "./host.ts";
import type { ContainerDomainParts } from "./parts.ts";
import { containerName, type StoredContainer } from "./state.ts";

/** Compares the host with the state and repairs what it can. */
export class Reconciler {
  readonly #p: ContainerDomainParts;

  constructor(parts: ContainerDomainParts) {
    this.#p = parts;
  }

  /** Runs alone (exclusive gate); returns the drift found (nothing when the host is unusable). */
  run(): Promise<string[]> {
    if (this.#p.store.unavailable) return Promise.resolve([]);
    return this.#p.store.locked([], async () => {
      const drift: string[] = [];
      await this.#p.backends.runtime.prepare();
      const containers = Object.values(this.#p.store.current.containers);
      if (containers.length === 0) return drift;
      if (await this.#p.network.ensure(() => this.#p.store.current)) {
        drift.push(
          `nft table ${this.#p.config.nft_table} did not match the stored state: re-applied`,
        );
      }
      for (const c of containers) await this.#container(c, drift);
      const known = new Set(containers.map((c) => this.#name(c.id)));
      const prefix = this.#p.config.name_prefix;
      for (const name of await ownedRuntimeNames(this.#p.backends.runtime, prefix, this.#p.log)) {
        if (!known.has(name)) drift.push(`runtime container ${name} is not in the stored state`);
      }
      for (const d of drift) this.#p.log.warn("reconcile", { drift: d });
      return drift;
    }, true);
  }

  #name(id: string): string {
    return containerName(this.#p.config.name_prefix, id);
  }

  /** Checks one stored container: present, running as it should, on the bridge. */
  async #container(c: StoredContainer, drift: string[]): Promise<void> {
    const name = this.#name(c.id);
    const state = await this.#p.backends.runtime.state(name);
    if (state === "missing") {
      drift.push(`container ${c.id} is missing from the runtime`);
      return;
    }
    if (c.running && state === "stopped") {
      drift.push(`container ${c.id} was stopped: started again`);
      try {
        await this.#p.backends.runtime.start(name);
        if (!this.#p.backends.runtime.configuresAddresses) {
          await this.#p.network.configureAddresses(c, null);
        }
      } catch (error) {
        drift.push(`container ${c.id} could not be started: ${(error as Error).message}`);
      }
    } else if (state === "running") {
      if (!c.running) drift.push(`container ${c.id} is running although it was stopped`);
      if (await this.#p.network.reattach(c.id)) {
        drift.push(`container ${c.id} was detached from ${this.#p.config.bridge}: re-attached`);
      }
    }
  }
}
