/**
 * A client for OpenVPN's management interface over a Unix socket: real-time lines (`>HOLD:`,
 * `>STATE:`, `>BYTECOUNT:` …) are pushed to a listener as they arrive; commands are queued and
 * each gets its own `SUCCESS:`/`ERROR:` (or multi-line `END`) reply.
 */

/** A real-time notification from openvpn. */
export type ManagementEvent =
  | { type: "hold"; text: string }
  | {
    type: "state";
    time: number;
    state: string;
    detail: string;
    localIp: string;
    remoteIp: string;
    remotePort: string;
  }
  | { type: "bytecount"; bytesIn: number; bytesOut: number }
  | { type: "other"; kind: string; text: string };

/** An `ERROR:` reply or a broken session. */
export class ManagementError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ManagementError";
  }
}

/** Parses one `>STATE:` payload (or a line of `state` output). */
export function parseStateLine(
  payload: string,
): Extract<ManagementEvent, { type: "state" }> | null {
  const f = payload.split(",");
  const time = Number(f[0]);
  if (!Number.isFinite(time) || !f[1]) return null;
  return {
    type: "state",
    time,
    state: f[1],
    detail: f[2] ?? "",
    localIp: f[3] ?? "",
    remoteIp: f[4] ?? "",
    remotePort: f[5] ?? "",
  };
}

/** Parses a real-time line (without the leading `>`). */
export function parseRealtime(line: string): ManagementEvent {
  const colon = line.indexOf(":");
  const kind = colon < 0 ? line : line.slice(0, colon);
  const payload = colon < 0 ? "" : line.slice(colon + 1);
  if (kind === "HOLD") return { type: "hold", text: payload };
  if (kind === "STATE") return parseStateLine(payload) ?? { type: "other", kind, text: payload };
  if (kind === "BYTECOUNT") {
    const [a, b] = payload.split(",");
    const bytesIn = Number(a);
    const bytesOut = Number(b);
    if (Number.isFinite(bytesIn) && Number.isFinite(bytesOut)) {
      return { type: "bytecount", bytesIn, bytesOut };
    }
  }
  return { type: "other", kind, text: payload };
}

interface Pending {
  multiline: boolean;
  lines: string[];
  resolve: (lines: string[]) => void;
  reject: (error: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Options for {@linkcode ManagementClient.connect}. */
export interface ManagementConnectOptions {
  /** Called for each real-time line, in order. */
  onEvent: (event: ManagementEvent) => void;
  /** Reply timeout for each command. @default {5000} */
  commandTimeoutMs?: number;
}

/** One management session. */
export class ManagementClient {
  #conn: Deno.UnixConn;
  #onEvent: (event: ManagementEvent) => void;
  #queue: Pending[] = [];
  #timeoutMs: number;
  #closed = false;
  #writer: Promise<void> = Promise.resolve();
  /** Resolves when the session ends (openvpn exited or closed the socket, or we closed it). */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.UnixConn, options: ManagementConnectOptions) {
    this.#conn = conn;
    this.#onEvent = options.onEvent;
    this.#timeoutMs = options.commandTimeoutMs ?? 5000;
    this.closed = this.#readLoop();
  }

  /** Connects to the management socket at `path`. */
  static async connect(path: string, options: ManagementConnectOptions): Promise<ManagementClient> {
    const conn = await Deno.connect({ transport: "unix", path });
    return new ManagementClient(conn, options);
  }

  /** Wraps an already connected socket. */
  static attach(conn: Deno.UnixConn, options: ManagementConnectOptions): ManagementClient {
    return new ManagementClient(conn, options);
  }

  /** Whether the session is over. */
  get isClosed(): boolean {
    return this.#closed;
  }

  async #readLoop(): Promise<void> {
    const decoder = new TextDecoder();
    let partial = "";
    try {
      for await (const chunk of this.#conn.readable) {
        partial += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = partial.indexOf("\n")) >= 0) {
          let line = partial.slice(0, nl);
          partial = partial.slice(nl + 1);
          if (line.endsWith("\r")) line = line.slice(0, -1);
          this.#onLine(line);
        }
        if (partial.length > 1 << 20) partial = "";
      }
    } catch {
      // reset by peer: same as EOF
    } finally {
      this.#finish();
    }
  }

  #onLine(line: string): void {
    if (line.startsWith(">")) {
      try {
        this.#onEvent(parseRealtime(line.slice(1)));
      } catch {
        // a listener's error must not kill the session
      }
      return;
    }
    const head = this.#queue[0];
    if (!head) return;
    if (line.startsWith("ERROR:") && head.lines.length === 0) {
      this.#queue.shift();
      clearTimeout(head.timer);
      head.reject(new ManagementError(`openvpn refused the command: ${line.slice(6).trim()}`));
      return;
    }
    if (!head.multiline) {
      this.#queue.shift();
      clearTimeout(head.timer);
      head.resolve([line]);
      return;
    }
    if (line === "END") {
      this.#queue.shift();
      clearTimeout(head.timer);
      head.resolve(head.lines);
      return;
    }
    head.lines.push(line);
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#queue.splice(0)) {
      clearTimeout(p.timer);
      p.reject(new ManagementError("management session closed"));
    }
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Sends one command; resolves with its reply line(s), rejects on `ERROR:` or timeout. */
  command(line: string, options: { multiline?: boolean } = {}): Promise<string[]> {
    if (this.#closed) return Promise.reject(new ManagementError("management session closed"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new ManagementError(`no reply to "${line}" within ${this.#timeoutMs} ms`));
        this.close(); // the reply order is lost: the session cannot be trusted any more
      }, this.#timeoutMs);
      this.#queue.push({
        multiline: options.multiline ?? false,
        lines: [],
        resolve,
        reject,
        timer,
      });
      const bytes = new TextEncoder().encode(line + "\n");
      this.#writer = this.#writer.then(async () => {
        let off = 0;
        while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
      }).catch(() => this.close());
    });
  }

  /** Sends a command and ignores its outcome (used for `hold release`). */
  fire(line: string): void {
    this.command(line).catch(() => {});
  }

  /** Ends the session without touching openvpn. */
  close(): void {
    this.#finish();
  }
}
