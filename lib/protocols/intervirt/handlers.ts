/**
 * The handler table: request `type` → handler. Each handler parses its body with zod (a failed
 * parse is code 8 naming the field), calls the manager, and returns the final reply's extra
 * fields. Registering a type twice throws.
 */
import type { z } from "zod";
import { ErrorCode, IntervirtError } from "./errors.ts";
import type { ContainerManager, ProgressFn } from "./manager.ts";
import {
  addContainerSchema,
  addForwardSchema,
  commandSchema,
  describeIssue,
  idSchema,
  internetSchema,
  newIpv4Schema,
  newIpv6Schema,
  pairSchema,
  removeForwardSchema,
} from "./schemas.ts";
import { VERSION } from "../../core/mod.ts";

/** What a handler may ask of the transport. */
export interface HandlerContext {
  manager: ContainerManager;
  /** Sends a progress frame. */
  progress: ProgressFn;
  /** Runs once the final reply has been sent (host power commands). */
  after(fn: () => Promise<void>): void;
}

/** The final reply: `General` (optionally with extra fields) or `Version`. */
export type FinalReply = { type: "General" } | { type: "Version"; version: string };

/** One request type's handler; `body` is the raw JSON object. */
export type Handler = (body: Record<string, unknown>, ctx: HandlerContext) => Promise<FinalReply>;

const GENERAL: FinalReply = { type: "General" };

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw new IntervirtError(ErrorCode.badInput, describeIssue(r.error));
  return r.data;
}

/** A table from request type to handler that refuses duplicates. */
export class HandlerTable {
  #handlers = new Map<string, Handler>();

  /** Adds a handler; throws when the type already has one. */
  register(type: string, handler: Handler): this {
    if (this.#handlers.has(type)) throw new Error(`Duplicate handler for request type "${type}"`);
    this.#handlers.set(type, handler);
    return this;
  }

  /** The handler of a type, or undefined. */
  get(type: string): Handler | undefined {
    return this.#handlers.get(type);
  }

  /** Every registered type. */
  types(): string[] {
    return [...this.#handlers.keys()];
  }
}

type CommandHandler = (ctx: HandlerContext) => Promise<FinalReply>;

const COMMANDS: Record<string, CommandHandler> = {
  wipe: async (ctx) => {
    await ctx.manager.wipe(ctx.progress);
    return GENERAL;
  },
  update: async (ctx) => {
    await ctx.manager.update(ctx.progress);
    return GENERAL;
  },
  shutdown: async (ctx) => {
    ctx.after(await ctx.manager.power("shutdown"));
    return GENERAL;
  },
  reboot: async (ctx) => {
    ctx.after(await ctx.manager.power("reboot"));
    return GENERAL;
  },
  version: () => Promise.resolve({ type: "Version", version: VERSION }),
};

/** Builds the table of every request type of the document. */
export function buildHandlerTable(): HandlerTable {
  return new HandlerTable()
    .register("AddContainer", async (body, { manager }) => {
      await manager.addContainer(parse(addContainerSchema, body));
      return GENERAL;
    })
    .register("RemoveContainer", async (body, { manager, progress }) => {
      await manager.removeContainer(parse(idSchema, body).id, progress);
      return GENERAL;
    })
    .register("StartContainer", async (body, { manager }) => {
      await manager.startContainer(parse(idSchema, body).id);
      return GENERAL;
    })
    .register("StopContainer", async (body, { manager }) => {
      await manager.stopContainer(parse(idSchema, body).id);
      return GENERAL;
    })
    .register("IDWithNewIpv4", async (body, { manager }) => {
      const r = parse(newIpv4Schema, body);
      await manager.setAddress(r.id, "ipv4", r.ip);
      return GENERAL;
    })
    .register("IDWithNewIpv6", async (body, { manager }) => {
      const r = parse(newIpv6Schema, body);
      await manager.setAddress(r.id, "ipv6", r.ip);
      return GENERAL;
    })
    .register("Connect", async (body, { manager }) => {
      const r = parse(pairSchema, body);
      await manager.connect(r.id1, r.id2);
      return GENERAL;
    })
    .register("Disconnect", async (body, { manager }) => {
      const r = parse(pairSchema, body);
      await manager.disconnect(r.id1, r.id2);
      return GENERAL;
    })
    .register("SetInternetAccess", async (body, { manager }) => {
      const r = parse(internetSchema, body);
      await manager.setInternet(r.id, r.enabled);
      return GENERAL;
    })
    .register("AddPortForwarding", async (body, { manager }) => {
      await manager.addForward(parse(addForwardSchema, body));
      return GENERAL;
    })
    .register("RemovePortForwarding", async (body, { manager }) => {
      await manager.removeForward(parse(removeForwardSchema, body));
      return GENERAL;
    })
    .register("Command", (body, ctx) => {
      const { command } = parse(commandSchema, body);
      const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
      if (!handler) {
        throw new IntervirtError(
          ErrorCode.unsupported,
          `Unsupported command "${command}": expected one of ${Object.keys(COMMANDS).join(", ")}`,
        );
      }
      return handler(ctx);
    });
}
