/** The container requests: AddContainer, RemoveContainer, Start/StopContainer, new addresses. */
import { join } from "node:path";
import { ConflictError, InvalidError, NotFoundError } from "../../../core/mod.ts";
import type { AddContainerRequest } from "../schemas.ts";
import type { ImageSource } from "./backends.ts";
import { sameAddress } from "./net.ts";
import type { ContainerDomainParts } from "./parts.ts";
import { containerName, forgetContainer, type ProgressFn, type StoredContainer } from "./state.ts";

/** Adds, removes, starts, stops and re-addresses containers. */
export class ContainerOperations {
  readonly #p: ContainerDomainParts;

  constructor(parts: ContainerDomainParts) {
    this.#p = parts;
  }

  #name(id: string): string {
    return containerName(this.#p.config.name_prefix, id);
  }

  #ensureNetwork(): Promise<boolean> {
    return this.#p.network.ensure(() => this.#p.store.current);
  }

  /** A local tarball, else a `distribution/release` download; throws when neither. */
  async #resolveImage(image: string): Promise<ImageSource> {
    const local = await this.#p.backends.images.find(image);
    if (local) return local;
    const parts = image.split("/");
    if (parts.length === 2) {
      return { kind: "download", distribution: parts[0]!, release: parts[1]! };
    }
    throw new NotFoundError(
      `Image ${image} not found: no ${
        join(this.#p.backends.images.dir, image)
      }.tar.* and not a "distribution/release" name`,
    );
  }

  /** Throws when `ip` cannot work as a container's `family` address (request field `field`). */
  #usable(family: "ipv4" | "ipv6", ip: string, field: string): void {
    const why = this.#p.network.unusable(family, ip);
    if (why) throw new InvalidError(`Invalid field "${field}": ${ip} ${why}`);
  }

  /** Throws when another container already uses `value`. */
  #conflict(kind: "ipv4" | "ipv6" | "mac", value: string, except: string): void {
    for (const c of Object.values(this.#p.store.current.containers)) {
      if (c.id === except) continue;
      const same = kind === "mac" ? c.mac === value : sameAddress(c[kind], value);
      if (same) {
        throw new InvalidError(
          `Invalid field "${kind}": ${value} is already used by container ${c.id}`,
        );
      }
    }
  }

  /** AddContainer. */
  add(r: AddContainerRequest): Promise<void> {
    this.#p.store.require();
    const keys = [r.id, `ip4:${r.ipv4}`, `ip6:${r.ipv6.toLowerCase()}`, `mac:${r.mac}`];
    return this.#p.store.locked(keys, async () => {
      if (this.#p.store.current.containers[r.id]) {
        throw new ConflictError(`Container ${r.id} already exists`);
      }
      this.#usable("ipv4", r.ipv4, "ipv4");
      this.#conflict("ipv4", r.ipv4, r.id);
      this.#usable("ipv6", r.ipv6, "ipv6");
      this.#conflict("ipv6", r.ipv6, r.id);
      this.#conflict("mac", r.mac, r.id);
      const image = await this.#resolveImage(r.image);
      await this.#ensureNetwork();
      const { id, ipv4, ipv6, mac, internet } = r;
      const c: StoredContainer = { id, ipv4, ipv6, mac, internet, image: r.image, running: false };
      await this.#removeLeftover(this.#name(r.id));
      await this.#p.backends.runtime.create(this.#p.network.spec(c), image);
      await this.#p.network.routeOutside(c);
      await this.#p.store.commit((s) => {
        s.containers[r.id] = c;
      });
    });
  }

  /** Removes a runtime container of that name the state does not know (a crashed add). */
  async #removeLeftover(name: string): Promise<void> {
    if (await this.#p.backends.runtime.state(name) === "missing") return;
    this.#p.log.warn("removing a leftover container before re-creating it", { name });
    await this.#p.backends.runtime.stop(name, 0);
    await this.#p.backends.runtime.destroy(name);
  }

  /** RemoveContainer (streams progress). */
  remove(id: string, progress: ProgressFn): Promise<void> {
    this.#p.store.require();
    return this.#p.store.locked([id], async () => {
      this.#p.store.get(id);
      const name = this.#name(id);
      if (await this.#p.backends.runtime.state(name) === "running") {
        progress(0.3, `Shutting down container ${id}...`);
        await this.#p.backends.runtime.stop(name, this.#p.config.stop_grace_seconds);
      }
      progress(0.7, `Removing container ${id}...`);
      await this.#p.backends.runtime.destroy(name);
      await this.#p.network.unrouteOutside(this.#p.store.get(id));
      await this.#p.store.commit((s) => forgetContainer(s, id));
    });
  }

  /** StartContainer. */
  start(id: string): Promise<void> {
    this.#p.store.require();
    return this.#p.store.locked([id], async () => {
      const c = this.#p.store.get(id);
      await this.#ensureNetwork();
      if (!await this.#startRuntime(id)) {
        throw new ConflictError(`Container ${id} is already running`);
      }
      if (!this.#p.backends.runtime.configuresAddresses) {
        await this.#p.network.configureAddresses(c, null);
      }
      if (!c.running) {
        await this.#p.store.commit((s) => {
          s.containers[id]!.running = true;
        });
      }
    });
  }

  /** Starts the runtime container; a start failing because it is gone is a not-found. */
  async #startRuntime(id: string): Promise<boolean> {
    const name = this.#name(id);
    try {
      return await this.#p.backends.runtime.start(name);
    } catch (error) {
      if (await this.#p.backends.runtime.state(name) === "missing") {
        throw new NotFoundError(
          `Container ${id} is missing from the ${this.#p.backends.runtime.kind} runtime`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  /** StopContainer. */
  stop(id: string): Promise<void> {
    this.#p.store.require();
    return this.#p.store.locked([id], async () => {
      const c = this.#p.store.get(id);
      if (!await this.#p.backends.runtime.stop(this.#name(id), this.#p.config.stop_grace_seconds)) {
        throw new ConflictError(`Container ${id} is already stopped`);
      }
      if (c.running) {
        await this.#p.store.commit((s) => {
          s.containers[id]!.running = false;
        });
      }
    });
  }

  /** IDWithNewIpv4 / IDWithNewIpv6 (`field`: the request field that carried `ip`). */
  setAddress(
    id: string,
    family: "ipv4" | "ipv6",
    ip: string,
    field: string = family,
  ): Promise<void> {
    this.#p.store.require();
    const key = family === "ipv4" ? `ip4:${ip}` : `ip6:${ip.toLowerCase()}`;
    return this.#p.store.locked([id, key], async () => {
      const old = this.#p.store.get(id);
      if (sameAddress(old[family], ip)) return;
      this.#usable(family, ip, field);
      this.#conflict(family, ip, id);
      const next: StoredContainer = { ...old, [family]: ip };
      await this.#p.backends.runtime.setNetwork(this.#p.network.spec(next));
      await this.#ensureNetwork();
      await this.#p.network.unrouteOutside(old);
      await this.#p.network.routeOutside(next);
      if (await this.#p.backends.runtime.state(this.#name(id)) === "running") {
        await this.#p.network.configureAddresses(next, old);
      }
      await this.#p.store.commit((s) => {
        s.containers[id] = next;
      });
    });
  }
}
