/**
 * An HTTPS listener with `expect_proxy`: the PROXY header comes before the TLS handshake, so the
 * listener accepts plain TCP (Deno.listen), reads the header on the raw connection
 * (proxied_conn.ts), then runs the server side of TLS with `node:tls` over that connection (a
 * `TLSSocket` on a stream, the listener's certificates chosen by SNI as on the node engine).
 * `Deno.listenTls` cannot do this (it handshakes as it accepts, and Deno has no server-side
 * `startTls`), so such listeners always use this front, whatever `tls_engine` says. TLS runs in
 * JavaScript streams here: slower than either plain engine.
 */
import { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { closeQuietly } from "./backend_pool.ts";
import { type BoundFront, PlainFront, type TlsFrontOptions } from "./listeners.ts";
import { type ProxiedConn, readProxyHeader } from "./proxied_conn.ts";
import { NodeTlsConn, SniContexts } from "./tls_node.ts";

/** A node stream over a connection, for `TLSSocket` to run on. */
function streamOf(conn: ProxiedConn): Duplex {
  const buf = new Uint8Array(16 * 1024);
  return new Duplex({
    read() {
      conn.read(buf).then(
        (n) => this.push(n === null ? null : buf.slice(0, n)),
        () => this.push(null),
      );
    },
    write(chunk: Uint8Array, _encoding, done) {
      conn.write(chunk).then(async (n) => {
        let off = n;
        while (off < chunk.byteLength) off += await conn.write(chunk.subarray(off));
      }).then(() => done(), (error) => done(error));
    },
    final(done) {
      conn.closeWrite().then(() => done(), () => done());
    },
    destroy(error, done) {
      closeQuietly(conn);
      done(error);
    },
  });
}

/** An HTTPS listener that reads a PROXY header before TLS. */
export class ProxiedTlsFront implements BoundFront {
  #plain: PlainFront;
  #contexts: SniContexts;
  #options: TlsFrontOptions;

  /** Binds now; throws an error naming the address when it cannot. */
  constructor(options: TlsFrontOptions) {
    this.#options = options;
    this.#contexts = new SniContexts(options);
    this.#plain = new PlainFront({
      ...options,
      serve: (conn) => void this.#accept(conn as Deno.TcpConn),
    });
  }

  async #accept(conn: Deno.TcpConn): Promise<void> {
    const options = this.#options;
    let proxied: ProxiedConn;
    try {
      conn.setNoDelay(true);
      proxied = await readProxyHeader(conn, options.handshakeTimeoutMs);
    } catch (error) {
      closeQuietly(conn);
      options.log("debug", "connection without a valid PROXY header closed", {
        listener: options.address,
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const socket = new TLSSocket(streamOf(proxied) as unknown as Socket, {
      isServer: true,
      ...this.#contexts.serverOptions(),
    });
    const timer = setTimeout(() => socket.destroy(), options.handshakeTimeoutMs);
    const failed = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      closeQuietly(proxied);
      options.log("debug", "TLS handshake failed", {
        listener: options.address,
        error: error.message,
      });
    };
    socket.once("error", failed);
    socket.once("secure", () => {
      clearTimeout(timer);
      socket.off("error", failed);
      const addresses = {
        remote: proxied.remoteAddr as Deno.NetAddr,
        local: proxied.localAddr as Deno.NetAddr,
      };
      options.serve(new NodeTlsConn(socket as unknown as Socket, addresses));
    });
  }

  certificatesChanged(): void {
    this.#contexts.certificatesChanged();
  }

  close(): void {
    this.#plain.close();
  }
}
