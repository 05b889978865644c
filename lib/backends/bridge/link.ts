/** The container bridge: create it idempotently with its gateway addresses, delete it. */
import { CommandError, type CommandRunner } from "../../core/mod.ts";

const TIMEOUT_MS = 10_000;

/** Interface names the agent creates: kernel limit of 15 bytes, no odd characters. */
export const LINK_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

function checkName(name: string): void {
  if (!LINK_NAME.test(name)) throw new TypeError(`Invalid link name "${name}"`);
}

/** Whether a link exists. */
export async function linkExists(runner: CommandRunner, name: string): Promise<boolean> {
  checkName(name);
  const r = await runner(["ip", "-o", "link", "show", "dev", name], {
    timeoutMs: TIMEOUT_MS,
    check: false,
  });
  return r.code === 0;
}

/** Options for {@linkcode ensureBridge}. */
export interface BridgeOptions {
  name: string;
  /** Gateway addresses in CIDR form, e.g. `10.93.0.1/24`, `fd93::1/64`. */
  addresses: readonly string[];
}

/** Makes sure the bridge exists, is up and carries its addresses; returns whether it changed. */
export async function ensureBridge(
  runner: CommandRunner,
  options: BridgeOptions,
): Promise<boolean> {
  checkName(options.name);
  let changed = false;
  if (!await linkExists(runner, options.name)) {
    await runner(["ip", "link", "add", options.name, "type", "bridge"], { timeoutMs: TIMEOUT_MS });
    changed = true;
  }
  const shown = await runner(["ip", "-j", "addr", "show", "dev", options.name], {
    timeoutMs: TIMEOUT_MS,
  });
  const have = new Set<string>();
  const parsed = JSON.parse(shown.stdout || "[]") as {
    addr_info?: { local: string; prefixlen: number }[];
    operstate?: string;
    flags?: string[];
  }[];
  for (const link of parsed) {
    for (const a of link.addr_info ?? []) have.add(`${a.local}/${a.prefixlen}`);
  }
  for (const address of options.addresses) {
    if (have.has(address)) continue;
    const argv = ["ip", "addr", "add", address, "dev", options.name];
    if (address.includes(":")) argv.push("nodad");
    await runner(argv, { timeoutMs: TIMEOUT_MS });
    changed = true;
  }
  if (!parsed[0]?.flags?.includes("UP")) {
    await runner(["ip", "link", "set", options.name, "up"], { timeoutMs: TIMEOUT_MS });
    changed = true;
  }
  return changed;
}

/** Deletes a link; a missing one is fine. */
export async function deleteLink(runner: CommandRunner, name: string): Promise<void> {
  checkName(name);
  try {
    await runner(["ip", "link", "del", name], { timeoutMs: TIMEOUT_MS });
  } catch (error) {
    if (
      error instanceof CommandError && /Cannot find device|does not exist/i.test(error.stderrTail)
    ) {
      return;
    }
    throw error;
  }
}

/**
 * Makes sure `port` (a container's host-side veth) is enslaved to `bridge`; returns true when it
 * had to be re-attached, false when it already was, null when the link does not exist.
 */
export async function ensurePort(
  runner: CommandRunner,
  port: string,
  bridge: string,
): Promise<boolean | null> {
  checkName(port);
  checkName(bridge);
  const shown = await runner(["ip", "-j", "link", "show", "dev", port], {
    timeoutMs: TIMEOUT_MS,
    check: false,
  });
  if (shown.code !== 0) return null;
  const link = (JSON.parse(shown.stdout || "[]") as { master?: string }[])[0];
  if (link?.master === bridge) return false;
  await runner(["ip", "link", "set", port, "master", bridge], { timeoutMs: TIMEOUT_MS });
  return true;
}
