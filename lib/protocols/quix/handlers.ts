/**
 * The handler table: one entry per server request (`execute`, `view_running`, `proc_signal`,
 * `telemetry`). Each handler parses its `msg` with zod and calls the backends through
 * {@linkcode QuixBackends}. Registering a request twice throws.
 */
import type { z } from "zod";
import { badRequest } from "./errors.ts";
import {
  executeSchema,
  procSignalSchema,
  type RunningEntry,
  type STAT_TYPES,
  telemetrySchema,
  viewRunningSchema,
} from "./schemas.ts";

/** What the handlers need from the rest of the agent. */
export interface QuixBackends {
  execute(argv: string[], requestKey: string): Promise<{ pid: number }>;
  viewRunning(): Promise<RunningEntry[]>;
  signal(pid: number, mode: "SIGTERM" | "SIGKILL" | "SIGHUP"): Promise<void>;
  telemetry(types: readonly (typeof STAT_TYPES)[number][]): Promise<Record<string, unknown>>;
}

/** What a handler gets. */
export interface HandlerInput {
  msg: unknown;
  /** A key naming this request (rid + body) for duplicate suppression. */
  requestKey: string;
}

/** A handler: its reply `msg`, or a thrown error (mapped by errors.ts). */
export type Handler = (input: HandlerInput) => Promise<unknown>;

/** An entry of the table. */
export interface HandlerEntry {
  handler: Handler;
  /** Changes state: a resent copy is answered from the first run instead of running twice. */
  mutating: boolean;
}

/** Request name → handler. */
export class HandlerTable {
  #entries = new Map<string, HandlerEntry>();

  /** Adds a handler; a second registration of the same request is a programming error. */
  register(req: string, handler: Handler, options: { mutating?: boolean } = {}): this {
    if (this.#entries.has(req)) throw new Error(`Handler for "${req}" registered twice`);
    this.#entries.set(req, { handler, mutating: options.mutating ?? false });
    return this;
  }

  /** The entry for `req`, if any. */
  get(req: string): HandlerEntry | undefined {
    return this.#entries.get(req);
  }

  /** Registered request names. */
  names(): string[] {
    return [...this.#entries.keys()];
  }
}

function parse<T extends z.ZodType>(schema: T, msg: unknown): z.infer<T> {
  const result = schema.safeParse(msg ?? {});
  if (!result.success) throw badRequest(result.error);
  return result.data;
}

/** The table of server requests. */
export function buildHandlers(backends: QuixBackends): HandlerTable {
  return new HandlerTable()
    .register("execute", async ({ msg, requestKey }) => {
      const { cmd } = parse(executeSchema, msg);
      const { pid } = await backends.execute(cmd, requestKey);
      return { result: "success", proc_id: pid };
    }, { mutating: true })
    .register("view_running", ({ msg }) => {
      parse(viewRunningSchema, msg);
      return backends.viewRunning();
    })
    .register("proc_signal", async ({ msg }) => {
      const { pid, mode } = parse(procSignalSchema, msg);
      await backends.signal(pid, mode);
      return { result: "success" };
    }, { mutating: true })
    .register("telemetry", async ({ msg }) => {
      const { stat_types } = parse(telemetrySchema, msg);
      return { tele_data: await backends.telemetry([...new Set(stat_types)]) };
    });
}
