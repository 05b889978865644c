/**
 * What cryptoded keeps durably in its state document: the SCRIPT_SECURITY choice, the DNS
 * override and its backup, each connection's last pre-exec status, and the connects acknowledged
 * but not yet settled (resumed after a restart).
 */
import type { JsonDocument, Logger } from "../../../core/mod.ts";
import type { DnsBackup } from "../../../backends/resolver/mod.ts";

/** The state document of the cryptoded service. */
export interface CryptodedSavedState {
  scriptSecurity: boolean | null;
  dns: { servers: string[]; backup: DnsBackup } | null;
  /** pre-exec-status of each connection's last attempt. */
  preExec: Record<string, number>;
  /** Connects acknowledged but not yet settled (resumed after a restart). */
  pending: string[];
}

/** An empty saved state. */
export function emptySaved(): CryptodedSavedState {
  return { scriptSecurity: null, dns: null, preExec: {}, pending: [] };
}

/** Reads a stored document, keeping each field that has the right shape. */
export function parseSaved(data: unknown): CryptodedSavedState {
  const base = emptySaved();
  if (typeof data !== "object" || data === null) throw new TypeError("state is not an object");
  const d = data as Partial<CryptodedSavedState>;
  return {
    scriptSecurity: typeof d.scriptSecurity === "boolean" ? d.scriptSecurity : null,
    dns: d.dns && Array.isArray(d.dns.servers) && typeof d.dns.backup === "object"
      ? d.dns
      : base.dns,
    preExec: typeof d.preExec === "object" && d.preExec !== null ? d.preExec : {},
    pending: Array.isArray(d.pending) ? d.pending.filter((n) => typeof n === "string") : [],
  };
}

/** Marks (or unmarks) a connect of `name` as acknowledged but not settled. */
export async function setPending(
  saved: JsonDocument<CryptodedSavedState>,
  name: string,
  on: boolean,
): Promise<void> {
  const v = saved.value;
  const has = v.pending.includes(name);
  if (has === on) return;
  const pending = on ? [...v.pending, name] : v.pending.filter((n) => n !== name);
  await saved.write({ ...v, pending });
}

/** Unmarks a pending connect in the background (a failed write is logged). */
export function settlePending(
  saved: JsonDocument<CryptodedSavedState>,
  name: string,
  log: Logger,
): void {
  setPending(saved, name, false).catch((error) => log.error("saving state failed", { error }));
}

/** Stores the pre-exec status of `name`'s last attempt (a failed write is logged). */
export async function savePreExecStatus(
  saved: JsonDocument<CryptodedSavedState>,
  name: string,
  status: number,
  log: Logger,
): Promise<void> {
  const v = saved.value;
  if (v.preExec[name] === status) return;
  await saved.write({ ...v, preExec: { ...v.preExec, [name]: status } }).catch((error) =>
    log.error("saving state failed", { error })
  );
}
