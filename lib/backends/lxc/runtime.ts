/**
 * The LXC runtime: `lxc-create -t none` with a config the agent writes (veth on the agent's
 * bridge, requested MAC/IPv4/IPv6) and a rootfs unpacked from a local tarball, or
 * `lxc-create -t download` when no local image exists. Every container lives under one LXC
 * path owned by the agent.
 */
import { join } from "node:path";
import { CommandError, type CommandRunner, type RunResult } from "../../core/mod.ts";
import { CONTAINER_NAME, type ContainerSpec, type ImageSource, type RuntimeState } from "./spec.ts";

/** Options for {@linkcode LxcRuntime}. */
export interface LxcRuntimeOptions {
  /** The LXC path (`-P`) holding the agent's containers. */
  lxcPath: string;
  /** Timeout for quick commands. @default {30000} */
  timeoutMs?: number;
  /** Timeout for image downloads and unpacking. @default {600000} */
  imageTimeoutMs?: number;
}

function checkName(name: string): void {
  if (!CONTAINER_NAME.test(name)) throw new TypeError(`Invalid container name "${name}"`);
}

/** The `lxc.net.0.*` lines for a spec. */
export function networkConfig(spec: ContainerSpec): string[] {
  const v4 = spec.ipv4;
  const v6 = spec.ipv6;
  const lines = [
    "lxc.net.0.type = veth",
    `lxc.net.0.link = ${spec.bridge}`,
    "lxc.net.0.flags = up",
    "lxc.net.0.name = eth0",
    `lxc.net.0.hwaddr = ${spec.mac}`,
    `lxc.net.0.veth.pair = ${spec.hostVeth}`,
    `lxc.net.0.ipv4.address = ${v4.address}/${v4.prefix}${v4.broadcast ? ` ${v4.broadcast}` : ""}`,
  ];
  if (v4.gateway) lines.push(`lxc.net.0.ipv4.gateway = ${v4.gateway}`);
  lines.push(`lxc.net.0.ipv6.address = ${v6.address}/${v6.prefix}`);
  if (v6.gateway) lines.push(`lxc.net.0.ipv6.gateway = ${v6.gateway}`);
  return lines;
}

/** Replaces every `lxc.net.*` line of a config text with the spec's. */
export function withNetworkConfig(config: string, spec: ContainerSpec): string {
  const kept = config.split("\n").filter((l) => !/^\s*lxc\.net\./.test(l) && l.trim() !== "");
  return [...kept, ...networkConfig(spec), ""].join("\n");
}

/** LXC behind the agent's runtime interface. */
export class LxcRuntime {
  readonly kind = "lxc";
  /** LXC sets the NIC addresses itself from the config. */
  readonly configuresAddresses = true;
  readonly #runner: CommandRunner;
  readonly #path: string;
  readonly #timeout: number;
  readonly #imageTimeout: number;

  constructor(runner: CommandRunner, options: LxcRuntimeOptions) {
    this.#runner = runner;
    this.#path = options.lxcPath;
    this.#timeout = options.timeoutMs ?? 30_000;
    this.#imageTimeout = options.imageTimeoutMs ?? 600_000;
  }

  /** Commands this runtime needs on the host. */
  requiredTools(): string[] {
    return [
      "lxc-create",
      "lxc-start",
      "lxc-stop",
      "lxc-destroy",
      "lxc-info",
      "lxc-ls",
      "lxc-attach",
      "tar",
    ];
  }

  /** Creates the LXC path. */
  async prepare(): Promise<void> {
    await Deno.mkdir(this.#path, { recursive: true, mode: 0o700 });
  }

  #run(argv: string[], timeoutMs = this.#timeout): Promise<RunResult> {
    return this.#runner(argv, { timeoutMs });
  }

  /** Creates (but does not start) a container. */
  async create(spec: ContainerSpec, image: ImageSource): Promise<void> {
    checkName(spec.name);
    const netFile = join(this.#path, `.${spec.name}.net.conf`);
    await Deno.writeTextFile(netFile, networkConfig(spec).join("\n") + "\n", { mode: 0o600 });
    try {
      if (image.kind === "tarball") await this.#createFromTarball(spec, image.path, netFile);
      else await this.#createFromDownload(spec, image, netFile);
    } catch (error) {
      await this.destroy(spec.name).catch(() => {});
      throw error;
    } finally {
      await Deno.remove(netFile).catch(() => {});
    }
  }

  /** `lxc-create -t none`, then the tarball unpacked as the rootfs and the config completed. */
  async #createFromTarball(spec: ContainerSpec, tarball: string, netFile: string): Promise<void> {
    const dir = join(this.#path, spec.name);
    await this.#run(["lxc-create", "-P", this.#path, "-n", spec.name, "-t", "none", "-f", netFile]);
    const rootfs = join(dir, "rootfs");
    await Deno.mkdir(rootfs, { recursive: true });
    await this.#run(["tar", "--numeric-owner", "-xpf", tarball, "-C", rootfs], this.#imageTimeout);
    const extra = [
      "lxc.include = /usr/share/lxc/config/common.conf",
      `lxc.rootfs.path = dir:${rootfs}`,
      `lxc.uts.name = ${spec.hostname}`,
      "lxc.mount.auto = proc:mixed sys:ro cgroup:mixed",
      "lxc.apparmor.profile = unconfined",
      "",
    ];
    await Deno.writeTextFile(join(dir, "config"), extra.join("\n"), { append: true });
  }

  /** `lxc-create -t download` of `distribution/release` (amd64). */
  async #createFromDownload(
    spec: ContainerSpec,
    image: { distribution: string; release: string },
    netFile: string,
  ): Promise<void> {
    await this.#run([
      "lxc-create",
      "-P",
      this.#path,
      "-n",
      spec.name,
      "-t",
      "download",
      "-f",
      netFile,
      "--",
      "-d",
      image.distribution,
      "-r",
      image.release,
      "-a",
      "amd64",
    ], this.#imageTimeout);
    await Deno.writeTextFile(
      join(this.#path, spec.name, "config"),
      `lxc.uts.name = ${spec.hostname}\nlxc.apparmor.profile = unconfined\n`,
      { append: true },
    );
  }

  /** Rewrites the container's network config (takes effect at the next start). */
  async setNetwork(spec: ContainerSpec): Promise<void> {
    checkName(spec.name);
    const file = join(this.#path, spec.name, "config");
    const text = await Deno.readTextFile(file);
    const tmp = `${file}.tmp`;
    await Deno.writeTextFile(tmp, withNetworkConfig(text, spec), { mode: 0o600 });
    await Deno.rename(tmp, file);
  }

  /** Starts the container and waits until it is RUNNING; false when it already ran. */
  async start(name: string): Promise<boolean> {
    checkName(name);
    // lxc-start exits 0 with "Container is already running." on a running container.
    let stderr: string;
    try {
      stderr = (await this.#run(["lxc-start", "-P", this.#path, "-n", name])).stderr;
    } catch (error) {
      if (error instanceof CommandError && /already running/i.test(error.stderrTail)) return false;
      throw error;
    }
    // Daemonized lxc-start itself waits for RUNNING (it fails on ABORTING): no lxc-wait needed.
    return !/already running/i.test(stderr);
  }

  /**
   * Stops the container: a clean halt for `graceSeconds`, then a kill (0 kills at once); false
   * when it was not running.
   */
  async stop(name: string, graceSeconds: number): Promise<boolean> {
    checkName(name);
    const argv = ["lxc-stop", "-P", this.#path, "-n", name];
    if (graceSeconds <= 0) argv.push("-k");
    else argv.push("-t", String(graceSeconds));
    try {
      await this.#run(argv, (graceSeconds + 20) * 1000);
      return true;
    } catch (error) {
      if (error instanceof CommandError && /not running/i.test(error.stderrTail)) return false;
      throw error;
    }
  }

  /** Destroys a stopped container and its rootfs; a missing one is fine. */
  async destroy(name: string): Promise<void> {
    checkName(name);
    if (await this.state(name) === "missing") {
      await Deno.remove(join(this.#path, name), { recursive: true }).catch(() => {});
      return;
    }
    await this.#run(["lxc-destroy", "-P", this.#path, "-n", name, "-f"], this.#imageTimeout);
  }

  /** The container's state. */
  async state(name: string): Promise<RuntimeState> {
    checkName(name);
    try {
      await Deno.stat(join(this.#path, name, "config"));
    } catch {
      return "missing";
    }
    const r = await this.#runner(["lxc-info", "-P", this.#path, "-n", name, "-s", "-H"], {
      timeoutMs: this.#timeout,
      check: false,
    });
    if (r.code !== 0) return "missing";
    return r.stdout.trim() === "RUNNING" ? "running" : "stopped";
  }

  /** PID of the container's init, or null when it is not running. */
  async pid(name: string): Promise<number | null> {
    checkName(name);
    const r = await this.#runner(["lxc-info", "-P", this.#path, "-n", name, "-p", "-H"], {
      timeoutMs: this.#timeout,
      check: false,
    });
    const pid = Number(r.stdout.trim());
    return r.code === 0 && Number.isInteger(pid) && pid > 1 ? pid : null;
  }

  /** Names of every container under the agent's LXC path. */
  async list(): Promise<string[]> {
    const r = await this.#run(["lxc-ls", "-P", this.#path, "-1"]);
    return r.stdout.split("\n").map((s) => s.trim()).filter((s) => s !== "");
  }

  /** Runs a command inside the running container. */
  exec(name: string, argv: readonly string[], timeoutMs: number): Promise<RunResult> {
    checkName(name);
    return this.#runner(["lxc-attach", "-P", this.#path, "-n", name, "--", ...argv], {
      timeoutMs,
      check: false,
    });
  }
}
