/**
 * The handler table: one entry per server request (`execute`, `view_running`, `proc_signal`,
 * `telemetry`), on core's {@linkcode HandlerTable}. Each handler parses its `msg` with zod and
 * calls the agent through {@linkcode QuixOperations}; a `mutating` entry changes state, so a
 * resent copy is answered from the first run (see dedupe.ts).
 */
import type { z } from "zod";
import { HandlerTable } from "../../core/mod.ts";
import { badRequest } from "./errors.ts";
import {
  executeSchema,
  procSignalSchema,
  type RunningEntry,
  type STAT_TYPES,
  telemetrySchema,
  viewRunningSchema,
} from "./schemas.ts";

/** What the handlers ask of the agent (implemented over the backends by operations.ts). */
export interface QuixOperations {
  execute(argv: string[], requestKey: string): Promise<{ pid: number }>;
  viewRunning(): Promise<RunningEntry[]>;
  signal(pid: number, mode: "SIGTERM" | "SIGKILL" | "SIGHUP"): Promise<void>;
  telemetry(types: readonly (typeof STAT_TYPES)[number][]): Promise<Record<string, unknown>>;
}

/** What a handler gets. */
export interface QuixHandlerInput {
  msg: unknown;
  /** A key naming this request (rid + body) for duplicate suppression. */
  requestKey: string;
}

/** A handler: its reply `msg`, or a thrown error (mapped by errors.ts). */
export type QuixHandler = (input: QuixHandlerInput) => Promise<unknown>;

/** An entry of the table. */
export interface QuixHandlerEntry {
  handler: QuixHandler;
  /** Changes state: a resent copy is answered from the first run instead of running twice. */
  mutating: boolean;
}

/** Request name → handler entry. */
export type QuixHandlerTable = HandlerTable<string, QuixHandlerEntry>;

function parse<T extends z.ZodType>(schema: T, msg: unknown): z.infer<T> {
  const result = schema.safeParse(msg ?? {});
  if (!result.success) throw badRequest(result.error);
  return result.data;
}

/** The table of server requests. */
export function buildQuixHandlers(ops: QuixOperations): QuixHandlerTable {
  return new HandlerTable<string, QuixHandlerEntry>("quix request")
    .register("execute", {
      mutating: true,
      handler: async ({ msg, requestKey }) => {
        const { cmd } = parse(executeSchema, msg);
        const { pid } = await ops.execute(cmd, requestKey);
        return { result: "success", proc_id: pid };
      },
    })
    .register("view_running", {
      mutating: false,
      handler: ({ msg }) => {
        parse(viewRunningSchema, msg);
        return ops.viewRunning();
      },
    })
    .register("proc_signal", {
      mutating: true,
      handler: async ({ msg }) => {
        const { pid, mode } = parse(procSignalSchema, msg);
        await ops.signal(pid, mode);
        return { result: "success" };
      },
    })
    .register("telemetry", {
      mutating: false,
      handler: async ({ msg }) => {
        const { stat_types } = parse(telemetrySchema, msg);
        return { tele_data: await ops.telemetry([...new Set(stat_types)]) };
      },
    });
}
