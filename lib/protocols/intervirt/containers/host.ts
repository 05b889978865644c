/** The host commands: wipe (every container and rule the agent made), update, shutdown, reboot. */
import { FailedError, ForbiddenError, type Logger } from "../../../core/mod.ts";
import { GUEST_COMMAND } from "../errors.ts";
import type { ContainerRuntime } from "./backends.ts";
import type { ContainerDomainParts } from "./parts.ts";
import { containerName, forgetContainer, type ProgressFn, type StoredContainer } from "./state.ts";

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
  readonly #p: ContainerDomainParts;

  constructor(parts: ContainerDomainParts) {
    this.#p = parts;
  }

  #name(id: string): string {
    return containerName(this.#p.config.name_prefix, id);
  }

  /** Command wipe: removes every container and rule the agent made (streams progress). */
  wipe(progress: ProgressFn): Promise<void> {
    this.#p.store.require();
    return this.#p.store.locked([], async () => {
      const prefix = this.#p.config.name_prefix;
      const names = new Map<string, string>();
      for (const id of Object.keys(this.#p.store.current.containers)) names.set(this.#name(id), id);
      for (const name of await ownedRuntimeNames(this.#p.backends.runtime, prefix, this.#p.log)) {
        if (!names.has(name)) names.set(name, name.slice(prefix.length));
      }
      const failed = await this.#removeAll(names, progress);
      if (failed.length > 0) {
        if (this.#p.network.ready) await this.#p.network.apply(this.#p.store.current);
        throw new FailedError(`Wipe could not remove container(s): ${failed.join(", ")}`, {
          reason: GUEST_COMMAND,
        });
      }
      await this.#p.store.commit((s) => {
        s.containers = {};
        s.connections = [];
        s.forwards = [];
      }, { netfilter: false });
      await this.#p.network.tearDown();
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
          await this.#p.backends.runtime.stop(name, 0);
          await this.#p.backends.runtime.destroy(name);
          if (this.#p.store.current.containers[id]) {
            // The table goes as a whole at the end; only the record changes here.
            await this.#p.store.commit((s) => forgetContainer(s, id), { netfilter: false });
          }
        } catch (error) {
          this.#p.log.error("wipe could not remove a container", { name, error });
          failed.push(id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(WIPE_CONCURRENCY, names.size) }, worker));
    return failed;
  }

  #hostCommandsAllowed(command: string): void {
    if (!this.#p.config.allow_host_commands) {
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
    this.#p.store.require();
    return this.#p.store.locked([], async () => {
      const containers = Object.values(this.#p.store.current.containers);
      const steps = this.#p.config.update_steps.map(splitCommand).filter((s) => s.length > 0);
      const total = steps.length + containers.length;
      let done = 0;
      for (const argv of steps) {
        progress(done / total, `Running ${argv.join(" ")}...`);
        await this.#p.backends.host.run(argv, HOST_STEP_TIMEOUT_MS);
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
    if (await this.#p.backends.runtime.state(name) !== "running") return;
    for (const line of this.#p.config.container_update_steps) {
      const argv = splitCommand(line);
      if (argv.length === 0) continue;
      const r = await this.#p.backends.runtime.exec(name, argv, HOST_STEP_TIMEOUT_MS);
      if (r.code === 127 || r.code === 126) break;
      if (r.code !== 0) {
        throw new FailedError(
          `Updating container ${c.id} failed: ${argv.join(" ")} exited with ${r.code}`,
          { reason: GUEST_COMMAND },
        );
      }
    }
    restarting();
    await this.#p.backends.runtime.stop(name, this.#p.config.stop_grace_seconds);
    await this.#p.backends.runtime.start(name);
    if (!this.#p.backends.runtime.configuresAddresses) {
      await this.#p.network.configureAddresses(c, null);
    }
  }

  /**
   * Command shutdown / reboot: stops every container (they restart with the agent), then returns
   * the host command to run once the reply has been sent.
   */
  power(command: "shutdown" | "reboot"): Promise<() => Promise<void>> {
    this.#hostCommandsAllowed(command);
    this.#p.store.require();
    return this.#p.store.locked([], async () => {
      for (const c of Object.values(this.#p.store.current.containers)) {
        const name = this.#name(c.id);
        if (await this.#p.backends.runtime.state(name) === "running") {
          await this.#p.backends.runtime.stop(name, this.#p.config.stop_grace_seconds);
        }
      }
      const argv = splitCommand(
        command === "shutdown" ? this.#p.config.shutdown_command : this.#p.config.reboot_command,
      );
      return async () => {
        if (argv.length > 0) await this.#p.backends.host.run(argv, POWER_TIMEOUT_MS);
      };
    }, true);
  }
}
