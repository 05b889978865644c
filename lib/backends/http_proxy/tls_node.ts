/**
 * The node TLS engine: `node:tls` with `SNICallback` (design D3 of tls-performance.md), the
 * public API. The callback runs on every handshake, so a certificate change applies to the next
 * handshake with nothing to renew; sessions resume; the listener's `versions` are honoured. Each
 * handshaken socket is wrapped as a {@linkcode ByteConn} so the same HTTP loop serves it.
 */
import {
  createSecureContext,
  createServer,
  type SecureContext,
  type Server,
  type TlsOptions,
} from "node:tls";
import type { Socket } from "node:net";
import { parseAddress } from "./address.ts";
import type { ByteConn } from "./backend_pool.ts";
import type { CertificateSpec, TlsVersion } from "./model.ts";
import { bindError, type BoundFront, TCP_BACKLOG, type TlsFrontOptions } from "./listeners.ts";

/** Bytes buffered from a client before its socket is paused. */
const HIGH_WATER = 256 * 1024;

/** Longest a closing connection may take to send its close_notify before it is dropped, ms. */
const CLOSE_GRACE_MS = 1000;

/** A handshaken `node:tls` socket as the proxy's byte connection. */
export class NodeTlsConn implements ByteConn {
  readonly remoteAddr: Deno.NetAddr;
  readonly localAddr: Deno.NetAddr;
  #socket: Socket;
  #chunks: Uint8Array[] = [];
  #offset = 0;
  #buffered = 0;
  #ended = false;
  #error: Error | null = null;
  #reader: { p: Uint8Array; resolve(n: number | null): void; reject(e: Error): void } | null = null;
  #paused = false;
  #closing = false;

  /** `addresses`: the client's, when the socket does not know them (TLS over a stream). */
  constructor(socket: Socket, addresses?: { remote: Deno.NetAddr; local: Deno.NetAddr }) {
    this.#socket = socket;
    this.remoteAddr = addresses?.remote ?? {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "unknown",
      port: socket.remotePort ?? 0,
    };
    this.localAddr = addresses?.local ?? {
      transport: "tcp",
      hostname: socket.localAddress ?? "unknown",
      port: socket.localPort ?? 0,
    };
    socket.on("data", (chunk: Uint8Array) => this.#onData(chunk));
    socket.on("end", () => this.#finish(null));
    socket.on("close", () => this.#finish(null));
    socket.on("error", (error: Error) => this.#finish(error));
  }

  #onData(chunk: Uint8Array): void {
    const reader = this.#reader;
    if (reader !== null && this.#chunks.length === 0) {
      this.#reader = null;
      const n = Math.min(chunk.byteLength, reader.p.byteLength);
      reader.p.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n));
      if (n < chunk.byteLength) this.#keep(chunk.subarray(n));
      reader.resolve(n);
      return;
    }
    this.#keep(chunk);
  }

  #keep(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
    if (this.#buffered > HIGH_WATER && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  #finish(error: Error | null): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    const reader = this.#reader;
    this.#reader = null;
    if (reader === null) return;
    if (error) reader.reject(error);
    else reader.resolve(null);
  }

  read(p: Uint8Array): Promise<number | null> {
    if (this.#chunks.length > 0) return Promise.resolve(this.#take(p));
    if (this.#ended) {
      return this.#error ? Promise.reject(this.#error) : Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      this.#reader = { p, resolve, reject };
    });
  }

  #take(p: Uint8Array): number {
    let n = 0;
    while (n < p.byteLength && this.#chunks.length > 0) {
      const head = this.#chunks[0]!;
      const from = head.subarray(this.#offset);
      const take = Math.min(from.byteLength, p.byteLength - n);
      p.set(take === from.byteLength ? from : from.subarray(0, take), n);
      n += take;
      if (take === from.byteLength) {
        this.#chunks.shift();
        this.#offset = 0;
      } else {
        this.#offset += take;
      }
    }
    this.#buffered -= n;
    if (this.#paused && this.#buffered < HIGH_WATER / 2) {
      this.#paused = false;
      this.#socket.resume();
    }
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#ended || this.#socket.destroyed) {
      return Promise.reject(new Deno.errors.BrokenPipe("the TLS connection is closed"));
    }
    // The caller reuses its buffer as soon as the write resolves: hand node a copy.
    if (this.#socket.write(p.slice())) return Promise.resolve(p.byteLength);
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        this.#socket.off("drain", ok);
        this.#socket.off("close", closed);
        if (error) reject(error);
        else resolve(p.byteLength);
      };
      const ok = () => done();
      const closed = () => done(new Deno.errors.BrokenPipe("the TLS connection is closed"));
      this.#socket.once("drain", ok);
      this.#socket.once("close", closed);
    });
  }

  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }

  /**
   * Closes with a TLS close_notify when the socket can still write: a client whose connection
   * ends without one (OpenSSL: "unexpected EOF") marks its session unresumable, so a plain
   * destroy cost every `Connection: close` client its TLS 1.3 resumption. The socket is
   * destroyed once the alert is out, or after {@linkcode CLOSE_GRACE_MS} at the latest.
   */
  close(): void {
    const socket = this.#socket;
    this.#finish(null);
    if (socket.destroyed || this.#closing) return;
    this.#closing = true;
    if (!socket.writable || socket.writableNeedDrain) {
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    Deno.unrefTimer(timer);
    socket.once("close", () => clearTimeout(timer));
    socket.end(() => socket.destroy());
  }
}

function versionRange(versions: readonly TlsVersion[]) {
  return {
    minVersion: versions.includes("TLSv1.2") ? "TLSv1.2" as const : "TLSv1.3" as const,
    maxVersion: versions.includes("TLSv1.3") ? "TLSv1.3" as const : "TLSv1.2" as const,
  };
}

/**
 * The node TLS options of a listener: versions, ALPN, and an `SNICallback` that asks the
 * listener's certificate store on every handshake (contexts cached per certificate).
 */
export class SniContexts {
  #options: TlsFrontOptions;
  #contexts = new Map<string, SecureContext>();

  constructor(options: TlsFrontOptions) {
    this.#options = options;
  }

  /** Options for `tls.createServer` or a server-side `TLSSocket`. */
  serverOptions(): TlsOptions {
    const store = this.#options.store;
    return {
      ALPNProtocols: ["http/1.1"],
      ...versionRange(this.#options.versions),
      SNICallback: (name, cb) => {
        try {
          const spec = store.resolve(name ?? "");
          if (spec) cb(null, this.#context(spec));
          else cb(new Error("the listener has no certificate"), undefined);
        } catch (error) {
          cb(error instanceof Error ? error : new Error(String(error)), undefined);
        }
      },
    };
  }

  #context(spec: CertificateSpec): SecureContext {
    let context = this.#contexts.get(spec.fingerprint);
    if (!context) {
      context = createSecureContext({
        cert: [spec.certificate, ...spec.chain].join("\n"),
        key: spec.key,
        ...versionRange(this.#options.versions),
      });
      this.#contexts.set(spec.fingerprint, context);
    }
    return context;
  }

  /** Drops the contexts of certificates that left the listener (the callback sees the rest). */
  certificatesChanged(): void {
    const store = this.#options.store;
    for (const fingerprint of this.#contexts.keys()) {
      if (!store.get(fingerprint) && store.defaultCertificate()?.fingerprint !== fingerprint) {
        this.#contexts.delete(fingerprint);
      }
    }
  }
}

/** An HTTPS listener on the node engine. */
export class NodeTlsFront implements BoundFront {
  #server: Server;
  #contexts: SniContexts;
  #closed = false;

  private constructor(options: TlsFrontOptions) {
    this.#contexts = new SniContexts(options);
    this.#server = createServer({
      ...this.#contexts.serverOptions(),
      handshakeTimeout: options.handshakeTimeoutMs,
    }, (socket) => {
      if (this.#closed) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      options.serve(new NodeTlsConn(socket as unknown as Socket));
    });
    this.#server.on("tlsClientError", (error: Error) => {
      options.log("debug", "TLS handshake failed", {
        listener: options.address,
        error: error.message,
      });
    });
  }

  /** Binds; rejects with an error naming the address when it cannot. */
  static async bind(options: TlsFrontOptions): Promise<NodeTlsFront> {
    const front = new NodeTlsFront(options);
    const { hostname, port } = parseAddress(options.address);
    await new Promise<void>((resolve, reject) => {
      const server = front.#server;
      const failed = (error: Error) => {
        server.off("listening", listening);
        reject(bindError(options.address, error));
      };
      const listening = () => {
        server.off("error", failed);
        resolve();
      };
      server.once("error", failed);
      server.once("listening", listening);
      server.listen(
        {
          host: hostname,
          port,
          backlog: TCP_BACKLOG,
          reusePort: options.reusePort,
        } as Parameters<Server["listen"]>[0],
      );
    });
    return front;
  }

  certificatesChanged(): void {
    this.#contexts.certificatesChanged();
  }

  close(): void {
    this.#closed = true;
    this.#server.close();
  }
}
