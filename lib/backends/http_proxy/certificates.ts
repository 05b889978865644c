/**
 * The certificates of one HTTPS listener and the choice among them by SNI: an exact name beats a
 * one-label wildcard (`*.example.com` covers `a.example.com`, not `a.b.example.com`); a client
 * with no SNI or an unknown name gets the default certificate (the listener's own, else the first
 * one added that is still there) instead of an aborted handshake. When several certificates claim
 * a name, the one added last serves it, and removing it gives the name back to the one before.
 */
import type { CertificateSpec } from "./model.ts";

function lowerName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function push(map: Map<string, string[]>, key: string, fingerprint: string): void {
  const list = (map.get(key) ?? []).filter((fp) => fp !== fingerprint);
  list.push(fingerprint);
  map.set(key, list);
}

function pull(map: Map<string, string[]>, key: string, fingerprint: string): void {
  const list = map.get(key)?.filter((fp) => fp !== fingerprint);
  if (!list || list.length === 0) map.delete(key);
  else map.set(key, list);
}

/** The certificates of one listener. */
export class CertificateStore {
  #byFingerprint = new Map<string, CertificateSpec>();
  /** exact name → fingerprints, the last one serving. */
  #exact = new Map<string, string[]>();
  /** ".example.com" (of "*.example.com") → fingerprints, the last one serving. */
  #wildcard = new Map<string, string[]>();
  #listenerDefault: CertificateSpec | null;

  constructor(listenerDefault: CertificateSpec | null = null) {
    this.#listenerDefault = listenerDefault;
  }

  /** Number of certificates (the listener's own default aside). */
  get size(): number {
    return this.#byFingerprint.size;
  }

  /** Sets the listener's own default certificate (null: the first one added). */
  setListenerDefault(spec: CertificateSpec | null): void {
    this.#listenerDefault = spec;
  }

  /** The certificate with this fingerprint. */
  get(fingerprint: string): CertificateSpec | undefined {
    return this.#byFingerprint.get(fingerprint);
  }

  /** Adds (or updates the names of) a certificate. */
  add(spec: CertificateSpec): void {
    const before = this.#byFingerprint.get(spec.fingerprint);
    if (before) this.#unindex(before);
    this.#byFingerprint.set(spec.fingerprint, spec);
    for (const raw of spec.names) {
      const name = lowerName(raw);
      if (name.startsWith("*.")) push(this.#wildcard, name.slice(1), spec.fingerprint);
      else push(this.#exact, name, spec.fingerprint);
    }
  }

  /** Removes a certificate; false when it was not there. */
  remove(fingerprint: string): boolean {
    const spec = this.#byFingerprint.get(fingerprint);
    if (!spec) return false;
    this.#unindex(spec);
    this.#byFingerprint.delete(fingerprint);
    return true;
  }

  #unindex(spec: CertificateSpec): void {
    for (const raw of spec.names) {
      const name = lowerName(raw);
      if (name.startsWith("*.")) pull(this.#wildcard, name.slice(1), spec.fingerprint);
      else pull(this.#exact, name, spec.fingerprint);
    }
  }

  /** The default certificate: the listener's own, else the first added one still present. */
  defaultCertificate(): CertificateSpec | null {
    if (this.#listenerDefault) return this.#listenerDefault;
    for (const spec of this.#byFingerprint.values()) return spec;
    return null;
  }

  /**
   * The listener's only certificate, when every name and the default resolve to one and the
   * same certificate (then a listener can serve it without looking at SNI); else null.
   */
  soleCertificate(): CertificateSpec | null {
    const own = this.#listenerDefault;
    if (this.#byFingerprint.size === 0) return own;
    if (this.#byFingerprint.size > 1) return null;
    const [only] = this.#byFingerprint.values();
    return own === null || own.fingerprint === only!.fingerprint ? only! : null;
  }

  /** The certificate for a server name ("" = no SNI), or null when the listener has none. */
  resolve(serverName: string): CertificateSpec | null {
    if (serverName !== "") {
      const name = lowerName(serverName);
      const exact = this.#exact.get(name);
      if (exact) return this.#byFingerprint.get(exact[exact.length - 1]!)!;
      const dot = name.indexOf(".");
      if (dot > 0) {
        const wild = this.#wildcard.get(name.slice(dot));
        if (wild) return this.#byFingerprint.get(wild[wild.length - 1]!)!;
      }
    }
    return this.defaultCertificate();
  }
}
