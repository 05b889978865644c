/**
 * The cryptoded part of the admin status page: each profile's tunnel with its state, traffic
 * counters and last error. The one action, disconnecting a tunnel, runs the DISCONNECT command
 * through the same handler as on the control socket.
 */
import {
  bytesCell,
  durationText,
  statusActions,
  type StatusCell,
  type StatusPageSource,
  type StatusSection,
  type StatusTone,
  UnavailableError,
} from "../../core/mod.ts";
import { Cmd } from "./schemas.ts";
import type { CryptodedHandlerContext, CryptodedHandlerTable } from "./handlers.ts";
import type { ConnectionView } from "./tunnels/mod.ts";

/** What the page reads from the running service (null before start or after a stop). */
export interface CryptodedPageParts {
  context(): CryptodedHandlerContext | null;
  table: CryptodedHandlerTable;
  socket: string;
}

const TONES: Record<string, StatusTone> = {
  CONNECTED: "ok",
  CONNECTING: "warn",
  RECONNECTING: "warn",
  DISCONNECTING: "warn",
  DISCONNECTED: "idle",
};

function tunnelRow(s: ConnectionView): StatusCell[] {
  const connectedAt = s.connectedTime ?? 0;
  return [
    s.name,
    { text: s.status.toLowerCase(), tone: TONES[s.status] ?? "warn" },
    s.ovpnStatus.toLowerCase(),
    connectedAt > 0 ? durationText(Date.now() - connectedAt * 1000) : null,
    bytesCell(s.totalIn),
    bytesCell(s.totalOut),
    s.autoConnect ? "yes" : "no",
    s.lastError ?? null,
    s.status === "DISCONNECTED"
      ? null
      : { action: { name: "disconnect", target: s.name, label: "Disconnect" } },
  ];
}

function snapshot(parts: CryptodedPageParts): StatusSection {
  const ctx = parts.context();
  const facts: StatusSection["facts"] = [["Control sockets", parts.socket]];
  if (!ctx) return { facts, tables: [] };
  const { connections } = ctx;
  facts.push(["Script security", connections.scriptSecurity ? "2 (scripts allowed)" : "1"]);
  const statuses = connections.names().flatMap((name) => {
    try {
      return connections.status({ all: false, name });
    } catch {
      return []; // removed meanwhile
    }
  });
  return {
    facts,
    tables: [{
      id: "tunnels",
      caption: "Profiles and tunnels",
      columns: [
        "Profile",
        "State",
        "OpenVPN state",
        "Connected for",
        "Received",
        "Sent",
        "Auto-connect",
        "Last error",
        "Action",
      ],
      rows: statuses.map(tunnelRow),
      empty: "No profiles.",
      actionColumn: 8,
    }],
  };
}

/** Disconnects a tunnel: the DISCONNECT command through the control-socket handler. */
async function disconnect(parts: CryptodedPageParts, name: string): Promise<string> {
  const ctx = parts.context();
  const handler = parts.table.get(Cmd.DISCONNECT);
  if (!ctx || !handler) throw new UnavailableError("cryptoded is not running");
  await handler.handle({ cmd: Cmd.DISCONNECT, param: name, json: true }, ctx);
  return `tunnel ${name} is disconnecting`;
}

/** The page source of a cryptoded service. */
export function cryptodedStatusPage(parts: CryptodedPageParts): StatusPageSource {
  return {
    snapshot: () => snapshot(parts),
    act: statusActions({ disconnect: (name) => disconnect(parts, name) }),
  };
}
