/**
 * A small Intervirt WebSocket client (used by `ctl intervirt` and the tests): sends requests with
 * a fresh uuid and collects the frames that carry its refID until the final one.
 */

/** A frame from the agent. */
export interface IntervirtFrame {
  type?: string;
  refID?: string | null;
  code?: number;
  error?: string;
  progress?: number;
  output?: string;
  status?: number;
  version?: string;
}

/** A connected client. */
export class IntervirtClient {
  readonly #ws: WebSocket;
  readonly #waiters = new Map<
    string,
    { onFrame: (f: IntervirtFrame) => void }
  >();
  readonly #orphans: IntervirtFrame[] = [];
  readonly closed: Promise<void>;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    this.closed = new Promise((resolve) => ws.addEventListener("close", () => resolve()));
    ws.addEventListener("message", (event) => {
      let frame: IntervirtFrame;
      try {
        frame = JSON.parse(String(event.data));
      } catch {
        return;
      }
      const waiter = typeof frame.refID === "string" ? this.#waiters.get(frame.refID) : undefined;
      if (waiter) waiter.onFrame(frame);
      else this.#orphans.push(frame);
    });
  }

  /** Connects to `url` (ws://host:port/path[?token=…]). */
  static connect(url: string, timeoutMs = 5_000): Promise<IntervirtClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const timer = setTimeout(() => {
        ws.close();
        reject(new Error(`Cannot connect to ${url}: timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      ws.addEventListener("open", () => {
        clearTimeout(timer);
        resolve(new IntervirtClient(ws));
      }, { once: true });
      ws.addEventListener("error", () => {
        clearTimeout(timer);
        reject(new Error(`Cannot connect to ${url}`));
      }, { once: true });
    });
  }

  /** Frames that matched no pending request (errors with a null refID, for instance). */
  takeOrphans(): IntervirtFrame[] {
    return this.#orphans.splice(0);
  }

  /** Sends raw text (tests use it for malformed input). */
  sendRaw(text: string): void {
    this.#ws.send(text);
  }

  /**
   * Sends a request and resolves with all its frames (progress frames, then the final one).
   * Rejects after `timeoutMs` without a final frame.
   */
  request(
    body: Record<string, unknown>,
    options: { timeoutMs?: number; onProgress?: (f: IntervirtFrame) => void } = {},
  ): Promise<IntervirtFrame[]> {
    const uuid = typeof body.uuid === "string" ? body.uuid : crypto.randomUUID();
    const frames: IntervirtFrame[] = [];
    return new Promise((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 60_000;
      const timer = setTimeout(() => {
        this.#waiters.delete(uuid);
        reject(new Error(`No final reply to ${String(body.type)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onClose = () => {
        clearTimeout(timer);
        this.#waiters.delete(uuid);
        reject(new Error("Connection closed before the final reply"));
      };
      this.closed.then(onClose);
      this.#waiters.set(uuid, {
        onFrame: (frame) => {
          frames.push(frame);
          if (frame.status === -1) {
            options.onProgress?.(frame);
            return;
          }
          clearTimeout(timer);
          this.#waiters.delete(uuid);
          resolve(frames);
        },
      });
      this.#ws.send(JSON.stringify({ ...body, uuid }));
    });
  }

  /** Sends a request and resolves with its final frame. */
  async call(
    body: Record<string, unknown>,
    options: { timeoutMs?: number; onProgress?: (f: IntervirtFrame) => void } = {},
  ): Promise<IntervirtFrame> {
    const frames = await this.request(body, options);
    return frames[frames.length - 1]!;
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close();
    }
    await this.closed;
  }
}
