/**
 * Host sockets listening on a port, read with `ss` (iproute2) through the command runner: a
 * port forward must not capture a port the host itself serves on.
 */
import type { CommandRunner } from "../../core/mod.ts";

const SS_TIMEOUT_MS = 5_000;

/** The argv of `ss` listing the `protocol` sockets listening on `port` (numeric, no header). */
export function listenersCommand(protocol: "tcp" | "udp", port: number): string[] {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`Invalid port ${port}: expected 1 to 65535`);
  }
  return ["ss", "-H", "-l", "-n", "-p", protocol === "tcp" ? "-t" : "-u", "sport", "=", `:${port}`];
}

/**
 * Parses `ss -H -l -n -p` lines into one description per socket: its local address and, when
 * `ss` could see it, the holder (`0.0.0.0:22 (sshd, pid 812)`).
 */
export function parseListeners(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const fields = line.trim().split(/\s+/);
    const local = fields[3];
    if (!local || !/:(\d+|\*)$/.test(local)) continue;
    const holder = /users:\(\("([^"]*)",pid=(\d+)/.exec(line);
    out.push(holder ? `${local} (${holder[1]}, pid ${holder[2]})` : local);
  }
  return out;
}

/** The host sockets listening on `protocol`/`port`, described by {@linkcode parseListeners}. */
export async function hostListeners(
  runner: CommandRunner,
  protocol: "tcp" | "udp",
  port: number,
): Promise<string[]> {
  const result = await runner(listenersCommand(protocol, port), {
    timeoutMs: SS_TIMEOUT_MS,
    processGroup: false,
  });
  return parseListeners(result.stdout);
}
