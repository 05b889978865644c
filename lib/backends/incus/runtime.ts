/**
 * The Incus runtime: `incus create` from a local image (a rootfs tarball imported once with
 * generated metadata, aliased `polyagent/<name>`) or from the `images:` remote, with a bridged NIC
 * on the agent's bridge carrying the requested MAC. Incus cannot give a static address on an
 * unmanaged bridge, so the agent sets the addresses itself after start
 * (`configuresAddresses = false`).
 */
import { join } from "node:path";
import { CommandError, type CommandRunner, type RunResult } from "../../core/mod.ts";

/** One address family of the container NIC. */
export interface IncusNicAddress {
  address: string;
  prefix: number;
  gateway: string | null;
  broadcast?: string;
}

/** A container as the Incus runtime creates it (same shape as the LXC backend's spec). */
export interface IncusContainerSpec {
  name: string;
  hostname: string;
  bridge: string;
  hostVeth: string;
  mac: string;
  ipv4: IncusNicAddress;
  ipv6: IncusNicAddress;
}

/** Where a rootfs comes from. */
export type IncusImageSource =
  | { kind: "tarball"; path: string }
  | { kind: "download"; distribution: string; release: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/;

function checkName(name: string): void {
  if (!NAME.test(name)) throw new TypeError(`Invalid Incus instance name "${name}"`);
}

/** Options for {@linkcode IncusRuntime}. */
export interface IncusRuntimeOptions {
  /** Scratch directory for generated image metadata. */
  workDir: string;
  /** @default {30000} */
  timeoutMs?: number;
  /** @default {600000} */
  imageTimeoutMs?: number;
}

/** Incus behind the agent's runtime interface. */
export class IncusRuntime {
  readonly kind = "incus";
  /** The agent sets addresses inside the container after start. */
  readonly configuresAddresses = false;
  readonly #runner: CommandRunner;
  readonly #work: string;
  readonly #timeout: number;
  readonly #imageTimeout: number;

  constructor(runner: CommandRunner, options: IncusRuntimeOptions) {
    this.#runner = runner;
    this.#work = options.workDir;
    this.#timeout = options.timeoutMs ?? 30_000;
    this.#imageTimeout = options.imageTimeoutMs ?? 600_000;
  }

  /** Commands this runtime needs on the host. */
  requiredTools(): string[] {
    return ["incus", "tar"];
  }

  /** Checks that incusd answers. */
  async prepare(): Promise<void> {
    await Deno.mkdir(this.#work, { recursive: true, mode: 0o700 });
    await this.#runner(["incus", "query", "/1.0"], { timeoutMs: this.#timeout });
  }

  async #localAlias(path: string): Promise<string> {
    const base = path.split("/").slice(-2).join("-").replace(/\.tar(\.[a-z0-9]+)?$/, "")
      .replace(/[^A-Za-z0-9-]/g, "-");
    const alias = `polyagent-${base}`;
    const known = await this.#runner(["incus", "image", "info", alias], {
      timeoutMs: this.#timeout,
      check: false,
    });
    if (known.code === 0) return alias;
    const dir = await Deno.makeTempDir({ dir: this.#work, prefix: "img-" });
    try {
      const now = Math.floor(Date.now() / 1000);
      await Deno.writeTextFile(
        join(dir, "metadata.yaml"),
        `architecture: x86_64\ncreation_date: ${now}\nproperties:\n  description: ${alias}\n`,
      );
      const meta = join(dir, "meta.tar.gz");
      await this.#runner(["tar", "-czf", meta, "-C", dir, "metadata.yaml"], {
        timeoutMs: this.#timeout,
      });
      await this.#runner(["incus", "image", "import", meta, path, "--alias", alias], {
        timeoutMs: this.#imageTimeout,
      });
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    return alias;
  }

  /** Creates (but does not start) an instance. */
  async create(spec: IncusContainerSpec, image: IncusImageSource): Promise<void> {
    checkName(spec.name);
    const source = image.kind === "tarball"
      ? await this.#localAlias(image.path)
      : `images:${image.distribution}/${image.release}`;
    await this.#runner(["incus", "create", source, spec.name], { timeoutMs: this.#imageTimeout });
    try {
      await this.#runner([
        "incus",
        "config",
        "device",
        "add",
        spec.name,
        "eth0",
        "nic",
        "nictype=bridged",
        `parent=${spec.bridge}`,
        `hwaddr=${spec.mac}`,
        `host_name=${spec.hostVeth}`,
        "name=eth0",
      ], { timeoutMs: this.#timeout });
    } catch (error) {
      await this.destroy(spec.name).catch(() => {});
      throw error;
    }
  }

  /** Nothing to persist: the agent re-applies addresses after every start. */
  setNetwork(_spec: IncusContainerSpec): Promise<void> {
    return Promise.resolve();
  }

  /** Starts the instance; false when it already ran. */
  async start(name: string): Promise<boolean> {
    checkName(name);
    try {
      await this.#runner(["incus", "start", name], { timeoutMs: this.#timeout });
      return true;
    } catch (error) {
      if (error instanceof CommandError && /already running/i.test(error.stderrTail)) return false;
      throw error;
    }
  }

  /** Stops the instance (forced when `graceSeconds` is 0); false when it was not running. */
  async stop(name: string, graceSeconds: number): Promise<boolean> {
    checkName(name);
    const argv = ["incus", "stop", name];
    if (graceSeconds <= 0) argv.push("--force");
    else argv.push("--timeout", String(graceSeconds));
    try {
      await this.#runner(argv, { timeoutMs: (graceSeconds + 30) * 1000 });
      return true;
    } catch (error) {
      if (error instanceof CommandError && /already stopped|not running/i.test(error.stderrTail)) {
        return false;
      }
      throw error;
    }
  }

  /** Deletes the instance; a missing one is fine. */
  async destroy(name: string): Promise<void> {
    checkName(name);
    if (await this.state(name) === "missing") return;
    await this.#runner(["incus", "delete", name, "--force"], { timeoutMs: this.#timeout });
  }

  async #query(name: string): Promise<{ status?: string; pid?: number } | null> {
    const r = await this.#runner(["incus", "query", `/1.0/instances/${name}/state`], {
      timeoutMs: this.#timeout,
      check: false,
    });
    if (r.code !== 0) return null;
    return JSON.parse(r.stdout) as { status?: string; pid?: number };
  }

  /** The instance's state. */
  async state(name: string): Promise<"running" | "stopped" | "missing"> {
    checkName(name);
    const s = await this.#query(name);
    if (!s) return "missing";
    return s.status === "Running" ? "running" : "stopped";
  }

  /** PID of the instance's init, or null. */
  async pid(name: string): Promise<number | null> {
    checkName(name);
    const s = await this.#query(name);
    return s?.pid && s.pid > 1 ? s.pid : null;
  }

  /** Names of every instance. */
  async list(): Promise<string[]> {
    const r = await this.#runner(["incus", "list", "--format", "csv", "-c", "n"], {
      timeoutMs: this.#timeout,
    });
    return r.stdout.split("\n").map((s) => s.trim()).filter((s) => s !== "");
  }

  /** Runs a command inside the running instance. */
  exec(name: string, argv: readonly string[], timeoutMs: number): Promise<RunResult> {
    checkName(name);
    return this.#runner(["incus", "exec", name, "--", ...argv], { timeoutMs, check: false });
  }
}
