/**
 * The Quix part of the admin status page: the link to the control server (state, back-off and
 * next try, last error), the supervised processes with their CPU, memory and ports, and the
 * WireGuard tunnel. The one action, restarting a process, runs `proc_signal` (SIGTERM, then
 * SIGKILL if it lingers) and `execute` with the same argv through the server's own handlers.
 */
import {
  bytesCell,
  durationText,
  InvalidError,
  NotFoundError,
  statusActions,
  type StatusCell,
  type StatusPageSource,
  type StatusSection,
  type StatusTable,
  type StatusTone,
  UnavailableError,
} from "../../core/mod.ts";
import type { QuixProcesses, QuixTunnel } from "./definition.ts";
import type { QuixHandlerTable } from "./handlers.ts";
import type { QuixLinkStatus } from "./server.ts";

/** How long a restarted process has to exit after SIGTERM, then after SIGKILL. */
const TERM_WAIT_MS = 10_000;
const KILL_WAIT_MS = 3_000;

/** What the page reads from the running service (null before start or after a stop). */
export interface QuixPageParts {
  link(): QuixLinkStatus | null;
  processes(): QuixProcesses | null;
  tunnel(): QuixTunnel | null;
  table(): QuixHandlerTable | null;
  vpnInterface: string;
  vpnError(): string | null;
}

const LINK_TONES: Record<string, StatusTone> = {
  online: "ok",
  connecting: "warn",
  authenticating: "warn",
  backoff: "bad",
  stopped: "idle",
};

function linkTable(link: QuixLinkStatus, now: number): StatusTable {
  let state = link.state === "online" ? "connected" : link.state;
  if (link.state === "backoff" && link.nextRetryAt !== null) {
    state = `back-off, next try in ${durationText(Math.max(0, link.nextRetryAt - now))}`;
  }
  return {
    id: "link",
    caption: "Link to the control server",
    columns: ["Server", "State", "Since", "Attempts", "Auth failures", "Token", "Last error"],
    rows: [[
      link.url,
      { text: state, tone: LINK_TONES[link.state] ?? "warn" },
      `${durationText(now - link.since)} ago`,
      link.attempts,
      link.authFailures,
      link.token.valid ? "valid" : link.token.present ? "expired" : "none",
      link.lastError,
    ]],
  };
}

async function processTable(processes: QuixProcesses): Promise<StatusTable> {
  const figures = await processes.sample();
  return {
    id: "processes",
    caption: "Supervised processes",
    columns: ["Title", "Pid", "Command", "Running for", "CPU", "Memory", "Ports", "Action"],
    rows: figures.map((f): StatusCell[] => [
      f.record.title,
      f.record.pid,
      f.record.argv.join(" "),
      durationText(Date.now() - f.record.startedAt),
      `${f.cpuPercent.toFixed(1)} %`,
      bytesCell(f.rssBytes),
      f.ports.length > 0 ? f.ports.join(", ") : null,
      { action: { name: "restart", target: String(f.record.pid), label: "Restart" } },
    ]),
    empty: "No processes running.",
    actionColumn: 7,
  };
}

async function wireguardTable(parts: QuixPageParts, tunnel: QuixTunnel): Promise<StatusTable> {
  const wg = await tunnel.status().catch(() => null);
  const error = parts.vpnError();
  const row: StatusCell[] = wg
    ? [
      wg.ifname,
      { text: "up", tone: "ok" },
      wg.host || null,
      [wg.ip4, wg.ip6].filter((a) => a).join("\n") || null,
      wg.lastHandshakeSec > 0 ? `${durationText(wg.lastHandshakeSec * 1000)} ago` : "never",
      error,
    ]
    : [parts.vpnInterface, { text: "down", tone: "idle" }, null, null, null, error];
  return {
    id: "wireguard",
    caption: "WireGuard",
    columns: ["Interface", "State", "Server", "Addresses", "Last handshake", "Last error"],
    rows: [row],
  };
}

async function snapshot(parts: QuixPageParts): Promise<StatusSection> {
  const link = parts.link();
  const processes = parts.processes();
  const tunnel = parts.tunnel();
  const tables: StatusTable[] = [];
  if (link) tables.push(linkTable(link, Date.now()));
  if (processes) tables.push(await processTable(processes));
  if (tunnel) tables.push(await wireguardTable(parts, tunnel));
  return { tables };
}

/** Polls until `pid` is no longer among the running processes; whether it left in time. */
async function exited(processes: QuixProcesses, pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!processes.running().some((r) => r.pid === pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** Restarts a supervised process through the `proc_signal` and `execute` handlers. */
async function restart(parts: QuixPageParts, target: string): Promise<string> {
  const processes = parts.processes();
  const table = parts.table();
  const signal = table?.get("proc_signal");
  const execute = table?.get("execute");
  if (!processes || !signal || !execute) throw new UnavailableError("quix is not running");
  const pid = Number(target);
  if (!Number.isInteger(pid) || pid <= 0) throw new InvalidError(`invalid pid "${target}"`);
  const record = processes.running().find((r) => r.pid === pid);
  if (!record) throw new NotFoundError(`process ${pid} is not running`);
  const key = `status-page ${pid} ${Date.now()}`;
  await signal.handler({ msg: { pid, mode: "SIGTERM" }, requestKey: `${key} term` });
  if (!await exited(processes, pid, TERM_WAIT_MS)) {
    await signal.handler({ msg: { pid, mode: "SIGKILL" }, requestKey: `${key} kill` });
    if (!await exited(processes, pid, KILL_WAIT_MS)) {
      throw new UnavailableError(`process ${pid} did not exit`);
    }
  }
  const reply = await execute.handler({ msg: { cmd: record.argv }, requestKey: `${key} exec` }) as {
    proc_id?: number;
  };
  return `process ${pid} restarted as pid ${reply.proc_id}`;
}

/** The page source of a Quix service. */
export function quixStatusPage(parts: QuixPageParts): StatusPageSource {
  return {
    snapshot: () => snapshot(parts),
    act: statusActions({ restart: (pid) => restart(parts, pid) }),
  };
}
