/**
 * Bringing the connections back after a start: read the profiles, re-adopt every openvpn a
 * previous run left running (its pid file), and resume the connects a crash cut off between their
 * acknowledgement and their settling.
 */
import { DomainError, type JsonDocument, type Logger } from "../../../core/mod.ts";
import type { CryptodedTunnelLauncher } from "../backends.ts";
import type { ConnectionLauncher } from "./launcher.ts";
import type { ConnectionRegistry } from "./registry.ts";
import { type CryptodedSavedState, setPending } from "./saved_state.ts";
import { entryStatus } from "./status.ts";

/** What a restore works with. */
export interface ConnectionRestoreParts {
  registry: ConnectionRegistry;
  launcher: ConnectionLauncher;
  tunnels: CryptodedTunnelLauncher;
  saved: JsonDocument<CryptodedSavedState>;
  log: Logger;
  /** Starts a connect (the resumed ones). */
  connect(name: string): Promise<unknown>;
}

/** Reads the profiles, re-adopts running openvpn and resumes interrupted connects. */
export async function restoreConnections(parts: ConnectionRestoreParts): Promise<void> {
  try {
    await parts.registry.scan();
  } catch (error) {
    if (!(error instanceof DomainError && error.reason === "conf-dir")) throw error;
    // logged by the scan; the socket still answers (GET_CONFDIR reports INVALID_CONF_DIR)
  }
  const pidNames = await parts.tunnels.pidNames();
  await Promise.all(pidNames.map((name) => parts.launcher.adopt(name)));
  await resumePending(parts);
}

/** Connects acknowledged before a crash but never settled. */
async function resumePending(parts: ConnectionRestoreParts): Promise<void> {
  const { registry, saved, log } = parts;
  for (const name of saved.value.pending) {
    const e = registry.get(name);
    await setPending(saved, name, false);
    if (!e || entryStatus(e) !== "DISCONNECTED") continue;
    log.info("resuming a connect interrupted by a restart", { name });
    parts.connect(name).catch((error) => log.warn("resumed connect failed", { name, error }));
  }
}
