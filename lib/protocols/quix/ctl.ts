/**
 * `polyagent ctl quix status` and `polyagent ctl quix vpn refresh`: clients of the service's
 * status socket (status_socket.ts).
 */
import { join } from "node:path";
import type { Command } from "commander";
import { type CtlEnvironment, FailedError } from "../../core/mod.ts";
import type { STATUS_SOCKET_COMMANDS } from "./schemas.ts";

/** Sends one status socket request and returns the `result`. */
export async function ctlCall(
  path: string,
  cmd: (typeof STATUS_SOCKET_COMMANDS)[number],
  timeoutMs = 20_000,
): Promise<unknown> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    throw new FailedError(
      `cannot reach the quix service at "${path}": ${(error as Error).message}`,
    );
  }
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(JSON.stringify({ cmd }) + "\n"));
    let text = "";
    const buf = new Uint8Array(65536);
    while (!text.includes("\n")) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    if (!text.includes("\n")) {
      throw new FailedError(`no answer from "${path}" within ${timeoutMs} ms`);
    }
    const answer = JSON.parse(text.slice(0, text.indexOf("\n"))) as {
      ok: boolean;
      result?: unknown;
      error?: string;
    };
    if (!answer.ok) throw new FailedError(answer.error ?? "request failed");
    return answer.result;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
}

/** The status socket path from the effective config. */
export async function ctlSocketPath(env: CtlEnvironment): Promise<string> {
  const config = await env.config();
  const quix = config.services.quix as { ctl_socket?: string } | undefined;
  return quix?.ctl_socket || join(config.agent.run_dir, "quix.sock");
}

function when(ms: number | null): string {
  if (ms === null) return "-";
  const delta = Math.round((ms - Date.now()) / 1000);
  return `${new Date(ms).toISOString()} (${delta >= 0 ? "in " : ""}${Math.abs(delta)} s${
    delta < 0 ? " ago" : ""
  })`;
}

/** Renders the status for humans. */
export function renderStatus(status: Record<string, unknown>): string[] {
  // deno-lint-ignore no-explicit-any
  const s = status as any;
  const lines = [
    `link      ${s.link.state} ${s.link.url} (since ${new Date(s.link.since).toISOString()})`,
    `token     ${s.link.token.present ? (s.link.token.valid ? "valid" : "expired") : "none"}${
      s.link.token.expiresAt ? `, expires ${when(s.link.token.expiresAt)}` : ""
    }`,
  ];
  if (s.link.lastError) lines.push(`error     ${s.link.lastError}`);
  if (s.link.nextRetryAt) lines.push(`retry     ${when(s.link.nextRetryAt)}`);
  lines.push(
    `vpn       ${s.vpn ? `${s.vpn.ifname} ${s.vpn.ip4 || ""} ${s.vpn.host || ""}` : "none"}`,
  );
  lines.push(`processes ${s.processes.length} running`);
  for (const p of s.processes) {
    lines.push(`  ${String(p.pid).padStart(7)}  ${p.title}  ${p.reqc}`);
  }
  return lines;
}

/** Adds `ctl quix …`. */
export function registerQuixCtl(ctl: Command, env: CtlEnvironment): void {
  const quix = ctl.command("quix").description("the Quix WSI backend agent");
  quix.command("status")
    .description("link state, token validity and supervised processes")
    .option("--json", "print the raw JSON")
    .action(async (opts: { json?: boolean }) => {
      const result = await ctlCall(await ctlSocketPath(env), "status", 5000) as Record<
        string,
        unknown
      >;
      if (opts.json) env.print(JSON.stringify(result, null, 2));
      else for (const line of renderStatus(result)) env.print(line);
    });
  const vpn = quix.command("vpn").description("the WireGuard tunnel");
  vpn.command("refresh")
    .description("ask the control server for the WireGuard config and apply it")
    .action(async () => {
      const result = await ctlCall(await ctlSocketPath(env), "vpn_refresh", 60_000);
      env.print(JSON.stringify(result));
    });
}
