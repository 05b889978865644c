/**
 * A small Quix control server for tests: the server side of the document. It accepts agents over
 * WebSocket, checks username/password and tokens, issues tokens, drops the older socket when a
 * token connects twice (close 4409 "token_in_use: connected elsewhere"), answers get_vpn_conf,
 * and lets the test send requests to a connected agent and await the reply by rid.
 */

/** A connected agent. */
export interface ServerSession {
  id: number;
  socket: WebSocket;
  token: string | null;
  closed: Promise<{ code: number; reason: string }>;
}

/** Options for {@linkcode QuixTestServer}. */
export interface QuixTestServerOptions {
  users?: Record<string, string>;
  validity?: number;
  port?: number;
  /** wg-quick text answered to get_vpn_conf (or an error when null). */
  vpnConf?: string | null;
  /** Serve wss:// with this certificate and key (PEM). */
  tls?: { cert: string; key: string };
}

/** The test control server. */
export class QuixTestServer {
  users: Record<string, string>;
  validity: number;
  vpnConf: string | null;
  /** Every token issued (token → username). */
  tokens = new Map<string, string>();
  /** Every frame received, with the session id. */
  frames: { session: number; frame: Record<string, unknown> }[] = [];
  /** Sessions in connection order. */
  sessions: ServerSession[] = [];
  /** Connections accepted (every WebSocket upgrade). */
  connections = 0;
  /** When set, frames are recorded but never answered (a half-open link, seen from the agent). */
  mute = false;
  #tls: { cert: string; key: string } | null;
  #server: Deno.HttpServer | null = null;
  #port: number;
  #byToken = new Map<string, ServerSession>();
  #waiters = new Map<string, (msg: unknown) => void>();
  #authWaiters: ((s: ServerSession) => void)[] = [];
  #nextId = 0;

  constructor(options: QuixTestServerOptions = {}) {
    this.users = options.users ?? { quix123: "bright01" };
    this.validity = options.validity ?? 86400;
    this.vpnConf = options.vpnConf ?? null;
    this.#port = options.port ?? 0;
    this.#tls = options.tls ?? null;
  }

  /** The ws:// URL. */
  get url(): string {
    return `${this.#tls ? "wss" : "ws"}://127.0.0.1:${this.#port}/oob/`;
  }

  get port(): number {
    return this.#port;
  }

  /** Starts (or restarts on the same port). */
  async start(): Promise<void> {
    const ready = Promise.withResolvers<void>();
    this.#server = Deno.serve({
      hostname: "127.0.0.1",
      port: this.#port,
      ...(this.#tls ?? {}),
      onListen: (addr) => {
        this.#port = addr.port;
        ready.resolve();
      },
    }, (req) => {
      if (req.headers.get("upgrade") !== "websocket") return new Response("quix\n");
      const { socket, response } = Deno.upgradeWebSocket(req);
      this.#accept(socket);
      return response;
    });
    await ready.promise;
  }

  /** Stops: closes every socket and the listener. */
  async stop(): Promise<void> {
    for (const s of this.sessions) {
      try {
        s.socket.close(1001, "server going away");
      } catch {
        // closed
      }
    }
    await this.#server?.shutdown();
    this.#server = null;
    this.#byToken.clear();
  }

  /** The latest authenticated session. */
  current(): ServerSession | null {
    return [...this.#byToken.values()].sort((a, b) => b.id - a.id)[0] ?? null;
  }

  /** Resolves with the next session that authenticates; rejects after `timeoutMs`. */
  nextAuthenticated(timeoutMs = 30_000): Promise<ServerSession> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#authWaiters = this.#authWaiters.filter((w) => w !== waiter);
        reject(new Error(`no agent authenticated within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (session: ServerSession) => {
        clearTimeout(timer);
        resolve(session);
      };
      this.#authWaiters.push(waiter);
    });
  }

  /** Sends a request to a session and waits for the reply's `msg`. */
  request(
    session: ServerSession,
    req: string,
    msg: unknown,
    rid?: number | string,
  ): Promise<unknown> {
    const id = rid ?? 10000 + Math.floor(Math.random() * 90000);
    const reply = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${req} ${id}`)), 15_000);
      this.#waiters.set(JSON.stringify(id), (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    session.socket.send(JSON.stringify({ req, rid: id, msg }));
    return reply;
  }

  /** Sends raw text and waits for the next frame from that session. */
  raw(session: ServerSession, text: string | Uint8Array): Promise<Record<string, unknown>> {
    const before = this.frames.length;
    session.socket.send(text);
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + 10_000;
      const poll = () => {
        const f = this.frames.slice(before).find((x) => x.session === session.id);
        if (f) return resolve(f.frame);
        if (Date.now() > deadline) return reject(new Error("no frame"));
        setTimeout(poll, 10);
      };
      poll();
    });
  }

  #accept(socket: WebSocket): void {
    this.connections++;
    const closed = Promise.withResolvers<{ code: number; reason: string }>();
    const session: ServerSession = {
      id: ++this.#nextId,
      socket,
      token: null,
      closed: closed.promise,
    };
    this.sessions.push(session);
    socket.onclose = (e) => {
      if (session.token && this.#byToken.get(session.token) === session) {
        this.#byToken.delete(session.token);
      }
      closed.resolve({ code: e.code, reason: e.reason });
    };
    socket.onmessage = (e) => {
      let frame: Record<string, unknown>;
      try {
        frame = JSON.parse(String(e.data));
      } catch {
        return;
      }
      this.frames.push({ session: session.id, frame });
      if (this.mute) return;
      if (frame.req === undefined) {
        const waiter = this.#waiters.get(JSON.stringify(frame.rid));
        if (waiter) {
          this.#waiters.delete(JSON.stringify(frame.rid));
          waiter(frame.msg);
        }
        return;
      }
      if (frame.req === "authenticate") this.#authenticate(session, frame);
      else if (frame.req === "get_vpn_conf") {
        socket.send(JSON.stringify({
          rid: frame.rid,
          msg: this.vpnConf === null
            ? { result: "error", reason: "no_vpn" }
            : { result: "success", conf_type: "wireguard", conf_data: this.vpnConf },
        }));
      }
    };
  }

  #authenticate(session: ServerSession, frame: Record<string, unknown>): void {
    const msg = (frame.msg ?? {}) as Record<string, unknown>;
    const reply = (body: unknown) =>
      session.socket.send(JSON.stringify({ rid: frame.rid, msg: body }));
    let token: string;
    if (typeof frame.auth === "string") {
      if (!this.tokens.has(frame.auth)) return reply({ success: false, reason: "token_invalid" });
      token = frame.auth;
      reply({ success: true, validity: this.validity });
    } else {
      const { username, password } = msg as { username?: string; password?: string };
      if (!username || this.users[username] !== password) {
        return reply({ success: false, reason: "password_invalid" });
      }
      token = crypto.randomUUID().replaceAll("-", "");
      this.tokens.set(token, username);
      reply({ success: true, token, validity: this.validity });
    }
    const old = this.#byToken.get(token);
    if (old && old !== session) {
      try {
        old.socket.close(4409, "token_in_use: connected elsewhere");
      } catch {
        // gone
      }
    }
    session.token = token;
    this.#byToken.set(token, session);
    const waiters = this.#authWaiters.splice(0);
    for (const w of waiters) w(session);
  }
}
