/**
 * The native TLS engine: `Deno.listenTls` with Deno's internal SNI resolver
 * (`Deno[Deno.internal].resolverSymbol`, the registered symbol "unstableSniResolver"), design D5
 * of tls-performance.md: rustls in Deno's own event loop, the HTTP loop on the `TlsConn`.
 *
 * A listener with one certificate in all (no other name, no other default) is bound with it
 * directly instead (design D2): no SNI to look at, so rustls keeps one configuration, resumes
 * sessions and parses the key once (RSA handshakes cost far less).
 *
 * Deno asks the resolver once per distinct server name per listener and keeps the answer for the
 * listener's life (an error too). So this front remembers which certificate it gave each name
 * ("seen"); when a certificate change would give a seen name another one, or when the seen names
 * pass {@linkcode MAX_SEEN_NAMES} (random SNI), it opens a new listener generation on the same
 * port (SO_REUSEPORT) and closes the old one: new handshakes get the new certificate at once,
 * open connections keep running. Names never seen need no swap: their first handshake asks.
 * Caveat: connections the kernel had queued on the old socket but not yet accepted are reset when
 * it closes, unless `net.ipv4.tcp_migrate_req = 1` moves them to the new one.
 */
import { parseAddress } from "./address.ts";
import type { CertificateSpec } from "./model.ts";
import {
  acceptLoop,
  bindError,
  type BoundFront,
  closeListener,
  TCP_BACKLOG,
  type TlsFrontOptions,
} from "./listeners.ts";

/** Names a generation may have seen before it is replaced (bounds Deno's per-name cache). */
export const MAX_SEEN_NAMES = 10_000;

/** What the resolver returns when the listener has no certificate: Deno fails the handshake. */
const NO_CERTIFICATE = Object.freeze({});

interface KeyPair {
  cert: string;
  key: string;
}

const pairs = new WeakMap<CertificateSpec, KeyPair>();

function pairOf(spec: CertificateSpec): KeyPair {
  let pair = pairs.get(spec);
  if (!pair) {
    const chain = spec.chain.length > 0 ? "\n" + spec.chain.join("\n") : "";
    pair = { cert: spec.certificate.trimEnd() + chain, key: spec.key };
    pairs.set(spec, pair);
  }
  return pair;
}

/**
 * Deno's internal SNI resolver symbol, or null when this Deno has none (then HTTPS listeners use
 * the node engine).
 */
export function nativeResolverSymbol(): symbol | null {
  const deno = Deno as unknown as Record<symbol, unknown>;
  const internal = (Deno as unknown as { internal?: symbol }).internal;
  if (typeof internal !== "symbol") return null;
  const symbol = (deno[internal] as { resolverSymbol?: unknown } | undefined)?.resolverSymbol;
  return typeof symbol === "symbol" ? symbol : null;
}

interface Generation {
  listener: Deno.TlsListener | null;
  /** Bound with this one certificate (its fingerprint), or null: bound with the resolver. */
  sole: string | null;
  /** server name → fingerprint given (null: no certificate). */
  seen: Map<string, string | null>;
}

/** An HTTPS listener on the native engine. */
export class NativeTlsFront implements BoundFront {
  #options: TlsFrontOptions;
  #symbol: symbol | null;
  #gen: Generation;
  #closed = false;
  #retry: ReturnType<typeof setTimeout> | null = null;

  /**
   * Binds now; throws an error naming the address when it cannot (or when the listener needs
   * the SNI resolver and this Deno has none).
   */
  constructor(options: TlsFrontOptions) {
    this.#options = options;
    this.#symbol = nativeResolverSymbol();
    try {
      this.#gen = this.#listen();
    } catch (error) {
      throw bindError(options.address, error);
    }
  }

  #listen(): Generation {
    const { hostname, port } = parseAddress(this.#options.address);
    const store = this.#options.store;
    const sole = store.soleCertificate();
    const gen: Generation = { listener: null, sole: sole?.fingerprint ?? null, seen: new Map() };
    if (sole === null && this.#symbol === null) {
      throw new Error("several certificates need Deno's internal SNI resolver, which is gone");
    }
    // Must never throw: Deno would fail this name for the generation's whole life.
    const resolve = (serverName: string): KeyPair | object => {
      try {
        const spec = store.resolve(serverName);
        gen.seen.set(serverName, spec?.fingerprint ?? null);
        if (gen.seen.size > MAX_SEEN_NAMES) queueMicrotask(() => this.#swap());
        return spec ? pairOf(spec) : NO_CERTIFICATE;
      } catch {
        return NO_CERTIFICATE;
      }
    };
    const listener = Deno.listenTls(
      {
        hostname,
        port,
        alpnProtocols: ["http/1.1"],
        reusePort: this.#options.reusePort,
        tcpBacklog: TCP_BACKLOG,
        ...(sole ? pairOf(sole) : { [this.#symbol!]: resolve }),
      } as unknown as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
    );
    gen.listener = listener;
    acceptLoop(listener, () => gen.listener === listener, this.#options);
    return gen;
  }

  /**
   * Swaps generations when a name already answered would now get another certificate (or, bound
   * with its only certificate, when that is no longer the only one).
   */
  certificatesChanged(): void {
    const store = this.#options.store;
    const sole = this.#gen.sole;
    if (sole !== null) {
      if (store.soleCertificate()?.fingerprint !== sole) this.#swap();
      return;
    }
    for (const [name, given] of this.#gen.seen) {
      if ((store.resolve(name)?.fingerprint ?? null) !== given) {
        this.#swap();
        return;
      }
    }
  }

  /** A new listener generation with an empty cache; the old one closes. */
  #swap(): void {
    if (this.#closed) return;
    const old = this.#gen;
    if (old.seen.size === 0 && old.sole === null) return;
    if (!this.#options.reusePort) {
      // Without SO_REUSEPORT the port must be free first: a short window of refused connections.
      const listener = old.listener;
      old.listener = null;
      closeListener(listener);
    }
    let next: Generation;
    try {
      next = this.#listen();
    } catch (error) {
      this.#options.log("error", "could not renew a TLS listener after a certificate change", {
        listener: this.#options.address,
        error: String(error),
      });
      this.#retry ??= setTimeout(() => {
        this.#retry = null;
        this.#swap();
      }, 1000);
      return;
    }
    this.#gen = next;
    const listener = old.listener;
    old.listener = null;
    closeListener(listener);
    this.#options.log("debug", "TLS listener renewed", {
      listener: this.#options.address,
      names: old.seen.size,
    });
  }

  close(): void {
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    const listener = this.#gen.listener;
    this.#gen.listener = null;
    closeListener(listener);
  }
}
