/**
 * The handler table: request `type` → handler, on core's `HandlerTable` (registering a type twice
 * throws). Each handler parses its body with zod (a failed parse is an `InvalidError` naming the
 * field, code 8), calls the container manager, and returns the final reply's extra fields.
 */
import type { z } from "zod";
import { HandlerTable, InvalidError, VERSION } from "../../core/mod.ts";
import type { ContainerManager, ProgressFn } from "./containers/mod.ts";
import { UNSUPPORTED } from "./errors.ts";
import {
  addContainerSchema,
  addForwardSchema,
  commandSchema,
  describeIssue,
  idSchema,
  internetSchema,
  INTERVIRT_COMMANDS,
  INTERVIRT_REQUEST_TYPES,
  type IntervirtCommandName,
  type IntervirtRequestType,
  newIpv4Schema,
  newIpv6Schema,
  pairSchema,
  removeForwardSchema,
} from "./schemas.ts";

/** What a handler may ask of the connection. */
export interface IntervirtHandlerContext {
  manager: ContainerManager;
  /** Sends a progress frame. */
  progress: ProgressFn;
  /** Runs once the final reply has been sent (host power commands). */
  after(fn: () => Promise<void>): void;
}

/** The final reply: `General` (optionally with extra fields) or `Version`. */
export type IntervirtFinalReply = { type: "General" } | { type: "Version"; version: string };

/** One request type's handler; `body` is the raw JSON object. */
export type IntervirtHandler = (
  body: Record<string, unknown>,
  ctx: IntervirtHandlerContext,
) => Promise<IntervirtFinalReply>;

/** The table the connection dispatches on. */
export type IntervirtHandlerTable = HandlerTable<string, IntervirtHandler>;

const GENERAL: IntervirtFinalReply = { type: "General" };

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw new InvalidError(describeIssue(r.error, body));
  return r.data;
}

/** A handler that parses with `schema`, runs `fn` and answers a plain `General`. */
function general<S extends z.ZodType>(
  schema: S,
  fn: (request: z.output<S>, ctx: IntervirtHandlerContext) => Promise<unknown>,
): IntervirtHandler {
  return async (body, ctx) => {
    await fn(parse(schema, body), ctx);
    return GENERAL;
  };
}

type CommandHandler = (ctx: IntervirtHandlerContext) => Promise<IntervirtFinalReply>;

const COMMANDS: Record<IntervirtCommandName, CommandHandler> = {
  wipe: async ({ manager, progress }) => {
    await manager.host.wipe(progress);
    return GENERAL;
  },
  update: async ({ manager, progress }) => {
    await manager.host.update(progress);
    return GENERAL;
  },
  shutdown: async (ctx) => {
    ctx.after(await ctx.manager.host.power("shutdown"));
    return GENERAL;
  },
  reboot: async (ctx) => {
    ctx.after(await ctx.manager.host.power("reboot"));
    return GENERAL;
  },
  version: () => Promise.resolve({ type: "Version", version: VERSION }),
};

/** The `Command` request: one of {@linkcode INTERVIRT_COMMANDS}, else code 7. */
const command: IntervirtHandler = (body, ctx) => {
  const { command } = parse(commandSchema, body);
  if (!(INTERVIRT_COMMANDS as readonly string[]).includes(command)) {
    throw new InvalidError(
      `Unsupported command "${command}": expected one of ${INTERVIRT_COMMANDS.join(", ")}`,
      { reason: UNSUPPORTED },
    );
  }
  return COMMANDS[command as IntervirtCommandName](ctx);
};

/** The container requests. */
const CONTAINER_HANDLERS = {
  AddContainer: general(addContainerSchema, (r, { manager }) => manager.containers.add(r)),
  RemoveContainer: general(idSchema, (r, ctx) => ctx.manager.containers.remove(r.id, ctx.progress)),
  StartContainer: general(idSchema, (r, { manager }) => manager.containers.start(r.id)),
  StopContainer: general(idSchema, (r, { manager }) => manager.containers.stop(r.id)),
  IDWithNewIpv4: general(
    newIpv4Schema,
    (r, { manager }) => manager.containers.setAddress(r.id, "ipv4", r.ip, r.field),
  ),
  IDWithNewIpv6: general(
    newIpv6Schema,
    (r, { manager }) => manager.containers.setAddress(r.id, "ipv6", r.ip, r.field),
  ),
};

/** The pair, internet and forward requests. */
const CONNECTION_HANDLERS = {
  Connect: general(pairSchema, (r, { manager }) => manager.connections.connect(r.id1, r.id2)),
  Disconnect: general(pairSchema, (r, { manager }) => manager.connections.disconnect(r.id1, r.id2)),
  SetInternetAccess: general(
    internetSchema,
    (r, { manager }) => manager.connections.setInternet(r.id, r.enabled),
  ),
  AddPortForwarding: general(
    addForwardSchema,
    (r, { manager }) => manager.connections.addForward(r),
  ),
  RemovePortForwarding: general(
    removeForwardSchema,
    (r, { manager }) => manager.connections.removeForward(r),
  ),
};

const HANDLERS: Record<IntervirtRequestType, IntervirtHandler> = {
  ...CONTAINER_HANDLERS,
  ...CONNECTION_HANDLERS,
  Command: command,
};

/** Builds the table of every request type of the document. */
export function buildIntervirtHandlers(): IntervirtHandlerTable {
  const table = new HandlerTable<string, IntervirtHandler>("intervirt request");
  for (const type of INTERVIRT_REQUEST_TYPES) table.register(type, HANDLERS[type]);
  return table;
}
