/** The text-mode (json: false) rendering of a connection status, as the real daemon prints it. */
import type { ConnectionStatus } from "./tunnels/mod.ts";

/** One status block. */
export function statusText(s: ConnectionStatus): string {
  const lines = [
    `name: ${s.name}`,
    `\tprofile: ${s.profile}`,
    `\tstatus: ${s.status}`,
    `\topenvpn-status: ${s["ovpn-status"]}`,
    `\tin-total: ${s["in-total"]}`,
    `\tout-total: ${s["out-total"]}`,
    `\ttimestamp: ${s.timestamp}`,
    `\tauto-connect: ${s["auto-connect"]}`,
    `\tpre-exec-cmd: ${s["pre-exec-cmd"]}`,
    `\tpre-exec-status: ${s["pre-exec-status"]}`,
  ];
  if (s.network) {
    lines.push(
      `\tconnected-time: ${s.network["connected-time"]}`,
      `\tin-current: ${s.network["in-current"]}`,
      `\tout-current: ${s.network["out-current"]}`,
    );
  }
  if (s["last-error"]) lines.push(`\tlast-error: ${s["last-error"]}`);
  return lines.join("\n") + "\n";
}
