/**
 * The handlers, one per command whatever its number, and the table of each dialect (command code →
 * {@linkcode CryptodedHandler}, on core's `HandlerTable`; registering a code twice throws). Each
 * handler parses its parameter (schemas.ts), calls the domain (tunnels/, the DNS override, the
 * profile store) and returns a reply the dialect writes; failures are thrown as neutral errors
 * and mapped in errors.ts.
 */
import { HandlerTable, type Logger, UnavailableError } from "../../core/mod.ts";
import type { CryptodedProfileStore } from "./backends.ts";
import type { CryptodedConfig } from "./config.ts";
import type { CryptodedDialect, CryptodedReply } from "./dialect.ts";
import type { DnsOverride } from "./dns_override.ts";
import {
  type CommandName,
  type CryptodedRequest,
  parseDns,
  parseEdit,
  parseEnableDisable,
  parseImport,
  parseRemove,
  parseTarget,
} from "./schemas.ts";
import { type ConnectionView, type CryptodedConnections, importProfiles } from "./tunnels/mod.ts";

/** What handlers work with. */
export interface CryptodedHandlerContext {
  /** The section, `profile_dir` already absolute. */
  config: CryptodedConfig;
  connections: CryptodedConnections;
  dns: DnsOverride;
  profiles: CryptodedProfileStore;
  log: Logger;
}

/** One command's handler. */
export interface CryptodedHandler {
  /** The command, for logs. */
  command: CommandName;
  /** Needs a root peer (SUDO_REQUIRED otherwise). */
  privileged: boolean;
  handle(request: CryptodedRequest, ctx: CryptodedHandlerContext): Promise<CryptodedReply>;
}

/** The table of one dialect's handlers. */
export type CryptodedHandlerTable = HandlerTable<number, CryptodedHandler>;

type Handle = CryptodedHandler["handle"];

function statusReply(
  list: ConnectionView[],
  single: boolean,
  ctx: CryptodedHandlerContext,
  req: CryptodedRequest,
): CryptodedReply {
  const detail = req.detail === true;
  return { kind: "status", list, single, profileDir: ctx.config.profile_dir, detail };
}

/** A command on `all` or one connection name, answered with their status. */
function byTarget(
  all: (c: CryptodedConnections) => Promise<ConnectionView[]>,
  one: (c: CryptodedConnections, name: string) => Promise<ConnectionView>,
): Handle {
  return async (req, ctx) => {
    const t = parseTarget(req.param);
    const c = ctx.connections;
    return statusReply(t.all ? await all(c) : [await one(c, t.name)], !t.all, ctx, req);
  };
}

/** CONNECT, DISCONNECT, RECONNECT and STATUS. */
const tunnelCommands: Partial<Record<CommandName, Handle>> = {
  connect: byTarget((c) => c.connectAll(), (c, name) => c.connect(name)),
  disconnect: byTarget((c) => c.disconnectAll(), (c, name) => c.disconnect(name)),
  reconnect: byTarget((c) => c.reconnectAll(), (c, name) => c.reconnect(name)),
  status(req, ctx) {
    const t = parseTarget(req.param);
    return Promise.resolve(statusReply(ctx.connections.status(t), !t.all, ctx, req));
  },
};

/** SCRIPT_SECURITY, RELOAD, IMPORT, EDIT, REMOVE (all privileged). */
const profileCommands: Partial<Record<CommandName, Handle>> = {
  async "script-security"(req, ctx) {
    const enabled = parseEnableDisable(req.param);
    await ctx.connections.setScriptSecurity(enabled);
    ctx.log.info("script security changed", { enabled });
    return { kind: "value" };
  },
  async reload(_req, ctx) {
    const result = await ctx.connections.reload();
    ctx.log.info("profiles reloaded", result);
    const text = `Reloaded: ${result.added.length} added, ${result.removed.length} removed`;
    return { kind: "value", data: result, text };
  },
  async import(req, ctx) {
    const source = parseImport(req.param);
    const limit = ctx.config.import_max_bytes;
    const { names, files } = await importProfiles(ctx.profiles, source, limit);
    ctx.log.info("profiles imported", { files });
    await ctx.connections.reload().catch(() => {});
    return {
      kind: "value",
      data: { imported: names, files },
      text: `Imported ${names.join(", ")}`,
    };
  },
  async edit(req, ctx) {
    const { name, option, value } = parseEdit(req.param);
    return statusReply([await ctx.connections.edit(name, option, value)], true, ctx, req);
  },
  async remove(req, ctx) {
    const { name, force } = parseRemove(req.param);
    const removed = await ctx.connections.remove(name, force);
    ctx.log.info("profile removed", { name, force, files: removed });
    return { kind: "value", data: { removed: name, files: removed }, text: `Removed ${name}` };
  },
};

/** DNS_OVERRIDE and GET_CONFDIR. */
const systemCommands: Partial<Record<CommandName, Handle>> = {
  async "dns-override"(req, ctx) {
    const param = parseDns(req.param);
    if (param.action === "status") {
      const data = await ctx.dns.status();
      const text = data.enabled
        ? `DNS override enabled: ${data.servers.join(",")}`
        : "DNS override disabled";
      return { kind: "value", data, text };
    }
    if (param.action === "enable") await ctx.dns.enable(param.servers);
    else await ctx.dns.disable();
    return { kind: "value" };
  },
  async "get-confdir"(_req, ctx) {
    const problem = await ctx.profiles.dirProblem();
    if (problem) throw new UnavailableError(problem, { reason: "conf-dir" });
    // the path as it is: rvc copies the text reply into the path it writes to
    return { kind: "value", data: ctx.config.profile_dir, text: ctx.config.profile_dir };
  },
};

const HANDLES: Partial<Record<CommandName, Handle>> = {
  ...tunnelCommands,
  ...profileCommands,
  ...systemCommands,
};

/** Commands that change the system: they need a root peer. */
const PRIVILEGED: ReadonlySet<CommandName> = new Set([
  "script-security",
  "reload",
  "import",
  "edit",
  "remove",
  "dns-override",
]);

/** The table of `dialect`: each of its command codes → the handler of that command. */
export function createCryptodedHandlers(dialect: CryptodedDialect): CryptodedHandlerTable {
  const table: CryptodedHandlerTable = new HandlerTable(`cryptoded ${dialect.name} command`);
  for (const [code, command] of dialect.commands) {
    const handle = HANDLES[command];
    if (!handle) throw new Error(`no handler for ${command}`);
    table.register(code, { command, privileged: PRIVILEGED.has(command), handle });
  }
  return table;
}
