/**
 * The container manager: every Intervirt operation as a method. It serialises work per container
 * (and per address and forward), keeps the stored state, the runtime and the nft table in step,
 * and makes each change durable before the caller acknowledges it.
 */
import { join } from "node:path";
import type { CommandRunner, JsonDocument, Logger } from "../../core/mod.ts";
import {
  addHostRoute,
  changeAddress,
  deleteHostRoute,
  deleteLink,
  enableForwarding,
  enableProxyArp,
  ensureBridge,
  ensurePort,
} from "../../backends/bridge/mod.ts";
import {
  type AppliedTable,
  applyRuleset,
  deleteTable,
  type NetfilterState,
  type NftTransactions,
} from "../../backends/netfilter/mod.ts";
import type { IntervirtConfig } from "./config.ts";
import { ErrorCode, IntervirtError } from "./errors.ts";
import { Gate, KeyedLock } from "./lock.ts";
import { broadcastOf, type Cidr, inSubnet, parseCidr, sameAddress } from "./net.ts";
import type { ContainerRuntime, ContainerSpec, ImageSource } from "./runtime.ts";
import type { AddContainerRequest, AddForwardRequest, RemoveForwardRequest } from "./schemas.ts";
import {
  cloneState,
  type IntervirtState,
  isConnected,
  pairOf,
  type StoredContainer,
  vethName,
} from "./state.ts";

/** Reports progress of a streamed operation: a fraction 0–1 and a line of text. */
export type ProgressFn = (fraction: number, output: string) => void;

/** Options for {@linkcode ContainerManager}. */
export interface ManagerOptions {
  config: IntervirtConfig;
  runner: CommandRunner;
  runtime: ContainerRuntime;
  document: JsonDocument<IntervirtState>;
  imagesDir: string;
  log: Logger;
  /** What the host lacks (root, tools), or null when the agent can manage containers. */
  unavailable: string | null;
  /** Called after each committed change. */
  onChange?: () => void;
  /** Applies set element changes without spawning `nft` (a long-lived `nft -i`). */
  nft?: NftTransactions;
}

const IMAGE_EXTENSIONS = [".tar.gz", ".tgz", ".tar.xz", ".tar.zst", ".tar.bz2", ".tar"];
const HOST_STEP_TIMEOUT_MS = 30 * 60_000;
const WIPE_CONCURRENCY = 4;

function splitCommand(line: string): string[] {
  return line.trim().split(/\s+/).filter((s) => s !== "");
}

/** Runs the Intervirt operations against the runtime, the bridge and nftables. */
export class ContainerManager {
  readonly #config: IntervirtConfig;
  readonly #runner: CommandRunner;
  readonly #nft: NftTransactions | undefined;
  readonly #runtime: ContainerRuntime;
  readonly #doc: JsonDocument<IntervirtState>;
  readonly #imagesDir: string;
  readonly #log: Logger;
  readonly #unavailable: string | null;
  readonly #onChange: () => void;
  readonly #keys = new KeyedLock();
  readonly #gate = new Gate();
  readonly #commitLock = new KeyedLock();
  readonly #bridge4: Cidr;
  readonly #bridge6: Cidr;
  #state: IntervirtState;
  #nftKnown: AppliedTable | null = null;
  #networkReady = false;
  #networkPending: Promise<boolean> | null = null;
  #drift: string[] = [];

  constructor(options: ManagerOptions) {
    this.#config = options.config;
    this.#runner = options.runner;
    this.#nft = options.nft;
    this.#runtime = options.runtime;
    this.#doc = options.document;
    this.#imagesDir = options.imagesDir;
    this.#log = options.log;
    this.#unavailable = options.unavailable;
    this.#onChange = options.onChange ?? (() => {});
    this.#state = cloneState(options.document.value);
    this.#bridge4 = parseCidr(options.config.bridge_ipv4);
    this.#bridge6 = parseCidr(options.config.bridge_ipv6);
  }

  /** A copy of the current state. */
  get state(): IntervirtState {
    return cloneState(this.#state);
  }

  /** Drift found by the last reconcile. */
  get drift(): readonly string[] {
    return this.#drift;
  }

  /** Why the agent cannot manage containers here, or null. */
  get unavailable(): string | null {
    return this.#unavailable;
  }

  // ---- plumbing -------------------------------------------------------------------------------

  #require(): void {
    if (this.#unavailable) {
      throw new IntervirtError(
        ErrorCode.guest,
        `Cannot manage containers on this host: missing ${this.#unavailable}`,
      );
    }
  }

  async #locked<T>(keys: string[], fn: () => Promise<T>, exclusive = false): Promise<T> {
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

  #get(id: string): StoredContainer {
    const c = this.#state.containers[id];
    if (!c) throw new IntervirtError(ErrorCode.notFound, `Container ${id} doesn't exist`);
    return c;
  }

  #name(id: string): string {
    return `${this.#config.name_prefix}${id}`;
  }

  #spec(c: StoredContainer): ContainerSpec {
    const in4 = inSubnet(c.ipv4, this.#bridge4);
    const in6 = inSubnet(c.ipv6, this.#bridge6);
    const prefix4 = in4 ? this.#bridge4.prefix : 24;
    return {
      name: this.#name(c.id),
      hostname: c.id,
      bridge: this.#config.bridge,
      hostVeth: vethName(this.#config.veth_prefix, c.id),
      mac: c.mac,
      ipv4: {
        address: c.ipv4,
        prefix: prefix4,
        gateway: in4 ? this.#bridge4.address : "dev",
        broadcast: broadcastOf(c.ipv4, prefix4),
      },
      ipv6: {
        address: c.ipv6,
        prefix: in6 ? this.#bridge6.prefix : 64,
        gateway: in6 ? this.#bridge6.address : "dev",
      },
    };
  }

  #netfilter(state: IntervirtState): NetfilterState {
    const ep = (id: string) => {
      const c = state.containers[id]!;
      return { ipv4: c.ipv4, ipv6: c.ipv6 };
    };
    return {
      table: this.#config.nft_table,
      bridge: this.#config.bridge,
      pairs: state.connections.filter(([a, b]) => state.containers[a] && state.containers[b])
        .map(([a, b]) => [ep(a), ep(b)] as const),
      internet: Object.values(state.containers).filter((c) => c.internet).map((c) => ep(c.id)),
      forwards: state.forwards.filter((f) => state.containers[f.id]).map((f) => ({
        protocol: f.protocol,
        externalPort: f.externalPort,
        internalPort: f.internalPort,
        ...ep(f.id),
      })),
    };
  }

  async #applyNetfilter(state: IntervirtState, compareLive = false): Promise<boolean> {
    const result = await applyRuleset(
      this.#runner,
      this.#netfilter(state),
      compareLive ? null : this.#nftKnown,
      this.#nft,
    );
    this.#nftKnown = result.applied;
    return result.change !== "none";
  }

  /**
   * Applies `mutate` to the current state: the nft update and the durable write run side by side
   * and both finish before this resolves; a failed nft update restores the previous state.
   */
  async #commit(
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
      if (this.#networkReady && (options.netfilter ?? true)) {
        try {
          await this.#applyNetfilter(next);
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

  /** Bridge, sysctls and the nft table; returns whether the live table had to change. */
  #ensureNetwork(): Promise<boolean> {
    if (this.#networkReady) return Promise.resolve(false);
    this.#networkPending ??= (async () => {
      try {
        await ensureBridge(this.#runner, {
          name: this.#config.bridge,
          addresses: [this.#config.bridge_ipv4, this.#config.bridge_ipv6],
        });
        await enableForwarding(this.#runner, true);
        await enableProxyArp(this.#runner, this.#config.bridge);
        for (const c of Object.values(this.#state.containers)) await this.#routeOutside(c);
        const changed = await this.#applyNetfilter(this.#state, true);
        this.#networkReady = true;
        return changed;
      } finally {
        this.#networkPending = null;
      }
    })();
    return this.#networkPending;
  }

  /** Addresses of `c` outside the bridge subnets (they need a host route). */
  #outside(c: StoredContainer): string[] {
    const out: string[] = [];
    if (!inSubnet(c.ipv4, this.#bridge4)) out.push(c.ipv4);
    if (!inSubnet(c.ipv6, this.#bridge6)) out.push(c.ipv6);
    return out;
  }

  async #routeOutside(c: StoredContainer): Promise<void> {
    for (const ip of this.#outside(c)) await addHostRoute(this.#runner, this.#config.bridge, ip);
  }

  async #unrouteOutside(c: StoredContainer): Promise<void> {
    for (const ip of this.#outside(c)) {
      await deleteHostRoute(this.#runner, this.#config.bridge, ip);
    }
  }

  async #resolveImage(image: string): Promise<ImageSource> {
    for (const ext of IMAGE_EXTENSIONS) {
      const path = join(this.#imagesDir, image + ext);
      try {
        if ((await Deno.stat(path)).isFile) return { kind: "tarball", path };
      } catch {
        // try the next
      }
    }
    const parts = image.split("/");
    if (parts.length === 2) {
      return { kind: "download", distribution: parts[0]!, release: parts[1]! };
    }
    throw new IntervirtError(
      ErrorCode.notFound,
      `Image ${image} not found: no ${
        join(this.#imagesDir, image)
      }.tar.* and not a "distribution/release" name`,
    );
  }

  #conflict(kind: "ipv4" | "ipv6" | "mac", value: string, except: string): void {
    for (const c of Object.values(this.#state.containers)) {
      if (c.id === except) continue;
      const same = kind === "mac" ? c.mac === value : sameAddress(c[kind], value);
      if (same) {
        throw new IntervirtError(
          ErrorCode.badInput,
          `Invalid field "${kind}": ${value} is already used by container ${c.id}`,
        );
      }
    }
  }

  async #configureAddresses(c: StoredContainer, old: StoredContainer | null): Promise<void> {
    const pid = await this.#runtime.pid(this.#name(c.id));
    if (pid === null) return;
    const spec = this.#spec(c);
    const before = old ? this.#spec(old) : null;
    for (const family of ["ipv4", "ipv6"] as const) {
      const nic = spec[family];
      const prev = before?.[family];
      if (prev && prev.address === nic.address && old !== null) continue;
      await changeAddress(this.#runner, {
        pid,
        device: "eth0",
        from: prev ? `${prev.address}/${prev.prefix}` : null,
        to: `${nic.address}/${nic.prefix}`,
        ...(nic.broadcast ? { broadcast: nic.broadcast } : {}),
        gateway: nic.gateway,
      });
    }
  }

  // ---- operations -----------------------------------------------------------------------------

  /** AddContainer. */
  addContainer(r: AddContainerRequest): Promise<void> {
    this.#require();
    const keys = [r.id, `ip4:${r.ipv4}`, `ip6:${r.ipv6.toLowerCase()}`, `mac:${r.mac}`];
    return this.#locked(keys, async () => {
      if (this.#state.containers[r.id]) {
        throw new IntervirtError(ErrorCode.alreadyDone, `Container ${r.id} already exists`);
      }
      this.#conflict("ipv4", r.ipv4, r.id);
      this.#conflict("ipv6", r.ipv6, r.id);
      this.#conflict("mac", r.mac, r.id);
      const image = await this.#resolveImage(r.image);
      await this.#ensureNetwork();
      const c: StoredContainer = {
        id: r.id,
        ipv4: r.ipv4,
        ipv6: r.ipv6,
        mac: r.mac,
        internet: r.internet,
        image: r.image,
        running: false,
      };
      const name = this.#name(r.id);
      if (await this.#runtime.state(name) !== "missing") {
        this.#log.warn("removing a leftover container before re-creating it", { name });
        await this.#runtime.stop(name, 0);
        await this.#runtime.destroy(name);
      }
      await this.#runtime.create(this.#spec(c), image);
      await this.#routeOutside(c);
      await this.#commit((s) => {
        s.containers[r.id] = c;
      });
    });
  }

  /** RemoveContainer (streams progress). */
  removeContainer(id: string, progress: ProgressFn): Promise<void> {
    this.#require();
    return this.#locked([id], async () => {
      this.#get(id);
      const name = this.#name(id);
      if (await this.#runtime.state(name) === "running") {
        progress(0.3, `Shutting down container ${id}...`);
        await this.#runtime.stop(name, this.#config.stop_grace_seconds);
      }
      progress(0.7, `Removing container ${id}...`);
      await this.#runtime.destroy(name);
      await this.#unrouteOutside(this.#get(id));
      await this.#commit((s) => {
        delete s.containers[id];
        s.connections = s.connections.filter(([a, b]) => a !== id && b !== id);
        s.forwards = s.forwards.filter((f) => f.id !== id);
      });
    });
  }

  /** StartContainer. */
  startContainer(id: string): Promise<void> {
    this.#require();
    return this.#locked([id], async () => {
      const c = this.#get(id);
      await this.#ensureNetwork();
      const name = this.#name(id);
      let started: boolean;
      try {
        started = await this.#runtime.start(name);
      } catch (error) {
        if (await this.#runtime.state(name) === "missing") {
          throw new IntervirtError(
            ErrorCode.notFound,
            `Container ${id} is missing from the ${this.#runtime.kind} runtime`,
            { cause: error },
          );
        }
        throw error;
      }
      if (!started) {
        throw new IntervirtError(ErrorCode.alreadyDone, `Container ${id} is already running`);
      }
      if (!this.#runtime.configuresAddresses) await this.#configureAddresses(c, null);
      if (!c.running) {
        await this.#commit((s) => {
          s.containers[id]!.running = true;
        });
      }
    });
  }

  /** StopContainer. */
  stopContainer(id: string): Promise<void> {
    this.#require();
    return this.#locked([id], async () => {
      const c = this.#get(id);
      if (!await this.#runtime.stop(this.#name(id), this.#config.stop_grace_seconds)) {
        throw new IntervirtError(ErrorCode.alreadyDone, `Container ${id} is already stopped`);
      }
      if (c.running) {
        await this.#commit((s) => {
          s.containers[id]!.running = false;
        });
      }
    });
  }

  /** IDWithNewIpv4 / IDWithNewIpv6. */
  setAddress(id: string, family: "ipv4" | "ipv6", ip: string): Promise<void> {
    this.#require();
    const key = family === "ipv4" ? `ip4:${ip}` : `ip6:${ip.toLowerCase()}`;
    return this.#locked([id, key], async () => {
      const old = this.#get(id);
      if (sameAddress(old[family], ip)) return;
      this.#conflict(family, ip, id);
      const next: StoredContainer = { ...old, [family]: ip };
      await this.#runtime.setNetwork(this.#spec(next));
      await this.#ensureNetwork();
      await this.#unrouteOutside(old);
      await this.#routeOutside(next);
      if (await this.#runtime.state(this.#name(id)) === "running") {
        await this.#configureAddresses(next, old);
      }
      await this.#commit((s) => {
        s.containers[id] = next;
      });
    });
  }

  #pairCheck(a: string, b: string): void {
    if (a === b) {
      throw new IntervirtError(
        ErrorCode.badInput,
        `Invalid field "id2": it names the same container as "id1" (${a})`,
      );
    }
    const missing = [a, b].filter((id) => !this.#state.containers[id]);
    if (missing.length === 2) {
      throw new IntervirtError(ErrorCode.notFound, `Container ${a} and ${b} don't exist`);
    }
    if (missing.length === 1) {
      throw new IntervirtError(ErrorCode.notFound, `Container ${missing[0]} doesn't exist`);
    }
  }

  /** Connect (idempotent). */
  connect(a: string, b: string): Promise<void> {
    this.#require();
    return this.#locked([a, b], async () => {
      this.#pairCheck(a, b);
      if (isConnected(this.#state, a, b)) return;
      await this.#ensureNetwork();
      await this.#commit((s) => {
        s.connections.push(pairOf(a, b));
      });
    });
  }

  /** Disconnect (idempotent: an unconnected pair stays unconnected). */
  disconnect(a: string, b: string): Promise<void> {
    this.#require();
    return this.#locked([a, b], async () => {
      this.#pairCheck(a, b);
      if (!isConnected(this.#state, a, b)) return;
      const [x, y] = pairOf(a, b);
      await this.#ensureNetwork();
      await this.#commit((s) => {
        s.connections = s.connections.filter(([p, q]) => !(p === x && q === y));
      });
    });
  }

  /** SetInternetAccess. */
  setInternet(id: string, enabled: boolean): Promise<void> {
    this.#require();
    return this.#locked([id], async () => {
      const c = this.#get(id);
      if (c.internet === enabled) return;
      await this.#ensureNetwork();
      await this.#commit((s) => {
        s.containers[id]!.internet = enabled;
      });
    });
  }

  /** AddPortForwarding. */
  addForward(r: AddForwardRequest): Promise<void> {
    this.#require();
    const protocol = r.protocol as "tcp" | "udp";
    return this.#locked([r.id, `fwd:${protocol}:${r.externalPort}`], async () => {
      this.#get(r.id);
      const existing = this.#state.forwards.find((f) =>
        f.protocol === protocol && f.externalPort === r.externalPort
      );
      if (existing) {
        throw new IntervirtError(
          ErrorCode.alreadyDone,
          `Port forwarding ${protocol}/${r.externalPort} already exists (to ${existing.id}:${existing.internalPort})`,
        );
      }
      await this.#ensureNetwork();
      await this.#commit((s) => {
        s.forwards.push({
          protocol,
          externalPort: r.externalPort,
          id: r.id,
          internalPort: r.internalPort,
        });
      });
    });
  }

  /** RemovePortForwarding. */
  removeForward(r: RemoveForwardRequest): Promise<void> {
    this.#require();
    const protocol = r.protocol as "tcp" | "udp";
    return this.#locked([`fwd:${protocol}:${r.externalPort}`], async () => {
      const match = (f: { protocol: string; externalPort: number }) =>
        f.protocol === protocol && f.externalPort === r.externalPort;
      if (!this.#state.forwards.some(match)) {
        throw new IntervirtError(
          ErrorCode.notFound,
          `Port forwarding ${protocol}/${r.externalPort} doesn't exist`,
        );
      }
      await this.#ensureNetwork();
      await this.#commit((s) => {
        s.forwards = s.forwards.filter((f) => !match(f));
      });
    });
  }

  async #ownedRuntimeNames(): Promise<string[]> {
    try {
      return (await this.#runtime.list()).filter((n) => n.startsWith(this.#config.name_prefix));
    } catch (error) {
      this.#log.warn("cannot list runtime containers", { error });
      return [];
    }
  }

  /** Command wipe: removes every container and rule the agent made (streams progress). */
  wipe(progress: ProgressFn): Promise<void> {
    this.#require();
    return this.#locked([], async () => {
      const names = new Map<string, string>();
      for (const id of Object.keys(this.#state.containers)) names.set(this.#name(id), id);
      for (const name of await this.#ownedRuntimeNames()) {
        if (!names.has(name)) names.set(name, name.slice(this.#config.name_prefix.length));
      }
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
            if (this.#state.containers[id]) {
              // The table goes as a whole at the end; only the record changes here.
              await this.#commit((s) => {
                delete s.containers[id];
                s.connections = s.connections.filter(([a, b]) => a !== id && b !== id);
                s.forwards = s.forwards.filter((f) => f.id !== id);
              }, { netfilter: false });
            }
          } catch (error) {
            this.#log.error("wipe could not remove a container", { name, error });
            failed.push(id);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(WIPE_CONCURRENCY, names.size) }, worker));
      if (failed.length === 0) {
        await this.#commit((s) => {
          s.containers = {};
          s.connections = [];
          s.forwards = [];
        }, { netfilter: false });
        await deleteTable(this.#runner, this.#config.nft_table);
        await deleteLink(this.#runner, this.#config.bridge);
        this.#networkReady = false;
        this.#nftKnown = null;
      }
      if (failed.length > 0) {
        if (this.#networkReady) await this.#applyNetfilter(this.#state);
        throw new IntervirtError(
          ErrorCode.guestCommand,
          `Wipe could not remove container(s): ${failed.join(", ")}`,
        );
      }
    }, true);
  }

  #hostCommandsAllowed(command: string): void {
    if (!this.#config.allow_host_commands) {
      throw new IntervirtError(
        ErrorCode.unsupported,
        `The ${command} command is disabled: set intervirt.allow_host_commands = true to let the agent ${
          command === "update" ? "upgrade" : command
        } the host`,
      );
    }
  }

  /** Command update: host steps, then each container's steps and a restart (streams progress). */
  update(progress: ProgressFn): Promise<void> {
    this.#hostCommandsAllowed("update");
    this.#require();
    return this.#locked([], async () => {
      const containers = Object.values(this.#state.containers);
      const steps = this.#config.update_steps.map(splitCommand).filter((s) => s.length > 0);
      const total = steps.length + containers.length;
      let done = 0;
      for (const argv of steps) {
        progress(done / total, `Running ${argv.join(" ")}...`);
        await this.#runner(argv, { timeoutMs: HOST_STEP_TIMEOUT_MS, processGroup: true });
        done++;
      }
      for (const c of containers) {
        progress(done / total, `Updating container ${c.id}...`);
        const name = this.#name(c.id);
        if (await this.#runtime.state(name) === "running") {
          for (const line of this.#config.container_update_steps) {
            const argv = splitCommand(line);
            if (argv.length === 0) continue;
            const r = await this.#runtime.exec(name, argv, HOST_STEP_TIMEOUT_MS);
            if (r.code === 127 || r.code === 126) break;
            if (r.code !== 0) {
              throw new IntervirtError(
                ErrorCode.guestCommand,
                `Updating container ${c.id} failed: ${argv.join(" ")} exited with ${r.code}`,
              );
            }
          }
          progress(done / total, `Restarting container ${c.id}...`);
          await this.#runtime.stop(name, this.#config.stop_grace_seconds);
          await this.#runtime.start(name);
          if (!this.#runtime.configuresAddresses) await this.#configureAddresses(c, null);
        }
        done++;
      }
    }, true);
  }

  /**
   * Command shutdown / reboot: stops every container (they restart with the agent), then returns
   * the host command to run once the reply has been sent.
   */
  power(command: "shutdown" | "reboot"): Promise<() => Promise<void>> {
    this.#hostCommandsAllowed(command);
    this.#require();
    return this.#locked([], async () => {
      for (const c of Object.values(this.#state.containers)) {
        const name = this.#name(c.id);
        if (await this.#runtime.state(name) === "running") {
          await this.#runtime.stop(name, this.#config.stop_grace_seconds);
        }
      }
      const argv = splitCommand(
        command === "shutdown" ? this.#config.shutdown_command : this.#config.reboot_command,
      );
      return async () => {
        if (argv.length > 0) await this.#runner(argv, { timeoutMs: 60_000, processGroup: true });
      };
    }, true);
  }

  /**
   * Brings the host in line with the stored state after a (re)start: the runtime's containers,
   * their running state and the nft table. Returns the drift found.
   */
  reconcile(): Promise<string[]> {
    if (this.#unavailable) return Promise.resolve([]);
    return this.#locked([], async () => {
      const drift: string[] = [];
      await this.#runtime.prepare();
      const containers = Object.values(this.#state.containers);
      if (containers.length === 0) {
        this.#drift = drift;
        return drift;
      }
      if (await this.#ensureNetwork()) {
        drift.push(
          `nft table ${this.#config.nft_table} did not match the stored state: re-applied`,
        );
      }
      for (const c of containers) {
        const name = this.#name(c.id);
        const state = await this.#runtime.state(name);
        if (state === "missing") {
          drift.push(`container ${c.id} is missing from the runtime`);
          continue;
        }
        if (c.running && state === "stopped") {
          drift.push(`container ${c.id} was stopped: started again`);
          try {
            await this.#runtime.start(name);
            if (!this.#runtime.configuresAddresses) await this.#configureAddresses(c, null);
          } catch (error) {
            drift.push(`container ${c.id} could not be started: ${(error as Error).message}`);
          }
        } else if (state === "running") {
          if (!c.running) drift.push(`container ${c.id} is running although it was stopped`);
          const veth = vethName(this.#config.veth_prefix, c.id);
          if (await ensurePort(this.#runner, veth, this.#config.bridge)) {
            drift.push(`container ${c.id} was detached from ${this.#config.bridge}: re-attached`);
          }
        }
      }
      const known = new Set(containers.map((c) => this.#name(c.id)));
      for (const name of await this.#ownedRuntimeNames()) {
        if (!known.has(name)) drift.push(`runtime container ${name} is not in the stored state`);
      }
      for (const d of drift) this.#log.warn("reconcile", { drift: d });
      this.#drift = drift;
      return drift;
    }, true);
  }
}
