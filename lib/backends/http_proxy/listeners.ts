/**
 * Bound listeners of a worker: a plain TCP one, or an HTTPS one on either TLS engine
 * (tls_native.ts, tls_node.ts). Each accepts connections and hands them to the engine's
 * `serve`; an HTTPS one also follows its listener's certificates. The TLS engine is chosen per
 * listener by {@linkcode chooseTlsEngine}.
 */
import { parseAddress } from "./address.ts";
import type { ByteConn } from "./backend_pool.ts";
import type { CertificateStore } from "./certificates.ts";
import type { TlsEngineChoice, TlsVersion } from "./model.ts";

/** Log callback of a worker's proxy (the worker forwards lines to the main isolate's logger). */
export type FrontLog = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** A listening socket of the proxy. */
export interface BoundFront {
  /** Stops listening (open connections are not touched). */
  close(): void;
  /** The listener's certificates changed: new handshakes must see the change. */
  certificatesChanged(): void;
}

/** What every bound listener is given. */
export interface FrontOptions {
  /** "ip:port". */
  address: string;
  /** Bind with SO_REUSEPORT (several workers on one port). */
  reusePort: boolean;
  /** Serves one accepted (and, for TLS, not yet handshaken) connection. */
  serve: (conn: ByteConn) => void;
  log: FrontLog;
}

/** What an HTTPS listener is given besides {@linkcode FrontOptions}. */
export interface TlsFrontOptions extends FrontOptions {
  store: CertificateStore;
  versions: TlsVersion[];
  /** Longest a handshake may take, ms (node engine; the native one uses the session's). */
  handshakeTimeoutMs: number;
}

/** A TLS engine as it is chosen for one listener. */
export type TlsEngineName = "native" | "node";

/** The kernel's accept queue for listening sockets. */
export const TCP_BACKLOG = 4096;

/**
 * Accepts connections until `isCurrent()` turns false or the listener closes; a transient
 * failure (out of file descriptors) backs off briefly instead of spinning.
 */
export function acceptLoop(
  listener: Deno.Listener,
  isCurrent: () => boolean,
  options: FrontOptions,
): Promise<void> {
  const loop = acceptUntilClosed(listener, isCurrent, options);
  running.add(loop);
  return loop.finally(() => running.delete(loop));
}

/** The accept loops of this isolate still running (a closed listener's ends at its next turn). */
const running = new Set<Promise<void>>();

/**
 * Resolves once every accept loop of this isolate has ended (or after `timeoutMs`). A closed
 * listener's socket is only released when its pending accept has been cancelled, one event-loop
 * turn after `close()`: a stop awaits this before it reports, so a worker terminated right after
 * leaves no port open.
 */
export async function acceptLoopsEnded(timeoutMs: number): Promise<void> {
  if (running.size === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled([...running]),
    new Promise((r) => timer = setTimeout(r, timeoutMs)),
  ]);
  clearTimeout(timer);
}

async function acceptUntilClosed(
  listener: Deno.Listener,
  isCurrent: () => boolean,
  options: FrontOptions,
): Promise<void> {
  while (isCurrent()) {
    let conn: Deno.Conn;
    try {
      conn = await listener.accept();
    } catch (error) {
      if (!isCurrent()) return;
      if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
        return;
      }
      options.log("warn", "accept failed", { listener: options.address, error: String(error) });
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    options.serve(conn);
  }
}

/** Closes a listener, ignoring "already closed". */
export function closeListener(listener: { close(): void } | null): void {
  try {
    listener?.close();
  } catch {
    // already closed
  }
}

/** A plain TCP listener. */
export class PlainFront implements BoundFront {
  #listener: Deno.Listener | null;

  /** Binds now; throws an error naming the address when it cannot. */
  constructor(options: FrontOptions) {
    const { hostname, port } = parseAddress(options.address);
    try {
      this.#listener = Deno.listen({
        hostname,
        port,
        reusePort: options.reusePort,
        tcpBacklog: TCP_BACKLOG,
      });
    } catch (error) {
      throw bindError(options.address, error);
    }
    const listener = this.#listener;
    acceptLoop(listener, () => this.#listener === listener, options);
  }

  close(): void {
    const listener = this.#listener;
    this.#listener = null;
    closeListener(listener);
  }

  certificatesChanged(): void {}
}

/** The error of a listener that cannot bind. */
export function bindError(address: string, error: unknown): Error {
  return new Error(
    `cannot listen on "${address}": ${error instanceof Error ? error.message : error}`,
  );
}

/**
 * The engine for a listener. `node` when asked. `native` when asked (refused, naming why, when it
 * cannot serve the listener: no internal SNI resolver in this Deno, or versions to narrow).
 * `auto`: native while the listener serves exactly one certificate and offers both TLS 1.2 and
 * 1.3 (bound with it directly: the public API, no SNI resolver), node otherwise (several
 * certificates chosen by SNI, none yet, or narrowed versions).
 */
export function chooseTlsEngine(
  choice: TlsEngineChoice,
  versions: readonly TlsVersion[],
  nativeAvailable: boolean,
  oneCertificate: boolean,
): TlsEngineName {
  if (choice === "node") return "node";
  const both = versions.includes("TLSv1.2") && versions.includes("TLSv1.3");
  if (choice === "native") {
    if (!nativeAvailable) {
      throw new Error(
        "the native TLS engine needs Deno's internal SNI resolver, which this Deno lacks: " +
          'set sozu.tls_engine = "auto" or "node"',
      );
    }
    if (!both) {
      throw new Error(
        `the native TLS engine cannot limit versions to ${versions.join(", ")}: ` +
          'set sozu.tls_engine = "auto" or "node"',
      );
    }
    return "native";
  }
  return both && oneCertificate ? "native" : "node";
}
