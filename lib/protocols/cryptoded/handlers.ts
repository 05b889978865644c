/**
 * The handler table: command code → handler. Each handler parses its parameter (schema.ts), calls
 * the connections or the resolver, and returns a reply; failures are thrown as typed errors and
 * mapped in errors.ts. Registering a code twice throws.
 */
import type { CommandRunner, JsonDocument, Logger } from "../../core/mod.ts";
import {
  checkSize,
  confDirProblem,
  type ImportedProfile,
  isValidProfileName,
  profileExists,
  readOvpnFile,
  readTblk,
  writeProfile,
} from "../../backends/openvpn/mod.ts";
import type { DnsResolver } from "../../backends/resolver/mod.ts";
import { Cmd, Resp } from "./codes.ts";
import type { CryptodedConfig } from "./config.ts";
import type { Connections, SavedState } from "./connections.ts";
import { CryptodedError, type Reply } from "./errors.ts";
import {
  parseDns,
  parseEnableDisable,
  parseImport,
  parseRemove,
  parseTarget,
  type Request,
} from "./schema.ts";
import { statusText } from "./status_text.ts";

/** What handlers work with. */
export interface HandlerContext {
  config: CryptodedConfig;
  connections: Connections;
  resolver: DnsResolver;
  saved: JsonDocument<SavedState>;
  runner: CommandRunner;
  log: Logger;
}

/** One command's handler. */
export interface Handler {
  /** Needs a root peer (SUDO_REQUIRED otherwise). */
  privileged: boolean;
  handle(request: Request, ctx: HandlerContext): Promise<Reply>;
}

/** Command code → handler; refuses duplicates. */
export class HandlerTable {
  #handlers = new Map<number, Handler>();

  register(cmd: number, handler: Handler): this {
    if (this.#handlers.has(cmd)) throw new Error(`Handler for command ${cmd} registered twice`);
    this.#handlers.set(cmd, handler);
    return this;
  }

  get(cmd: number): Handler | undefined {
    return this.#handlers.get(cmd);
  }
}

function statusReply(list: ReturnType<Connections["status"]>, single: boolean): Reply {
  return { code: Resp.OK, data: single ? list[0] : list, text: list.map(statusText).join("") };
}

async function importOne(ctx: HandlerContext, profile: ImportedProfile): Promise<string> {
  const dir = ctx.config.profile_dir;
  checkSize(
    `profile ${JSON.stringify(profile.name)}`,
    new TextEncoder().encode(profile.content).length,
    ctx.config.import_max_bytes,
  );
  if (await profileExists(dir, profile.name)) {
    throw new CryptodedError(
      Resp.IMPORT_EXIST_PROFILE,
      `a profile named ${JSON.stringify(profile.name)} already exists`,
    );
  }
  return await writeProfile(dir, profile.name, profile.content);
}

/** The nine commands of the document. */
export function createHandlerTable(): HandlerTable {
  const table = new HandlerTable();
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
  table.register(Cmd.SCRIPT_SECURITY, {
    privileged: true,
    async handle(req, ctx) {
      const enabled = parseEnableDisable(req.param);
      await ctx.connections.setScriptSecurity(enabled);
      ctx.log.info("script security changed", { enabled });
      return { code: Resp.OK };
    },
  });
  table.register(Cmd.RELOAD, {
    privileged: true,
    async handle(_req, ctx) {
      const result = await ctx.connections.reload();
      ctx.log.info("profiles reloaded", result);
      return {
        code: Resp.OK,
        data: result,
        text: `Reloaded: ${result.added.length} added, ${result.removed.length} removed`,
      };
    },
  });
  table.register(Cmd.IMPORT, {
    privileged: true,
    async handle(req, ctx) {
      const param = parseImport(req.param);
      const problem = await confDirProblem(ctx.config.profile_dir);
      if (problem) throw new CryptodedError(Resp.INVALID_CONF_DIR, problem);
      const limit = ctx.config.import_max_bytes;
      let profiles: ImportedProfile[];
      if (param.kind === "inline") profiles = [{ name: param.name, content: param.content }];
      else if (param.kind === "ovpn") profiles = [await readOvpnFile(param.path, limit)];
      else profiles = await readTblk(param.path, limit, ctx.runner);
      for (const p of profiles) {
        if (!isValidProfileName(p.name)) {
          throw new CryptodedError(
            Resp.INVALID_PROFILE_TYPE,
            `${JSON.stringify(p.name)} is not a valid profile name`,
          );
        }
      }
      const written: string[] = [];
      for (const p of profiles) written.push(await importOne(ctx, p));
      ctx.log.info("profiles imported", { files: written });
      await ctx.connections.reload().catch(() => {});
      return {
        code: Resp.OK,
        data: { imported: profiles.map((p) => p.name), files: written },
        text: `Imported ${profiles.map((p) => p.name).join(", ")}`,
      };
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
  table.register(Cmd.DNS_OVERRIDE, {
    privileged: true,
    async handle(req, ctx) {
      const param = parseDns(req.param);
      const saved = ctx.saved.value.dns;
      if (param.action === "status") {
        const current = await ctx.resolver.current();
        const data = {
          enabled: saved !== null,
          servers: saved?.servers ?? [],
          method: saved?.backup.kind ?? null,
          current,
        };
        return {
          code: Resp.OK,
          data,
          text: saved
            ? `DNS override enabled: ${saved.servers.join(",")}`
            : "DNS override disabled",
        };
      }
      if (param.action !== "enable") {
        if (saved) {
          await ctx.resolver.restore(saved.backup);
          await ctx.saved.write({ ...ctx.saved.value, dns: null });
          ctx.log.info("DNS override disabled; original restored", { method: saved.backup.kind });
        }
        return { code: Resp.OK };
      }
      const servers = param.servers;
      const method = ctx.resolver.detect();
      let backup = saved?.backup;
      if (!backup) {
        backup = await ctx.resolver.backup(method);
        // the backup is durable before anything changes
        await ctx.saved.write({ ...ctx.saved.value, dns: { servers: [], backup } });
      }
      try {
        await ctx.resolver.apply(servers, backup);
      } catch (error) {
        if (!saved) await ctx.saved.write({ ...ctx.saved.value, dns: null }).catch(() => {});
        throw error;
      }
      await ctx.saved.write({ ...ctx.saved.value, dns: { servers, backup } });
      ctx.log.info("DNS override enabled", { servers, method: backup.kind });
      return { code: Resp.OK };
    },
  });
  table.register(Cmd.GET_CONFDIR, {
    privileged: false,
    async handle(_req, ctx) {
      const problem = await confDirProblem(ctx.config.profile_dir);
      if (problem) throw new CryptodedError(Resp.INVALID_CONF_DIR, problem);
      return { code: Resp.OK, data: ctx.config.profile_dir, text: ctx.config.profile_dir };
    },
  });
  return table;
}
