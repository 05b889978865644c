/**
 * DNS_OVERRIDE: points the resolver at given servers and puts the original back on disable. The
 * backup of the original is stored durably (state document) before anything changes, so a crash
 * in between still restores it.
 */
import type { JsonDocument, Logger } from "../../core/mod.ts";
import type { CryptodedDnsResolver } from "./backends.ts";
import type { CryptodedSavedState } from "./tunnels/mod.ts";

/** What DNS_OVERRIDE status reports. */
export interface DnsOverrideStatus {
  enabled: boolean;
  servers: string[];
  method: string | null;
  /** The name servers the resolver uses now. */
  current: string[];
}

/** The DNS override of one service instance. */
export class DnsOverride {
  readonly #resolver: CryptodedDnsResolver;
  readonly #saved: JsonDocument<CryptodedSavedState>;
  readonly #log: Logger;

  constructor(
    resolver: CryptodedDnsResolver,
    saved: JsonDocument<CryptodedSavedState>,
    log: Logger,
  ) {
    this.#resolver = resolver;
    this.#saved = saved;
    this.#log = log;
  }

  /** The stored override (null: disabled). */
  get saved(): CryptodedSavedState["dns"] {
    return this.#saved.value.dns;
  }

  /** Whether an override is on, with which servers, and what the resolver uses now. */
  async status(): Promise<DnsOverrideStatus> {
    const saved = this.saved;
    return {
      enabled: saved !== null,
      servers: saved?.servers ?? [],
      method: saved?.backup.kind ?? null,
      current: await this.#resolver.current(),
    };
  }

  /** Puts the original back (nothing when no override is on). */
  async disable(): Promise<void> {
    const saved = this.saved;
    if (!saved) return;
    await this.#resolver.restore(saved.backup);
    await this.#saved.write({ ...this.#saved.value, dns: null });
    this.#log.info("DNS override disabled; original restored", { method: saved.backup.kind });
  }

  /** Points the resolver at `servers`, backing the original up first. */
  async enable(servers: string[]): Promise<void> {
    const saved = this.saved;
    const doc = this.#saved;
    const method = this.#resolver.detect();
    let backup = saved?.backup;
    if (!backup) {
      backup = await this.#resolver.backup(method);
      // the backup is durable before anything changes
      await doc.write({ ...doc.value, dns: { servers: [], backup } });
    }
    try {
      await this.#resolver.apply(servers, backup);
    } catch (error) {
      if (!saved) await doc.write({ ...doc.value, dns: null }).catch(() => {});
      throw error;
    }
    try {
      await doc.write({ ...doc.value, dns: { servers, backup } });
    } catch (error) {
      // not acknowledged (disk full, read-only): the resolver goes back to what is on record
      const back = saved && saved.servers.length > 0
        ? this.#resolver.apply(saved.servers, backup)
        : this.#resolver.restore(backup);
      await back.catch((e) => this.#log.error("DNS override not put back", { error: e }));
      throw error;
    }
    this.#log.info("DNS override enabled", { servers, method: backup.kind });
  }
}
