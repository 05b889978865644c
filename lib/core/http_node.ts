/**
 * The HTTP/1.1 server under the agent's TCP control listeners (admin, intervirt, masq), on
 * `node:http` rather than `Deno.serve`: `Deno.serve` only shows a request once its head is
 * complete, so it can neither cap connections nor close a client that never finishes its head
 * (slowloris) or an idle keep-alive connection. Here every accepted socket passes the listener's
 * {@linkcode ListenerLimits} gate (per listener and per client address; over the cap: 503 and
 * close), an unfinished request head past `frame_timeout_ms` gets 408 and a close, and a
 * keep-alive connection idle past `idle_timeout_ms` is closed. Requests reach the handler as
 * fetch `Request`s; a WebSocket upgrade request too, and the handler upgrades it with
 * {@linkcode upgradeWebSocket} (Deno's, over this server's socket).
 */
import http from "node:http";
import type { Socket } from "node:net";
import type { AdmittedConnection, ExpiryReason, ListenerLimits } from "./limits.ts";

/** A handler of the agent's TCP servers. */
export type TcpHandler = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) =>
  | Response
  | Promise<Response>;

/** A running TCP control server. */
export interface TcpHttpServer {
  /** Stops accepting, closes idle connections, waits for requests in flight (1 s at most). */
  shutdown(): Promise<void>;
  /** Settles once the server has stopped. */
  readonly finished: Promise<void>;
}

/** What the server needs per request: the handler, the error answer, the limits. */
export interface NodeServerRoute {
  handler: TcpHandler;
  onError: (error: unknown) => Response | Promise<Response>;
  limits: ListenerLimits | null;
}

/** Largest request body read into memory (admin forms); larger: 413. */
const MAX_BODY = 1 << 20;

/** Upgrade requests of this process and the socket each arrived on. */
const upgrades = new WeakMap<Request, { socket: Socket; head: Uint8Array; done: boolean }>();

/**
 * Upgrades `request` to a WebSocket: over the agent's own TCP server's socket when it came from
 * one, else with `Deno.upgradeWebSocket` as it is (a request from a `Deno.serve`).
 */
export function upgradeWebSocket(
  request: Request,
  options: { protocol?: string; idleTimeout?: number } = {},
): { socket: WebSocket; response: Response } {
  const entry = upgrades.get(request);
  if (!entry) return Deno.upgradeWebSocket(request, options);
  upgrades.delete(request);
  const upgraded = Deno.upgradeWebSocket(request, {
    ...options,
    socket: entry.socket,
    head: entry.head,
  });
  entry.done = true;
  const ws = upgraded.socket;
  const socket = entry.socket;
  const admitted = socketState(socket).admitted;
  admitted?.longLived();
  ws.addEventListener("message", () => admitted?.touch()); // the longest quiet goes first
  // Deno 2.9 takes the node socket's handle for the WebSocket and never emits the socket's
  // "close": the limits' slot and node:http's own connection list kept every upgraded socket
  // (about 8 KB each). Once the WebSocket has closed, say so on the socket.
  let closed = false;
  socket.once("close", () => closed = true);
  ws.addEventListener("close", () => {
    socket.destroy();
    if (!closed) socket.emit("close", false);
    // and let go of everything hung on it: Deno keeps the socket object itself (~1 KB)
    states.delete(socket);
    socket.removeAllListeners();
  }, { once: true });
  socketState(socket).closeWebSocket = (reason) => {
    if (reason === "evicted") ws.close(1013, "too many clients: try again later");
    else ws.close(1008, reason === "idle_timeout" ? "idle too long" : "too slow");
    setTimeout(() => socket.destroy(), 2000); // a peer that never answers the close
  };
  return upgraded;
}

function remoteAddr(socket: Socket): Deno.NetAddr {
  return { transport: "tcp", hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 };
}

function toRequest(req: http.IncomingMessage, body: Uint8Array | null): Request {
  const headers = new Headers();
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    try {
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    } catch {
      // a header fetch cannot carry: left out
    }
  }
  const host = headers.get("host") ?? "localhost";
  const base = `http://${/^[A-Za-z0-9.:\[\]-]+$/.test(host) ? host : "x"}`;
  const target = req.url ?? "/";
  const url = /^https?:\/\//i.test(target)
    ? new URL(target) // absolute form
    : new URL(target.startsWith("/") ? target : `/${target}`, base);
  return new Request(url, {
    method: req.method ?? "GET",
    headers,
    ...(body && body.length > 0 ? { body: body as Uint8Array<ArrayBuffer> } : {}),
  });
}

async function readBody(
  req: http.IncomingMessage,
): Promise<Uint8Array<ArrayBuffer> | "too large"> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > MAX_BODY) return "too large";
    parts.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function respond(
  route: NodeServerRoute,
  request: Request,
  socket: Socket,
  completed: Promise<void>,
) {
  try {
    return await route.handler(request, { remoteAddr: remoteAddr(socket), completed });
  } catch (error) {
    return await route.onError(error);
  }
}

/**
 * Writes `response` to `res`: with its length like `Deno.serve` when the body is not a stream
 * (read whole first), streamed (chunked) for an event stream; resolves when it is sent or the
 * client left.
 */
async function writeResponse(response: Response, res: http.ServerResponse): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") headers[name] = response.headers.getSetCookie();
    else headers[name] = value;
  }
  const streamed = /^text\/event-stream/.test(response.headers.get("content-type") ?? "");
  if (!response.body || !streamed) {
    const body = response.body ? new Uint8Array(await response.arrayBuffer()) : null;
    if (body) headers["content-length"] = String(body.length);
    res.writeHead(response.status, response.statusText || undefined, headers);
    return void res.end(body ?? undefined);
  }
  res.writeHead(response.status, response.statusText || undefined, headers);
  const reader = response.body.getReader();
  res.once("close", () => void reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise((r) => res.once("drain", r).once("close", r));
    }
  } catch {
    // the body failed or the client left
  }
  res.end();
}

/** A plain response written straight to a socket (refusals before or instead of an upgrade). */
export async function rawResponse(socket: Socket, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer().catch(() => new ArrayBuffer(0)));
  let head = `HTTP/1.1 ${response.status} ${response.statusText || "Refused"}\r\n`;
  for (const [name, value] of response.headers) {
    if (name !== "content-length" && name !== "connection") head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  socket.end(new Uint8Array([...new TextEncoder().encode(head), ...body]));
  setTimeout(() => socket.destroy(), 2000);
}

/** Gates a new socket and watches its deadlines; false when it was refused. */
function admitSocket(socket: Socket, limits: ListenerLimits | null): boolean {
  if (!limits) return true;
  const state = socketState(socket);
  const slot = limits.admit(socket.remoteAddress ?? "", {
    expire: (reason) => expireSocket(socket, state, reason),
  });
  if ("refused" in slot) {
    const text = slot.refused === "per_peer"
      ? "too many connections from this address\n"
      : "too many connections\n";
    void rawResponse(
      socket,
      new Response(text, { status: 503, statusText: "Service Unavailable" }),
    );
    return false;
  }
  state.admitted = slot;
  socket.on("data", () => { // (no longer called once the WebSocket has taken the socket)
    if (!state.inRequest) slot.received(0, true); // a request head has begun
  });
  socket.once("close", () => slot.release());
  return true;
}

/** Closes a socket the limits gave up on: 408 for an unfinished head, 1008/1013 for a WebSocket. */
function expireSocket(socket: Socket, state: SocketState, reason: ExpiryReason): void {
  if (state.closeWebSocket) return state.closeWebSocket(reason);
  if (reason === "frame_timeout" && !state.inRequest) {
    void rawResponse(
      socket,
      new Response("request head not complete in time\n", {
        status: 408,
        statusText: "Request Timeout",
      }),
    );
  } else socket.destroy();
}

interface SocketState {
  admitted: AdmittedConnection | null;
  inRequest: boolean;
  /** Set once upgraded: closes the WebSocket with the code for `reason`. */
  closeWebSocket: ((reason: ExpiryReason) => void) | null;
}

const states = new WeakMap<Socket, SocketState>();

function socketState(socket: Socket): SocketState {
  let s = states.get(socket);
  if (!s) {
    s = { admitted: null, inRequest: false, closeWebSocket: null };
    states.set(socket, s);
  }
  return s;
}

async function onRequest(
  route: () => NodeServerRoute | Promise<NodeServerRoute>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const state = socketState(req.socket);
  state.inRequest = true;
  state.admitted?.received(1, false);
  state.admitted?.busy(1);
  const completed = Promise.withResolvers<void>();
  completed.promise.catch(() => {});
  res.once("close", () => {
    state.inRequest = false;
    state.admitted?.busy(0);
    if (res.writableFinished) completed.resolve();
    else completed.reject(new Deno.errors.Interrupted("the client left before the response"));
  });
  const method = req.method ?? "GET";
  const body = method === "GET" || method === "HEAD" ? null : await readBody(req);
  const r = await route();
  if (body === "too large") {
    r.limits?.refuse("oversize");
    return writeResponse(new Response("request body too large\n", { status: 413 }), res);
  }
  let request: Request;
  try {
    request = toRequest(req, body);
  } catch { // a method fetch refuses (CONNECT, TRACE, TRACK) or a target it cannot parse
    return writeResponse(new Response("method or target not supported\n", { status: 405 }), res);
  }
  await writeResponse(await respond(r, request, req.socket, completed.promise), res);
}

async function onUpgrade(
  route: () => NodeServerRoute | Promise<NodeServerRoute>,
  req: http.IncomingMessage,
  socket: Socket,
  head: Uint8Array,
): Promise<void> {
  const state = socketState(socket);
  state.inRequest = true;
  state.admitted?.received(1, false);
  state.admitted?.busy(1);
  let request: Request;
  try {
    request = toRequest(req, null);
  } catch {
    return rawResponse(socket, new Response("bad upgrade request\n", { status: 400 }));
  }
  const entry = { socket, head, done: false };
  upgrades.set(request, entry);
  const response = await respond(await route(), request, socket, Promise.resolve());
  upgrades.delete(request);
  state.admitted?.busy(0);
  if (!entry.done) await rawResponse(socket, response);
}

const active = new WeakMap<http.Server, Set<Socket>>();

/**
 * Stops listening, closes idle connections, gives requests in flight a second, then closes the
 * rest; upgraded sockets are left to their protocol.
 */
async function stop(server: http.Server, finished: () => void): Promise<void> {
  server.close();
  const open = active.get(server) ?? new Set();
  // not server.closeIdleConnections(): node:http still lists upgraded sockets and would cut them
  for (const socket of open) {
    if (!states.get(socket)?.inRequest && !states.get(socket)?.closeWebSocket) socket.destroy();
  }
  // requests in flight finish, and WebSockets their protocol is closing get their last frames out
  const deadline = Date.now() + 1000;
  while (open.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const socket of open) if (!states.get(socket)?.closeWebSocket) socket.destroy();
  finished();
}

/**
 * Starts a node:http server on `hostname:port` (SO_REUSEPORT) whose requests go to what
 * `route()` returns at the time (a takeover's held server swaps it when claimed).
 */
export async function startNodeServer(
  hostname: string,
  port: number,
  route: () => NodeServerRoute | Promise<NodeServerRoute>,
  limits: () => ListenerLimits | null,
): Promise<{ server: TcpHttpServer; addr: Deno.NetAddr }> {
  const server = http.createServer({ keepAliveTimeout: 0 } as http.ServerOptions);
  server.keepAliveTimeout = 0; // the limits' idle timeout closes idle keep-alive connections
  server.on("connection", (socket: Socket) => {
    socket.setNoDelay(true); // node:http under Deno leaves Nagle on: 40 ms per WebSocket round trip
    admitSocket(socket, limits());
  });
  server.on("request", (req, res) => {
    void onRequest(route, req, res).catch(() => res.destroy());
  });
  // Expect: 100-continue. node:http under Deno sends its automatic "100 Continue" late when the
  // request was pipelined behind another: between the head and the body of the final response.
  // It is sent here only when no earlier response is pending on the connection (a pipelining
  // client has sent the body already; a 100 is optional, RFC 9110 §10.1.1).
  server.on("checkContinue", (req, res) => {
    if (!socketState(req.socket).inRequest) res.writeContinue();
    void onRequest(route, req, res).catch(() => res.destroy());
  });
  server.on("upgrade", (req, socket: Socket, head: Uint8Array) => {
    void onUpgrade(route, req, socket, head).catch(() => socket.destroy());
  });
  server.on("connect", (_req, socket: Socket) => {
    void rawResponse(socket, new Response("CONNECT is not supported\n", { status: 405 }));
  });
  server.on("clientError", (_error, socket: Socket) => {
    if (socket.writable) {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    } else socket.destroy();
  });
  const finished = Promise.withResolvers<void>();
  server.once("close", () => finished.resolve());
  const open = new Set<Socket>(); // until closed (an upgraded one: until its WebSocket closed)
  server.on("connection", (socket: Socket) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  active.set(server, open);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: hostname, port, reusePort: true } as never, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = server.address() as { address: string; port: number };
  let stopping: Promise<void> | null = null;
  return {
    addr: { transport: "tcp", hostname: bound.address, port: bound.port },
    server: {
      finished: finished.promise,
      shutdown: () => stopping ??= stop(server, finished.resolve),
    },
  };
}
