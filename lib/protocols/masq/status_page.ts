/**
 * The MASQ part of the admin status page: the Node the Daemon launched (running, pid, UI port,
 * the reason of its last crash) and the Daemon's connected UI clients. Read-only.
 */
import type { StatusPageSource, StatusSection } from "../../core/mod.ts";
import type { Daemon } from "./daemon/daemon.ts";
import type { CrashReason } from "./daemon/crash_reason.ts";

/** What the page reads from the running service. */
export interface MasqPageParts {
  daemon(): Daemon | null;
  clients(): number[];
  uiPort(): number | null;
}

/** A crash reason in words. */
function crashText(reason: CrashReason): string {
  if (reason === "NoInformation") return "no information";
  if ("ChildWaitFailure" in reason) return `child wait failure: ${reason.ChildWaitFailure}`;
  return `unrecognized: ${reason.Unrecognized || "(no output)"}`;
}

function snapshot(parts: MasqPageParts): StatusSection {
  const daemon = parts.daemon();
  const node = daemon?.node ?? null;
  const crash = daemon?.lastCrash ?? null;
  const clients = parts.clients();
  return {
    facts: [
      ["Daemon UI port", parts.uiPort()],
      ["Clients", clients.length],
    ],
    tables: [{
      id: "node",
      caption: "Node",
      columns: ["State", "Pid", "UI port", "Last crash"],
      rows: [[
        node ? { text: "running", tone: "ok" } : { text: "not running", tone: "idle" },
        node?.pid ?? null,
        node?.port ?? null,
        crash
          ? {
            text: `pid ${crash.pid}: ${crashText(crash.reason)}`,
            tone: node ? "idle" : "bad",
            title: new Date(crash.at).toISOString(),
          }
          : null,
      ]],
    }, {
      id: "clients",
      caption: "Daemon clients",
      columns: ["Client"],
      rows: clients.map((id) => [`client ${id}`]),
      empty: "No UI clients connected.",
    }],
  };
}

/** The page source of a MASQ service (read-only). */
export function masqStatusPage(parts: MasqPageParts): StatusPageSource {
  return { snapshot: () => snapshot(parts) };
}
