/**
 * The Hono app: `GET <path>` upgrades to the Intervirt WebSocket after the optional token and
 * address allow-list checks; everything else is 404.
 */
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { Logger } from "../../core/mod.ts";
import { ClientSession } from "./connection.ts";
import type { HandlerTable } from "./handlers.ts";
import type { ContainerManager } from "./manager.ts";
import { inSubnet, parseCidr, sameAddress } from "./net.ts";

/** Options for {@linkcode createIntervirtApp}. */
export interface AppOptions {
  path: string;
  token: string;
  allow: readonly string[];
  allowedOrigins: readonly string[];
  maxClients: number;
  table: HandlerTable;
  manager: ContainerManager;
  log: Logger;
  maxMessageBytes: number;
  maxInFlight: number;
  /** Called with each session while it is open (for /healthz counts and shutdown). */
  sessions: Set<ClientSession>;
  onSessionsChanged?: () => void;
}

/** Hono's env under Deno.serve: the peer address. */
export interface AppEnv {
  Bindings: { remoteAddr?: Deno.NetAddr };
}

/** Whether `address` matches one allow-list entry (an address or a CIDR). */
export function allowed(address: string, allow: readonly string[]): boolean {
  if (allow.length === 0) return true;
  const ip = address.toLowerCase().startsWith("::ffff:") && address.includes(".")
    ? address.slice(7)
    : address;
  for (const entry of allow) {
    try {
      if (entry.includes("/") ? inSubnet(ip, parseCidr(entry)) : sameAddress(ip, entry)) {
        return true;
      }
    } catch {
      // an unparsable entry matches nothing
    }
  }
  return false;
}

function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(token);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0;
}

/** Builds the app. */
export function createIntervirtApp(options: AppOptions): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get(
    options.path,
    async (c, next) => {
      const peer = c.env?.remoteAddr?.hostname ?? "";
      if (!allowed(peer, options.allow)) {
        options.log.warn("client refused by the allow-list", { peer });
        return c.text("forbidden\n", 403);
      }
      const origin = c.req.header("origin");
      if (origin !== undefined && !options.allowedOrigins.includes(origin)) {
        options.log.warn("client refused: browser origin not allowed", { peer, origin });
        return c.text("forbidden origin\n", 403);
      }
      if (options.sessions.size >= options.maxClients) {
        return c.text("too many clients\n", 503);
      }
      if (options.token !== "") {
        const header = c.req.header("authorization");
        const given = c.req.query("token") ??
          (header?.startsWith("Bearer ") ? header.slice(7) : c.req.header("x-intervirt-token"));
        if (!tokenMatches(given, options.token)) {
          options.log.warn("client refused: bad or missing token", { peer });
          return c.text("unauthorized\n", 401);
        }
      }
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        return c.text("expected a WebSocket upgrade\n", 426);
      }
      await next();
    },
    upgradeWebSocket(() => {
      let session: ClientSession | null = null;
      return {
        onOpen: (_event, ws) => {
          session = new ClientSession({
            table: options.table,
            manager: options.manager,
            log: options.log,
            maxMessageBytes: options.maxMessageBytes,
            maxInFlight: options.maxInFlight,
            closeSocket: () => ws.close(1001, "agent stopping"),
            send: (frame) => {
              if (ws.readyState === 1) ws.send(JSON.stringify(frame));
            },
          });
          options.sessions.add(session);
          options.onSessionsChanged?.();
        },
        onMessage: (event, _ws) => {
          session?.receive(event.data).catch((error) =>
            options.log.error("session failed", { error })
          );
        },
        onClose: () => {
          if (session) {
            session.close();
            options.sessions.delete(session);
            options.onSessionsChanged?.();
          }
        },
      };
    }),
  );
  app.notFound((c) => c.text("not found\n", 404));
  return app;
}
