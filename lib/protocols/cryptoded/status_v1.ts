/**
 * STATUS in the cryptode v1.x dialect, as cryptoded v1.3.1 answers it: the JSON object (`name`,
 * `profile`, `autoConnect`, `endpointIp`, `assignedIp`, `port`, `protocol`, `ipVersion`,
 * `CryptodedConnectionStatus{state, ovpnState, connectionTime, netIn, netOut}`,
 * `CryptodedPreExec{command, interval, userId, returnCode}`) and the plain-text block.
 *
 * One addition: the v1.3.1 client's `edit` and `remove` read `code` and
 * `data.{status, profile, auto-connect, pre-exec-cmd}` inside the status object (the shape of an
 * older daemon), which v1.3.1's own daemon never sent, so both commands always failed with
 * "Couldn't parse connection status response". Every object carries those keys too, so they work.
 */
import { stateLines } from "./status_doc.ts";
import type { ConnectionView } from "./tunnels/mod.ts";

/** `%FT%T%Z` in local time, as the original formats `connectionTime`. */
export function localTimeText(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(d).find((p) => p.type === "timeZoneName")?.value ?? "";
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}${zone}`;
}

/** The JSON object of one connection. */
export function v1Status(v: ConnectionView): Record<string, unknown> {
  const netmask = v.endpoint.ipVersion === 6 ? 128 : 32;
  return {
    name: v.name,
    profile: v.profile,
    autoConnect: v.autoConnect,
    endpointIp: { address: v.endpoint.address, netmask },
    assignedIp: { address: v.tunIp, netmask },
    port: v.endpoint.port,
    protocol: v.endpoint.protocol,
    ipVersion: v.endpoint.ipVersion,
    CryptodedConnectionStatus: {
      state: v.status,
      ovpnState: v.ovpnStatus,
      connectionTime: v.connectedTime === null ? "" : localTimeText(v.connectedTime),
      netIn: v.currentIn,
      netOut: v.currentOut,
    },
    CryptodedPreExec: {
      command: v.preExecCmd,
      interval: v.preExecInterval,
      userId: v.preExecUid,
      returnCode: v.preExecStatus,
    },
    // what the v1.3.1 client's edit/remove parse (see the module doc)
    code: 0,
    data: {
      status: v.status,
      profile: v.profile,
      "auto-connect": v.autoConnect ? "Enabled" : "Disabled",
      "pre-exec-cmd": v.preExecCmd,
    },
  };
}

/** The text block of one connection. */
export function v1StatusText(v: ConnectionView): string {
  const hasCmd = v.preExecCmd !== "";
  const lines = [
    `name: ${v.name}`,
    `\tconfig-status: ${v.hasNoc ? "NOC configuration exists" : "No NOC configuration exists"}`,
    `\tprofile: ${v.profile}`,
    ...stateLines(v, v.connectedTime === null ? "" : localTimeText(v.connectedTime)),
  ];
  const preStatus = hasCmd && v.preExecRan
    ? `${v.preExecStatus === 0 ? "SUCCESSFUL" : "FAILED"} [${v.preExecStatus}]`
    : "";
  const interval = !hasCmd ? "" : v.preExecInterval > 0 ? `${v.preExecInterval} (seconds)` : "none";
  lines.push(
    `\ttimestamp: ${v.timestamp}`,
    `\tauto-connect: ${v.autoConnect ? "Enabled" : "Disabled"}`,
    `\tpre-exec-cmd: ${v.preExecCmd}`,
    `\tpre-exec-status: ${preStatus}`,
    `\tpre-exec-interval: ${interval}`,
  );
  return lines.join("\n") + "\n";
}
