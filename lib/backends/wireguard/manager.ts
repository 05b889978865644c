/**
 * Brings a WireGuard tunnel up with wg-quick (which falls back to userspace wireguard-go where the
 * kernel has no WireGuard), optionally inside a named network namespace. The applied config's
 * hash is stored durably: an unchanged config is not re-applied, and a config that fails to come
 * up is rolled back to the previous one, which is brought up again.
 */
import { join } from "node:path";
import {
  type CommandRunner,
  type JsonDocument,
  type Logger,
  writeFileAtomic,
} from "../../core/mod.ts";
import { endpointHost, parseWireguardConf, type WireguardConf } from "./conf.ts";
import { queryUapi, uapiSocketExists } from "./uapi.ts";

/** What is stored about the applied tunnel. */
export interface VpnState {
  hash: string | null;
  appliedAt: number | null;
  lastError: string | null;
}

/** Options for {@linkcode WireguardManager}. */
export interface WireguardManagerOptions {
  /** Interface name (also the file name wg-quick derives it from). */
  ifname: string;
  /** Folder for `<ifname>.conf` (created 0700). */
  dir: string;
  /** Network namespace to run wg-quick in ("" = the agent's). */
  netns: string;
  runner: CommandRunner;
  log: Logger;
  document: JsonDocument<VpnState>;
  allowDns: boolean;
  /** @default {30000} */
  timeoutMs?: number;
}

/** Result of {@linkcode WireguardManager.apply}. */
export interface WireGuardApplyResult {
  changed: boolean;
  ifname: string;
}

/** Live status for `vpn_status`. */
export interface WireGuardTunnelStatus {
  ifname: string;
  host: string;
  ip4: string;
  ip6: string;
  live: boolean;
  lastHandshakeSec: number;
}

/** Interface names wg-quick accepts (and that are safe as a file name). */
export const IFNAME = /^[A-Za-z0-9_=+.-]{1,15}$/;
/** Namespace names accepted for `ip netns exec`. */
export const NETNS = /^[A-Za-z0-9_.-]{1,64}$/;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Owns one WireGuard interface. */
export class WireguardManager {
  #o: WireguardManagerOptions;
  #conf: WireguardConf | null = null;
  #busy: Promise<unknown> = Promise.resolve();

  constructor(options: WireguardManagerOptions) {
    if (!IFNAME.test(options.ifname)) {
      throw new TypeError(`Invalid interface name "${options.ifname}"`);
    }
    if (options.netns && !NETNS.test(options.netns)) {
      throw new TypeError(`Invalid namespace name "${options.netns}"`);
    }
    this.#o = options;
  }

  /** The config file path. */
  get path(): string {
    return join(this.#o.dir, `${this.#o.ifname}.conf`);
  }

  /** Loads the applied config (if any) so status works after a restart. */
  async open(): Promise<void> {
    await Deno.mkdir(this.#o.dir, { recursive: true, mode: 0o700 });
    try {
      this.#conf = parseWireguardConf(await Deno.readTextFile(this.path), {
        allowDns: this.#o.allowDns,
      });
    } catch {
      this.#conf = null;
    }
  }

  /** Whether the interface exists (UAPI socket, or a kernel interface with an address here). */
  isLive(): boolean {
    if (uapiSocketExists(this.#o.ifname)) return true;
    if (this.#o.netns) return false;
    try {
      return Deno.networkInterfaces().some((i) => i.name === this.#o.ifname);
    } catch {
      return false;
    }
  }

  /** Whether the interface answers on its UAPI socket (or exists as a kernel interface here). */
  async isUp(): Promise<boolean> {
    if (await queryUapi(this.#o.ifname) !== null) return true;
    return !uapiSocketExists(this.#o.ifname) && this.isLive();
  }

  /** Validates and applies a config; unchanged + live is a no-op. Serialised. */
  apply(text: string): Promise<WireGuardApplyResult> {
    const run = this.#busy.then(() => this.#apply(text), () => this.#apply(text));
    this.#busy = run.catch(() => {});
    return run;
  }

  async #apply(text: string): Promise<WireGuardApplyResult> {
    const conf = parseWireguardConf(text, { allowDns: this.#o.allowDns });
    const hash = await sha256(conf.text);
    const doc = this.#o.document;
    const ifname = this.#o.ifname;
    if (doc.value.hash === hash && await this.isUp()) {
      this.#o.log.info("wireguard config unchanged; not re-applied", { ifname });
      return { changed: false, ifname };
    }
    let previous: string | null = null;
    try {
      previous = await Deno.readTextFile(this.path);
    } catch {
      previous = null;
    }
    if (this.isLive() && previous !== null) await this.#wgQuick("down").catch(() => {});
    await writeFileAtomic(this.path, conf.text, { mode: 0o600 });
    try {
      await this.#wgQuick("up");
    } catch (error) {
      this.#o.log.error("wireguard config failed to come up; restoring the previous one", {
        ifname,
        error,
      });
      await this.#wgQuick("down").catch(() => {});
      if (previous !== null) {
        await writeFileAtomic(this.path, previous, { mode: 0o600 });
        if (doc.value.hash !== null) {
          await this.#wgQuick("up").catch((e) => {
            this.#o.log.error("previous wireguard config did not come back", { error: e });
          });
        }
      } else {
        await Deno.remove(this.path).catch(() => {});
      }
      await doc.write({ ...doc.value, lastError: (error as Error).message });
      throw error;
    }
    this.#conf = conf;
    await doc.write({ hash, appliedAt: Date.now(), lastError: null });
    this.#o.log.info("wireguard tunnel up", { ifname, addresses: conf.addresses });
    return { changed: true, ifname };
  }

  /** Takes the tunnel down (no-op when it is not up). */
  async down(): Promise<void> {
    if (!this.isLive()) return;
    await this.#wgQuick("down");
    await this.#o.document.write({ ...this.#o.document.value, hash: null });
  }

  /** Live status, or null when no tunnel of ours is configured and up. */
  async status(): Promise<WireGuardTunnelStatus | null> {
    const conf = this.#conf;
    if (!conf || !this.isLive()) return null;
    const live = await queryUapi(this.#o.ifname);
    if (live === null && uapiSocketExists(this.#o.ifname)) return null;
    const ip4 = conf.addresses.find((a) => !a.includes(":"))?.split("/")[0] ?? "";
    const ip6 = conf.addresses.find((a) => a.includes(":"))?.split("/")[0] ?? "";
    const endpoint = conf.peers.find((p) => p.endpoint)?.endpoint ?? null;
    return {
      ifname: this.#o.ifname,
      host: endpoint ? endpointHost(endpoint) : "",
      ip4,
      ip6,
      live: true,
      lastHandshakeSec: Math.max(0, ...(live?.peers.map((p) => p.lastHandshakeSec) ?? [0])),
    };
  }

  async #wgQuick(action: "up" | "down"): Promise<void> {
    const argv = [
      ...(this.#o.netns ? ["ip", "netns", "exec", this.#o.netns] : []),
      "wg-quick",
      action,
      this.path,
    ];
    await this.#o.runner(argv, {
      timeoutMs: this.#o.timeoutMs ?? 30_000,
      env: { WG_QUICK_USERSPACE_IMPLEMENTATION: "wireguard-go" },
    });
  }
}
