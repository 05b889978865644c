/**
 * `net.ipv4.tcp_migrate_req` (Linux 5.14+): when a listener of an SO_REUSEPORT group closes, the
 * connections waiting in its accept queue move to another listener of the group instead of being
 * reset. The agent turns it on before it moves listeners (an upgrade, or a proxy worker replaced)
 * when it runs as root; the setting is per network namespace and is left on afterwards.
 */
import { type CommandRunner, runCommand } from "./command_runner.ts";
import type { Logger } from "./log.ts";

const KEY = "net.ipv4.tcp_migrate_req";

/** What {@linkcode enableTcpMigrateReq} found and did. */
export type TcpMigrateState = "on" | "turned-on" | "not-root" | "unsupported" | "failed";

/** Reads the setting: true, false, or null when this kernel has none (or it cannot be read). */
export async function readTcpMigrateReq(runner: CommandRunner = runCommand): Promise<
  boolean | null
> {
  const result = await runner(["sysctl", "-n", KEY], {
    check: false,
    timeoutMs: 5000,
    processGroup: false,
  }).catch(() => null);
  if (!result || result.code !== 0) return null;
  return result.stdout.trim() === "1";
}

/** Turns the setting on when it is off and the agent is root; never throws. */
export async function enableTcpMigrateReq(
  log: Logger,
  runner: CommandRunner = runCommand,
): Promise<TcpMigrateState> {
  const current = await readTcpMigrateReq(runner);
  if (current === null) return "unsupported";
  if (current) return "on";
  if (Deno.uid() !== 0) return "not-root";
  const result = await runner(["sysctl", "-q", "-w", `${KEY}=1`], {
    check: false,
    timeoutMs: 5000,
    processGroup: false,
  }).catch((error) => ({ code: -1, stderr: String(error) }));
  if (result.code !== 0) {
    log.warn("could not turn on tcp_migrate_req", { error: result.stderr.trim() });
    return "failed";
  }
  log.info("turned on net.ipv4.tcp_migrate_req: queued connections follow a moved listener");
  return "turned-on";
}
