/** `polyagent ctl cryptode …`: the client commands, a status table, exit status per code. */
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { type CtlEnvironment, FailedError, InvalidError } from "../../core/mod.ts";
import { Resp, respName } from "./codes.ts";
import { Cmd } from "./schemas.ts";
import { ClientError, request } from "./client.ts";
import type { ConnectionStatus } from "./status_doc.ts";

interface CommonOptions {
  json?: boolean;
  socket?: string;
  timeout: string;
}

function table(rows: ConnectionStatus[]): string[] {
  const head = ["NAME", "STATUS", "OPENVPN", "CONNECTED", "IN", "OUT", "AUTO", "PRE-EXEC"];
  const body = rows.map((s) => [
    s.name,
    s.status,
    s["ovpn-status"],
    s.network ? new Date(s.network["connected-time"] * 1000).toISOString() : "-",
    String(s.network?.["in-current"] ?? 0),
    String(s.network?.["out-current"] ?? 0),
    s["auto-connect"] ? "yes" : "no",
    s["pre-exec-cmd"] ? String(s["pre-exec-status"]) : "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  const lines = [fmt(head), ...body.map(fmt)];
  for (const s of rows) {
    if (s["last-error"]) lines.push(`${s.name}: ${s["last-error"]}`);
  }
  return lines;
}

/** How one subcommand sends its request and prints the reply. */
type CtlCall = (
  opts: CommonOptions,
  cmd: number,
  param: unknown,
  render?: (data: unknown) => string[],
) => Promise<void>;

/** Adds `--json`, `--socket` and `--timeout` to a subcommand. */
function common(cmd: Command): Command {
  return cmd.addOption(new Option("--json", "print the raw JSON reply"))
    .addOption(
      new Option("--socket <path>", "document-dialect socket (default: cryptoded.socket)"),
    )
    .addOption(new Option("--timeout <ms>", "give up after this long").default("15000"));
}

/** The request/reply round trip every subcommand makes; a non-OK code exits 1 with its name. */
function makeCall(env: CtlEnvironment): CtlCall {
  return async (opts, cmd, param, render) => {
    const config = opts.socket ? null : await env.config();
    const socket = opts.socket ??
      (config!.services["cryptoded"] as { socket: string } | undefined)?.socket ??
      "/var/run/rvd";
    if (!socket) {
      throw new InvalidError(
        'cryptoded.socket is "" (off): give --socket with a document-dialect socket',
      );
    }
    const timeout = Number(opts.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new InvalidError(`--timeout: expected a positive number, got "${opts.timeout}"`);
    }
    let reply;
    try {
      reply = await request(socket, cmd, param, timeout);
    } catch (error) {
      if (error instanceof ClientError) {
        throw new FailedError(`${respName(error.code)}: ${error.message}`);
      }
      throw error;
    }
    if (opts.json) env.print(reply.raw.trimEnd());
    if (reply.code !== Resp.OK) {
      const detail = typeof reply.data === "string" ? reply.data : JSON.stringify(reply.data ?? "");
      throw new FailedError(`${respName(reply.code)}: ${detail}`);
    }
    if (!opts.json) {
      const lines = render ? render(reply.data) : ["OK"];
      for (const line of lines) env.print(line);
    }
  };
}

function statusRender(data: unknown): string[] {
  return table(Array.isArray(data) ? data as ConnectionStatus[] : [data as ConnectionStatus]);
}

/** connect, disconnect, status. */
function addTunnelCommands(group: Command, call: CtlCall): void {
  common(group.command("connect").description("connect a profile (or all)"))
    .argument("<name>", "profile name or all")
    .action((name: string, opts: CommonOptions) => call(opts, Cmd.CONNECT, name, statusRender));
  common(group.command("disconnect").description("disconnect a profile (or all)"))
    .argument("<name>", "profile name or all")
    .action((name: string, opts: CommonOptions) => call(opts, Cmd.DISCONNECT, name, statusRender));
  common(group.command("status").description("show connection status"))
    .argument("[name]", "profile name or all", "all")
    .action((name: string, opts: CommonOptions) => call(opts, Cmd.STATUS, name, statusRender));
}

/** The IMPORT parameter from the command line (reads the file `--file` names). */
async function importParam(
  type: string | undefined,
  path: string | undefined,
  opts: { name?: string; file?: string },
): Promise<unknown> {
  if (opts.name) {
    if (!opts.file) throw new InvalidError("--name needs --file");
    return { name: opts.name, content: await Deno.readTextFile(opts.file) };
  }
  if (!type || !path) throw new InvalidError("usage: import <new-from-ovpn|new-from-tblk> <path>");
  return { type, path: resolve(path) };
}

/** import, remove, reload. */
function addProfileCommands(group: Command, call: CtlCall): void {
  common(
    group.command("import").description("import a profile: new-from-ovpn|new-from-tblk <path>"),
  )
    .argument("[type]", "new-from-ovpn or new-from-tblk")
    .argument("[path]", "the .ovpn file or .tblk bundle")
    .addOption(new Option("--name <name>", "import inline content under this name"))
    .addOption(new Option("--file <file>", "with --name: the file whose content is sent"))
    .action(
      async (
        type: string | undefined,
        path: string | undefined,
        opts: CommonOptions & { name?: string; file?: string },
      ) => {
        await call(opts, Cmd.IMPORT, await importParam(type, path, opts), (d) => [
          `imported ${((d as { imported?: string[] }).imported ?? []).join(", ")}`,
        ]);
      },
    );
  common(group.command("remove").description("remove a profile"))
    .argument("<name>", "profile name")
    .addOption(new Option("--force", "disconnect first when connected"))
    .action((name: string, opts: CommonOptions & { force?: boolean }) =>
      call(opts, Cmd.REMOVE, { name, force: opts.force ?? false }, () => [`removed ${name}`])
    );
  common(group.command("reload").description("re-read the profile directory"))
    .action((opts: CommonOptions) =>
      call(opts, Cmd.RELOAD, null, (d) => {
        const r = d as { added: string[]; removed: string[]; refused: string[] };
        return [
          `added: ${r.added.join(", ") || "-"}`,
          `removed: ${r.removed.join(", ") || "-"}`,
          `refused: ${r.refused.join(", ") || "-"}`,
        ];
      })
    );
}

/** dns-override, script-security, confdir. */
function addSettingCommands(group: Command, call: CtlCall): void {
  common(group.command("dns-override").description("enable <ip,ip> | disable | status"))
    .argument("<action>", "enable, disable or status")
    .argument("[servers]", "comma-separated IPs for enable")
    .action((action: string, servers: string | undefined, opts: CommonOptions) =>
      call(opts, Cmd.DNS_OVERRIDE, servers ? `${action} ${servers}` : action, (d) => {
        if (action !== "status") return ["OK"];
        const s = d as { enabled: boolean; servers: string[]; current: string[] };
        return [
          `override: ${s.enabled ? `enabled (${s.servers.join(",")})` : "disabled"}`,
          `resolver now: ${s.current.join(",") || "-"}`,
        ];
      })
    );
  common(group.command("script-security").description("enable | disable openvpn scripts"))
    .argument("<action>", "enable or disable")
    .action((action: string, opts: CommonOptions) => call(opts, Cmd.SCRIPT_SECURITY, action));
  common(group.command("confdir").description("print the profile directory"))
    .action((opts: CommonOptions) => call(opts, Cmd.GET_CONFDIR, null, (d) => [String(d)]));
}

/** Adds `ctl cryptode`. */
export function registerCryptodedCtl(ctl: Command, env: CtlEnvironment): void {
  const group = ctl.command("cryptode").description(
    "talk to the cryptoded service (OpenVPN control socket)",
  );
  const call = makeCall(env);
  addTunnelCommands(group, call);
  addProfileCommands(group, call);
  addSettingCommands(group, call);
}
