/**
 * The Intervirt part of the admin status page: each container the agent manages with its state,
 * addresses, the containers it may talk to, its port forwards and internet access, read from the
 * stored state (the state the agent keeps the host in line with).
 */
import type { StatusCell, StatusPageSource, StatusSection } from "../../core/mod.ts";
import type { ContainerManager, IntervirtState, StoredContainer } from "./containers/mod.ts";

/** What the page reads from the running service. */
export interface IntervirtPageParts {
  manager(): ContainerManager | null;
  runtime: string;
  listener(): string | null;
  clients(): number;
}

function containerRow(state: IntervirtState, c: StoredContainer): StatusCell[] {
  const peers = state.connections.flatMap(([a, b]) => a === c.id ? [b] : b === c.id ? [a] : []);
  const forwards = state.forwards.filter((f) => f.id === c.id).map((f) =>
    `${f.protocol} ${f.externalPort} → ${f.internalPort}`
  );
  return [
    c.id,
    c.running ? { text: "running", tone: "ok" } : { text: "stopped", tone: "idle" },
    [c.ipv4, c.ipv6].filter((a) => a !== "").join("\n") || null,
    c.mac || null,
    peers.length > 0 ? peers.join(", ") : null,
    forwards.length > 0 ? forwards.join("\n") : null,
    c.internet ? { text: "on", tone: "ok" } : { text: "off", tone: "idle" },
    c.image || null,
  ];
}

function snapshot(parts: IntervirtPageParts): StatusSection {
  const manager = parts.manager();
  const facts: StatusSection["facts"] = [
    ["Runtime", parts.runtime],
    ["Listener", parts.listener()],
    ["Clients", parts.clients()],
  ];
  if (!manager) return { facts, tables: [] };
  if (manager.unavailable) {
    facts.push(["Unavailable", { text: manager.unavailable, tone: "bad" }]);
  }
  if (manager.drift.length > 0) {
    facts.push(["Drift repaired at start", { text: manager.drift.join("; "), tone: "warn" }]);
  }
  const state = manager.state;
  return {
    facts,
    tables: [{
      id: "containers",
      caption: "Containers",
      columns: [
        "Container",
        "State (desired)",
        "Addresses",
        "MAC",
        "Connected to",
        "Forwards",
        "Internet",
        "Image",
      ],
      rows: Object.values(state.containers).map((c) => containerRow(state, c)),
      empty: "No containers.",
    }],
  };
}

/** The page source of an Intervirt service (read-only). */
export function intervirtStatusPage(parts: IntervirtPageParts): StatusPageSource {
  return { snapshot: () => snapshot(parts) };
}
