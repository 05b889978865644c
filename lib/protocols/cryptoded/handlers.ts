/**
 * The handler table: command code → {@linkcode CryptodedHandler}, on core's `HandlerTable`
 * (registering a code twice throws). Each handler parses its parameter (schemas.ts), calls the
 * domain (tunnels/, the DNS override, the profile store) and returns a reply; failures are
 * thrown as neutral errors and mapped in errors.ts.
 */
import { HandlerTable, type Logger, UnavailableError } from "../../core/mod.ts";
import type { CryptodedProfileStore } from "./backends.ts";
import { Resp } from "./codes.ts";
import type { CryptodedConfig } from "./config.ts";
import type { DnsOverride } from "./dns_override.ts";
import type { CryptodedReply } from "./errors.ts";
import {
  Cmd,
  type CryptodedRequest,
  parseDns,
  parseEnableDisable,
  parseImport,
  parseRemove,
  parseTarget,
} from "./schemas.ts";
import { statusText } from "./status_text.ts";
import { type ConnectionStatus, type CryptodedConnections, importProfiles } from "./tunnels/mod.ts";

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
  /** Needs a root peer (SUDO_REQUIRED otherwise). */
  privileged: boolean;
  handle(request: CryptodedRequest, ctx: CryptodedHandlerContext): Promise<CryptodedReply>;
}

/** The table of cryptoded handlers. */
export type CryptodedHandlerTable = HandlerTable<number, CryptodedHandler>;

function statusReply(list: ConnectionStatus[], single: boolean): CryptodedReply {
  return { code: Resp.OK, data: single ? list[0] : list, text: list.map(statusText).join("") };
}

/** CONNECT, DISCONNECT and STATUS. */
function registerTunnelCommands(table: CryptodedHandlerTable): void {
  table.register(Cmd.CONNECT, {
    privileged: false,
    async handle(req, ctx) {
      const target = parseTarget(req.param);
      if (target.all) return statusReply(await ctx.connections.connectAll(), false);
      return statusReply([await ctx.connections.connect(target.name)], true);
    },
  });
  table.register(Cmd.DISCONNECT, {
    privileged: false,
    async handle(req, ctx) {
      const target = parseTarget(req.param);
      if (target.all) return statusReply(await ctx.connections.disconnectAll(), false);
      return statusReply([await ctx.connections.disconnect(target.name)], true);
    },
  });
  table.register(Cmd.STATUS, {
    privileged: false,
    handle(req, ctx) {
      const target = parseTarget(req.param);
      return Promise.resolve(statusReply(ctx.connections.status(target), !target.all));
    },
  });
}

/** SCRIPT_SECURITY. */
function registerScriptSecurity(table: CryptodedHandlerTable): void {
  table.register(Cmd.SCRIPT_SECURITY, {
    privileged: true,
    async handle(req, ctx) {
      const enabled = parseEnableDisable(req.param);
      await ctx.connections.setScriptSecurity(enabled);
      ctx.log.info("script security changed", { enabled });
      return { code: Resp.OK };
    },
  });
}

/** RELOAD, IMPORT and REMOVE. */
function registerProfileCommands(table: CryptodedHandlerTable): void {
  table.register(Cmd.RELOAD, {
    privileged: true,
    async handle(_req, ctx) {
      const result = await ctx.connections.reload();
      ctx.log.info("profiles reloaded", result);
      const text = `Reloaded: ${result.added.length} added, ${result.removed.length} removed`;
      return { code: Resp.OK, data: result, text };
    },
  });
  table.register(Cmd.IMPORT, {
    privileged: true,
    async handle(req, ctx) {
      const source = parseImport(req.param);
      const { names, files } = await importProfiles(
        ctx.profiles,
        source,
        ctx.config.import_max_bytes,
      );
      ctx.log.info("profiles imported", { files });
      await ctx.connections.reload().catch(() => {});
      const data = { imported: names, files };
      return { code: Resp.OK, data, text: `Imported ${names.join(", ")}` };
    },
  });
  table.register(Cmd.REMOVE, {
    privileged: true,
    async handle(req, ctx) {
      const { name, force } = parseRemove(req.param);
      const removed = await ctx.connections.remove(name, force);
      ctx.log.info("profile removed", { name, force, files: removed });
      return { code: Resp.OK, data: { removed: name, files: removed }, text: `Removed ${name}` };
    },
  });
}

/** DNS_OVERRIDE. */
function registerDnsOverride(table: CryptodedHandlerTable): void {
  table.register(Cmd.DNS_OVERRIDE, {
    privileged: true,
    async handle(req, ctx) {
      const param = parseDns(req.param);
      if (param.action === "status") {
        const data = await ctx.dns.status();
        const text = data.enabled
          ? `DNS override enabled: ${data.servers.join(",")}`
          : "DNS override disabled";
        return { code: Resp.OK, data, text };
      }
      if (param.action === "enable") await ctx.dns.enable(param.servers);
      else await ctx.dns.disable();
      return { code: Resp.OK };
    },
  });
}

/** GET_CONFDIR. */
function registerConfDir(table: CryptodedHandlerTable): void {
  table.register(Cmd.GET_CONFDIR, {
    privileged: false,
    async handle(_req, ctx) {
      const problem = await ctx.profiles.dirProblem();
      if (problem) throw new UnavailableError(problem, { reason: "conf-dir" });
      return { code: Resp.OK, data: ctx.config.profile_dir, text: ctx.config.profile_dir };
    },
  });
}

/** The nine commands of the document. */
export function createCryptodedHandlers(): CryptodedHandlerTable {
  const table: CryptodedHandlerTable = new HandlerTable("cryptoded command");
  registerTunnelCommands(table);
  registerScriptSecurity(table);
  registerProfileCommands(table);
  registerDnsOverride(table);
  registerConfDir(table);
  return table;
}
