/** The host commands: wipe (every container and rule the agent made), update, shutdown, reboot. */
import { FailedError, ForbiddenError, type Logger } from "../../../core/mod.ts";
import type { IntervirtConfig } from "../config.ts";
import { GUEST_COMMAND } from "../errors.ts";
import type { ContainerRuntime, IntervirtHost } from "./backends.ts";
import type { ContainerNetwork } from "./network.ts";
import type { ContainerDomainParts } from "./parts.ts";
import { containerName, forgetContainer, type ProgressFn, type StoredContainer } from "./state.ts";
import type { ContainerStore } from "./store.ts";

const HOST_STEP_TIMEOUT_MS = 30 * 60_000;
const POWER_TIMEOUT_MS = 60_000;
const WIPE_CONCURRENCY = 4;

/** A configured command line as argv (split on spaces, no shell). */
export function splitCommand(line: string): string[] {
  return line.trim().split(/\s+/).filter((s) => s !== "");
}

/** Runtime containers carrying the agent's prefix (none when the runtime cannot list them). */
export async function ownedRuntimeNames(
  runtime: ContainerRuntime,
  prefix: string,
  log: Logger,
): Promise<string[]> {
  try {
    return (await runtime.list()).filter((n) => n.startsWith(prefix));
  } catch (error) {
    log.warn("cannot list runtime containers", { error });
    return [];
  }
}

/** Wipe, update and the power commands; each runs alone (exclusive gate). */
export class HostOperations {
  readonly #config: IntervirtConfig;
  readonly #store: ContainerStore;
  readonly #network: ContainerNetwork;
  readonly #runtime: ContainerRuntime;
  readonly #host: IntervirtHost;
  readonly #log: Logger;

  constructor(parts: ContainerDomainParts) {
    this.#config = parts.config;
    this.#store = parts.store;
    this.#network = parts.network;
    this.#runtime = parts.backends.runtime;
    this.#host = parts.backends.host;
    this.#log = parts.log;
  }

  #name(id: string): string {
    return containerName(this.#config.name_prefix, id);
  }

  /** Command wipe: removes every container and rule the agent made (streams progress). */
  wipe(progress: ProgressFn): Promise<void> {
    this.#store.require();
    return this.#store.locked([], async () => {
      const prefix = this.#config.name_prefix;
      const names = new Map<string, string>();
      for (const id of Object.keys(this.#store.current.containers)) names.set(this.#name(id), id);
      for (const name of await ownedRuntimeNames(this.#runtime, prefix, this.#log)) {
        if (!names.has(name)) names.set(name, name.slice(prefix.length));
      }
      const failed = await this.#removeAll(names, progress);
      if (failed.length > 0) {
        if (this.#network.ready) await this.#network.apply(this.#store.current);
        throw new FailedError(`Wipe could not remove container(s): ${failed.join(", ")}`, {
          reason: GUEST_COMMAND,
        });
      }
      await this.#store.commit((s) => {
        s.containers = {};
        s.connections = [];
        s.forwards = [];
      }, { netfilter: false });
      await this.#network.tearDown();
    }, true);
  }

  /** Removes the runtime containers `names` (name → id) a few at a time; returns the failed ids. */
  async #removeAll(names: Map<string, string>, progress: ProgressFn): Promise<string[]> {
    const failed: string[] = [];
    const queue = [...names];
    let started = 0;
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [name, id] = next;
        progress(started / names.size, `Removing container ${id}`);
        started++;
        try {
          await this.#runtime.stop(name, 0);
          await this.#runtime.destroy(name);
          if (this.#store.current.containers[id]) {
            // The table goes as a whole at the end; only the record changes here.
            await this.#store.commit((s) => forgetContainer(s, id), { netfilter: false });
          }
        } catch (error) {
          this.#log.error("wipe could not remove a container", { name, error });
          failed.push(id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(WIPE_CONCURRENCY, names.size) }, worker));
    return failed;
  }

  #hostCommandsAllowed(command: string): void {
    if (!this.#config.allow_host_commands) {
      throw new ForbiddenError(
        `The ${command} command is disabled: set intervirt.allow_host_commands = true to let the agent ${
          command === "update" ? "upgrade" : command
        } the host`,
      );
    }
  }

  /** Command update: host steps, then each container's steps and a restart (streams progress). */
  update(progress: ProgressFn): Promise<void> {
    this.#hostCommandsAllowed("update");
    this.#store.require();
    return this.#store.locked([], async () => {
      const containers = Object.values(this.#store.current.containers);
      const steps = this.#config.update_steps.map(splitCommand).filter((s) => s.length > 0);
      const total = steps.length + containers.length;
      let done = 0;
      for (const argv of steps) {
        progress(done / total, `Running ${argv.join(" ")}...`);
        await this.#host.run(argv, HOST_STEP_TIMEOUT_MS);
        done++;
      }
      for (const c of containers) {
        progress(done / total, `Updating container ${c.id}...`);
        await this.#updateContainer(
          c,
          () => progress(done / total, `Restarting container ${c.id}...`),
        );
        done++;
      }
    }, true);
  }

  /** Runs the container update steps inside a running `c`, then restarts it. */
  async #updateContainer(c: StoredContainer, restarting: () => void): Promise<void> {
    const name = this.#name(c.id);
    if (await this.#runtime.state(name) !== "running") return;
    for (const line of this.#config.container_update_steps) {
      const argv = splitCommand(line);
      if (argv.length === 0) continue;
      const r = await this.#runtime.exec(name, argv, HOST_STEP_TIMEOUT_MS);
      if (r.code === 127 || r.code === 126) break;
      if (r.code !== 0) {
        throw new FailedError(
          `Updating container ${c.id} failed: ${argv.join(" ")} exited with ${r.code}`,
          { reason: GUEST_COMMAND },
        );
      }
    }
    restarting();
    await this.#runtime.stop(name, this.#config.stop_grace_seconds);
    await this.#runtime.start(name);
    if (!this.#runtime.configuresAddresses) await this.#network.configureAddresses(c, null);
  }

  /**
   * Command shutdown / reboot: stops every container (they restart with the agent), then returns
   * the host command to run once the reply has been sent.
   */
  power(command: "shutdown" | "reboot"): Promise<() => Promise<void>> {
    this.#hostCommandsAllowed(command);
    this.#store.require();
    return this.#store.locked([], async () => {
      for (const c of Object.values(this.#store.current.containers)) {
        const name = this.#name(c.id);
        if (await this.#runtime.state(name) === "running") {
          await this.#runtime.stop(name, this.#config.stop_grace_seconds);
        }
      }
      const argv = splitCommand(
        command === "shutdown" ? this.#config.shutdown_command : this.#config.reboot_command,
      );
      return async () => {
        if (argv.length > 0) await this.#host.run(argv, POWER_TIMEOUT_MS);
      };
    }, true);
  }
}
