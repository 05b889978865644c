/**
 * Reconcile after a (re)start: brings the host in line with the stored state (the runtime's
 * containers, their running state, their bridge ports, the nft table) and names the drift found.
 */
import type { Logger } from "../../../core/mod.ts";
import type { IntervirtConfig } from "../config.ts";
import type { ContainerRuntime } from "./backends.ts";
import { ownedRuntimeNames } from "./host.ts";
import type { ContainerNetwork } from "./network.ts";
import type { ContainerDomainParts } from "./parts.ts";
import { containerName, type StoredContainer } from "./state.ts";
import type { ContainerStore } from "./store.ts";

/** Compares the host with the state and repairs what it can. */
export class Reconciler {
  readonly #config: IntervirtConfig;
  readonly #store: ContainerStore;
  readonly #network: ContainerNetwork;
  readonly #runtime: ContainerRuntime;
  readonly #log: Logger;

  constructor(parts: ContainerDomainParts) {
    this.#config = parts.config;
    this.#store = parts.store;
    this.#network = parts.network;
    this.#runtime = parts.backends.runtime;
    this.#log = parts.log;
  }

  /** Runs alone (exclusive gate); returns the drift found (nothing when the host is unusable). */
  run(): Promise<string[]> {
    if (this.#store.unavailable) return Promise.resolve([]);
    return this.#store.locked([], async () => {
      const drift: string[] = [];
      await this.#runtime.prepare();
      const containers = Object.values(this.#store.current.containers);
      if (containers.length === 0) return drift;
      if (await this.#network.ensure(() => this.#store.current)) {
        drift.push(
          `nft table ${this.#config.nft_table} did not match the stored state: re-applied`,
        );
      }
      for (const c of containers) await this.#container(c, drift);
      const known = new Set(containers.map((c) => this.#name(c.id)));
      const prefix = this.#config.name_prefix;
      for (const name of await ownedRuntimeNames(this.#runtime, prefix, this.#log)) {
        if (!known.has(name)) drift.push(`runtime container ${name} is not in the stored state`);
      }
      for (const d of drift) this.#log.warn("reconcile", { drift: d });
      return drift;
    }, true);
  }

  #name(id: string): string {
    return containerName(this.#config.name_prefix, id);
  }

  /** Checks one stored container: present, running as it should, on the bridge. */
  async #container(c: StoredContainer, drift: string[]): Promise<void> {
    const name = this.#name(c.id);
    const state = await this.#runtime.state(name);
    if (state === "missing") {
      drift.push(`container ${c.id} is missing from the runtime`);
      return;
    }
    if (c.running && state === "stopped") {
      drift.push(`container ${c.id} was stopped: started again`);
      try {
        await this.#runtime.start(name);
        if (!this.#runtime.configuresAddresses) await this.#network.configureAddresses(c, null);
      } catch (error) {
        drift.push(`container ${c.id} could not be started: ${(error as Error).message}`);
      }
    } else if (state === "running") {
      if (!c.running) drift.push(`container ${c.id} is running although it was stopped`);
      if (await this.#network.reattach(c.id)) {
        drift.push(`container ${c.id} was detached from ${this.#config.bridge}: re-attached`);
      }
    }
  }
}
