/**
 * The listeners of one worker: their specs (as sessions see them), their certificates (HTTPS),
 * and the bound socket of each active one — plain TCP, or TLS on the engine
 * {@linkcode chooseTlsEngine} picks. Certificate orders update a listener's store, then tell its
 * bound socket, so the next handshake sees the change.
 */
import { parseAddress } from "./address.ts";
import type { ByteConn } from "./backend_pool.ts";
import { CertificateStore } from "./certificates.ts";
import {
  type BoundFront,
  chooseTlsEngine,
  type FrontLog,
  type FrontOptions,
  PlainFront,
  type TlsEngineName,
} from "./listeners.ts";
import type { CertificateSpec, ListenerSpec, TlsEngineChoice } from "./model.ts";
import type { ListenerRuntime } from "./session.ts";
import { nativeResolverSymbol, NativeTlsFront } from "./tls_native.ts";
import { NodeTlsFront } from "./tls_node.ts";
import { ProxiedTlsFront } from "./tls_proxied.ts";

/** Options for a {@linkcode ListenerSet}. */
export interface ListenerSetOptions {
  reusePort: boolean;
  tlsEngine: TlsEngineChoice;
  log: FrontLog;
  /** Serves an accepted connection (a TLS one not yet handshaken) of a listener. */
  serve(conn: ByteConn, runtime: ListenerRuntime, tls: boolean): void;
}

interface ListenerState {
  runtime: ListenerRuntime;
  front: BoundFront | null;
  /** HTTPS listeners: their certificates. */
  certs: CertificateStore | null;
  /** Bumped by every activate/deactivate, so a slow bind that lost the race is closed. */
  turn: number;
  engine: TlsEngineName | null;
}

/** The runtime view of a listener spec (defaults applied). */
export function runtimeOf(spec: ListenerSpec): ListenerRuntime {
  const bound = parseAddress(spec.address);
  let publicPort = String(bound.port);
  if (spec.publicAddress) {
    try {
      publicPort = String(parseAddress(spec.publicAddress).port);
    } catch {
      // keep the bound port
    }
  }
  return {
    address: spec.address,
    spec,
    proto: spec.protocol,
    publicPort,
    byAddress: bound.hostname,
    frontTimeoutMs: spec.frontTimeoutMs ?? 60_000,
    backTimeoutMs: spec.backTimeoutMs ?? 30_000,
    connectTimeoutMs: spec.connectTimeoutMs ?? 3_000,
    requestTimeoutMs: spec.requestTimeoutMs ?? 10_000,
  };
}

/** The listeners of a worker. */
export class ListenerSet {
  #options: ListenerSetOptions;
  #listeners = new Map<string, ListenerState>();
  #nativeAvailable = nativeResolverSymbol() !== null;

  constructor(options: ListenerSetOptions) {
    this.#options = options;
  }

  /** Adds a listener, or updates its spec. */
  add(spec: ListenerSpec): void {
    const runtime = runtimeOf(spec);
    const existing = this.#listeners.get(spec.address);
    const defaultCertificate = spec.tls?.defaultCertificate ?? null;
    if (existing) {
      existing.runtime = runtime;
      existing.certs?.setListenerDefault(defaultCertificate);
      return void this.#certificatesChanged(existing);
    }
    this.#listeners.set(spec.address, {
      runtime,
      front: null,
      certs: spec.protocol === "https" ? new CertificateStore(defaultCertificate) : null,
      turn: 0,
      engine: null,
    });
  }

  /** Stops and forgets a listener. */
  remove(address: string): void {
    const state = this.#listeners.get(address);
    if (!state) return;
    this.#close(state);
    this.#listeners.delete(address);
  }

  /** Binds a listener (every worker binds its own socket: SO_REUSEPORT). */
  activate(address: string): void | Promise<void> {
    const state = this.#listeners.get(address);
    if (!state) throw new Error(`no listener at "${address}"`);
    if (state.front) return;
    const turn = ++state.turn;
    if (!state.certs) {
      state.front = new PlainFront(this.#frontOptions(state));
      return;
    }
    return this.#bindTls(state, turn, this.#engineFor(state));
  }

  #frontOptions(state: ListenerState): FrontOptions {
    const tls = state.certs !== null;
    return {
      address: state.runtime.address,
      reusePort: this.#options.reusePort,
      serve: (conn) => this.#options.serve(conn, state.runtime, tls),
      log: this.#options.log,
    };
  }

  #engineFor(state: ListenerState): TlsEngineName {
    // The PROXY header precedes TLS: only node:tls can handshake on a connection already read.
    if (state.runtime.spec.expectProxy) return "node";
    const versions = state.runtime.spec.tls?.versions ?? ["TLSv1.2", "TLSv1.3"];
    const one = state.certs!.soleCertificate() !== null;
    return chooseTlsEngine(this.#options.tlsEngine, versions, this.#nativeAvailable, one);
  }

  /**
   * Binds an HTTPS listener on `engine`; a front already bound (another engine) is closed once
   * the new one listens (both share the port meanwhile), so no connection is refused.
   */
  #bindTls(state: ListenerState, turn: number, engine: TlsEngineName): void | Promise<void> {
    const runtime = state.runtime;
    const options = {
      ...this.#frontOptions(state),
      store: state.certs!,
      versions: runtime.spec.tls?.versions ?? ["TLSv1.2", "TLSv1.3"],
      handshakeTimeoutMs: runtime.requestTimeoutMs,
    };
    const previous = state.front;
    if (previous && !this.#options.reusePort) {
      state.front = null;
      previous.close();
    }
    const bound = (front: BoundFront) => {
      if (state.turn !== turn || this.#listeners.get(runtime.address) !== state) {
        front.close();
        return;
      }
      state.front?.close();
      state.front = front;
      state.engine = engine;
    };
    if (runtime.spec.expectProxy) return bound(new ProxiedTlsFront(options));
    if (engine === "native") return bound(new NativeTlsFront(options));
    return NodeTlsFront.bind(options).then(bound);
  }

  /** After a certificate change: the engine the listener now needs, or the same one told. */
  #certificatesChanged(state: ListenerState): void | Promise<void> {
    if (!state.front || !state.engine) return;
    const engine = this.#engineFor(state);
    if (engine === state.engine) return state.front.certificatesChanged();
    this.#options.log("debug", "TLS listener changes engine", {
      listener: state.runtime.address,
      engine,
    });
    return this.#bindTls(state, ++state.turn, engine);
  }

  /** Stops listening (open connections keep running). */
  deactivate(address: string): void {
    const state = this.#listeners.get(address);
    if (state) this.#close(state);
  }

  #close(state: ListenerState): void {
    state.turn++;
    const front = state.front;
    state.front = null;
    state.engine = null;
    front?.close();
  }

  /** Stops every listener. */
  closeAll(): void {
    for (const state of this.#listeners.values()) this.#close(state);
  }

  #certs(address: string): ListenerState & { certs: CertificateStore } {
    const state = this.#listeners.get(address);
    if (!state?.certs) throw new Error(`no HTTPS listener at "${address}"`);
    return state as ListenerState & { certs: CertificateStore };
  }

  /** Adds a certificate to an HTTPS listener. */
  addCertificate(address: string, spec: CertificateSpec): void | Promise<void> {
    const state = this.#certs(address);
    state.certs.add(spec);
    return this.#certificatesChanged(state);
  }

  /** Removes a certificate from an HTTPS listener. */
  removeCertificate(address: string, fingerprint: string): void | Promise<void> {
    const state = this.#certs(address);
    if (state.certs.remove(fingerprint)) return this.#certificatesChanged(state);
  }

  /** Replaces a certificate in one step: no handshake sees neither or both. */
  replaceCertificate(
    address: string,
    oldFingerprint: string,
    spec: CertificateSpec,
  ): void | Promise<void> {
    const state = this.#certs(address);
    if (oldFingerprint !== spec.fingerprint) state.certs.remove(oldFingerprint);
    state.certs.add(spec);
    return this.#certificatesChanged(state);
  }

  /** Addresses of the listeners currently accepting. */
  active(): string[] {
    return [...this.#listeners.entries()].filter(([, s]) => s.front !== null).map(([a]) => a);
  }

  /** The TLS engine of each active HTTPS listener. */
  engines(): Record<string, TlsEngineName> {
    const out: Record<string, TlsEngineName> = {};
    for (const [address, s] of this.#listeners) if (s.engine) out[address] = s.engine;
    return out;
  }

  /** The runtime view of a listener. */
  runtime(address: string): ListenerRuntime | undefined {
    return this.#listeners.get(address)?.runtime;
  }

  /**
   * The public port of the HTTPS listener an `https_redirect` should point to: one whose fronts
   * route this host and path (`routes`), else the first HTTPS listener, else null (443).
   */
  httpsPort(routes: (address: string) => boolean): number | null {
    let first: number | null = null;
    for (const [address, s] of this.#listeners) {
      if (s.runtime.proto !== "https") continue;
      const port = Number(s.runtime.publicPort);
      if (routes(address)) return port;
      first ??= port;
    }
    return first;
  }
}
