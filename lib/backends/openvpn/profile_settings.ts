/**
 * A profile's settings and what STATUS tells about its server: `<name>.json` (rvd and the protocol
 * document) and `<name>.noc` (cryptode v1.x, written by its `edit`; wins key by key), both JSON
 * with `auto-connect`, `pre-connect-exec` and `pre-connect-exec-interval`; and the `remote` /
 * `proto` lines of the `.ovpn`. Parsing is pure; {@linkcode writeNocSettings} writes the file.
 */
import { join } from "node:path";
import { writeFileAtomic } from "../../core/mod.ts";

/** What a settings file sets. */
export interface ProfileSettings {
  autoConnect: boolean;
  /** `pre-connect-exec`, or "" when none. */
  preConnectExec: string;
  /** `pre-connect-exec-interval` in seconds (1–60), 0 when unset. */
  preExecInterval: number;
}

/** The server a profile connects to, as the v1.x status shows it. */
export interface ProfileEndpoint {
  address: string;
  port: number;
  protocol: string;
  ipVersion: 4 | 6;
}

/** Settings of a profile without a settings file. */
export const NO_SETTINGS: ProfileSettings = {
  autoConnect: false,
  preConnectExec: "",
  preExecInterval: 0,
};

/** The first JSON value of `text`: cryptode's `edit` rewrites `.noc` without truncating it. */
function firstJsonValue(text: string): unknown {
  const start = text.search(/\S/);
  if (start < 0) throw new SyntaxError("empty file");
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if ((c === "}" || c === "]") && --depth === 0) return JSON.parse(text.slice(start, i + 1));
  }
  return JSON.parse(text.slice(start));
}

/** Reads a settings file's text over `base`; a string is the reason it is refused. */
export function parseSettings(
  text: string,
  base: ProfileSettings = NO_SETTINGS,
): ProfileSettings | string {
  let data: unknown;
  try {
    data = firstJsonValue(text);
  } catch (error) {
    return `invalid JSON: ${(error as Error).message}`;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return "not a JSON object";
  const o = data as Record<string, unknown>;
  const auto = o["auto-connect"] ?? base.autoConnect;
  const exec = o["pre-connect-exec"] ?? base.preConnectExec;
  const interval = o["pre-connect-exec-interval"] ?? base.preExecInterval;
  if (typeof auto !== "boolean") return `"auto-connect" must be true or false`;
  if (typeof exec !== "string") return `"pre-connect-exec" must be a string`;
  if (typeof interval !== "number" || !Number.isInteger(interval)) {
    return `"pre-connect-exec-interval" must be a whole number`;
  }
  // as the original: out of 1..60 means none
  const preExecInterval = interval >= 1 && interval <= 60 ? interval : 0;
  return { autoConnect: auto, preConnectExec: exec, preExecInterval };
}

/** The last `remote` and `proto` lines of an `.ovpn` (openvpn's defaults when absent). */
export function parseEndpoint(ovpn: string): ProfileEndpoint {
  const out: ProfileEndpoint = { address: "", port: 1194, protocol: "udp", ipVersion: 4 };
  for (const raw of ovpn.split("\n")) {
    const words = raw.trim().split(/\s+/);
    if (words[0] === "remote" && words[1]) {
      out.address = words[1];
      const port = Number(words[2]);
      out.port = Number.isInteger(port) && port > 0 && port < 65536 ? port : 1194;
      if (words[3]) out.protocol = words[3];
    } else if (words[0] === "proto" && words[1]) {
      out.protocol = words[1];
    }
  }
  out.ipVersion = out.protocol.includes("6") ? 6 : 4;
  return out;
}

/** Writes `<dir>/<name>.noc` (0600, atomic) as cryptode's `edit` does. */
export async function writeNocSettings(
  dir: string,
  name: string,
  settings: ProfileSettings,
): Promise<string> {
  const path = join(dir, `${name}.noc`);
  const body = {
    name,
    "auto-connect": settings.autoConnect,
    "pre-connect-exec": settings.preConnectExec,
    "pre-connect-exec-interval": settings.preExecInterval,
  };
  await writeFileAtomic(path, JSON.stringify(body), { mode: 0o600 });
  return path;
}
