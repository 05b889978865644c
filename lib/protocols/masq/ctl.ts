/**
 * `polyagent ctl masq setup [name=value …] | start | shutdown | descriptor | status`: the real
 * protocol against the Daemon (following redirects to the Node), printing the answers and any
 * broadcast received meanwhile. Exit status 1 on an error reply, a failed connection or a
 * timeout; 2 on bad usage.
 */
import type { Command } from "commander";
import { type CtlEnvironment, FailedError, InvalidError } from "../../core/mod.ts";
import { MasqClient, type Outcome } from "./client.ts";
import { stringifyExact, type UiMessage } from "./codec.ts";

interface CtlOptions {
  uiPort?: string;
  timeout: string;
}

async function daemonPort(env: CtlEnvironment, opts: CtlOptions): Promise<number> {
  if (opts.uiPort !== undefined) {
    const port = Number(opts.uiPort);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new InvalidError(
        `--ui-port: expected a port from 1 to 65535, got ${JSON.stringify(opts.uiPort)}`,
      );
    }
    return port;
  }
  const config = await env.config();
  const port = Number(config.services.masq?.ui_port ?? 5333);
  return port > 0 ? port : 5333;
}

function timeoutOf(opts: CtlOptions): number {
  const ms = Number(opts.timeout);
  if (!Number.isInteger(ms) || ms < 1) {
    throw new InvalidError(`--timeout: expected milliseconds, got ${JSON.stringify(opts.timeout)}`);
  }
  return ms;
}

async function session<T>(
  env: CtlEnvironment,
  opts: CtlOptions,
  work: (client: MasqClient, timeoutMs: number) => Promise<T>,
): Promise<T> {
  const port = await daemonPort(env, opts);
  const timeoutMs = timeoutOf(opts);
  let client: MasqClient;
  try {
    client = await MasqClient.connect(port, {
      timeoutMs,
      onBroadcast: (m: UiMessage) =>
        env.print(
          `broadcast ${m.opcode} ${
            stringifyExact("payload" in m.body ? m.body.payload : m.body.error)
          }`,
        ),
    });
  } catch (error) {
    throw new FailedError(
      `Cannot reach the MASQ Daemon on 127.0.0.1:${port}: ${(error as Error).message}`,
    );
  }
  try {
    return await work(client, timeoutMs);
  } catch (error) {
    if (error instanceof FailedError) throw error;
    throw new FailedError((error as Error).message);
  } finally {
    client.close();
  }
}

function expectPayload(outcome: Outcome, what: string): Record<string, unknown> {
  if (outcome.kind === "payload") return outcome.payload;
  if (outcome.kind === "error") {
    throw new FailedError(`${what} failed: error ${outcome.code}: ${outcome.message}`);
  }
  throw new FailedError(`${what} failed: the server broke the connection`);
}

function printSetup(env: CtlEnvironment, payload: Record<string, unknown>): boolean {
  const values = Array.isArray(payload.values) ? payload.values as Record<string, unknown>[] : [];
  const width = Math.max(4, ...values.map((v) => String(v.name).length));
  const valueWidth = Math.max(5, ...values.map((v) => String(v.value).length));
  env.print(`${"NAME".padEnd(width)}  ${"VALUE".padEnd(valueWidth)}  STATUS`);
  for (const v of values) {
    env.print(
      `${String(v.name).padEnd(width)}  ${String(v.value).padEnd(valueWidth)}  ${v.status}`,
    );
  }
  const errors = Array.isArray(payload.errors) ? payload.errors as unknown[][] : [];
  for (const [name, reason] of errors) env.print(`ERROR: ${name}: ${reason}`);
  if (payload.running === true) {
    env.print("NOTE: the Node is running, so the setup cannot be changed; shut it down first");
  }
  return errors.length === 0;
}

/** Adds the common options of every `ctl masq` command. */
function common(cmd: Command): Command {
  return cmd.option("--ui-port <port>", "the Daemon's UI port (default: masq.ui_port)")
    .option("--timeout <ms>", "how long to wait for each answer", "5000");
}

/** `name=value` pairs as `setup` values (`name=` clears a value). */
function setupValues(pairs: readonly string[]): { name: string; value: string | null }[] {
  return pairs.map((pair) => {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new InvalidError(`Expected name=value, got ${JSON.stringify(pair)}`);
    const value = pair.slice(eq + 1);
    return { name: pair.slice(0, eq), value: value === "" ? null : value };
  });
}

/** `ctl masq setup` and `ctl masq status`. */
function registerSetup(group: Command, env: CtlEnvironment): void {
  common(
    group.command("setup")
      .description("show the setup, or change it with name=value (name= clears a value)")
      .argument("[values...]", "name=value pairs"),
  ).action(async (pairs: string[], opts: CtlOptions) => {
    const values = setupValues(pairs);
    const ok = await session(env, opts, async (client, ms) => {
      return printSetup(
        env,
        expectPayload(await client.transact("setup", { values }, ms), "setup"),
      );
    });
    if (!ok) throw new FailedError("");
  });

  common(group.command("status").description("whether the Node runs, and the current setup"))
    .action(async (opts: CtlOptions) => {
      await session(env, opts, async (client, ms) => {
        const payload = expectPayload(await client.transact("setup", { values: [] }, ms), "status");
        env.print(payload.running === true ? "Node is running" : "Node is not running");
        printSetup(env, payload);
      });
    });
}

/** `ctl masq start` and `ctl masq shutdown`. */
function registerStartStop(group: Command, env: CtlEnvironment): void {
  common(group.command("start").description("start the Node with the current setup"))
    .action(async (opts: CtlOptions) => {
      await session(env, opts, async (client, ms) => {
        const payload = expectPayload(
          await client.transact("start", {}, Math.max(ms, 15_000)),
          "start",
        );
        env.print(
          `MASQNode successfully started in process ${payload.newProcessId} on port ${payload.redirectUiPort}`,
        );
      });
    });

  common(
    group.command("shutdown").description("shut the Node down (through the Daemon's redirect)"),
  )
    .action(async (opts: CtlOptions) => {
      await session(env, opts, async (client, ms) => {
        const outcome = await client.transact("shutdown", {}, ms);
        if (outcome.kind === "dropped") {
          env.print("MASQNode was instructed to shut down and has broken its connection");
          return;
        }
        expectPayload(outcome, "shutdown");
        env.print("MASQNode was instructed to shut down and has done so");
      });
    });
}

/** Adds `ctl masq …`. */
export function registerMasqCtl(ctl: Command, env: CtlEnvironment): void {
  const group = ctl.command("masq").description("talk MASQNode-UIv2 to the Daemon (and the Node)");
  registerSetup(group, env);
  registerStartStop(group, env);
  common(group.command("descriptor").description("print the Node's descriptor"))
    .action(async (opts: CtlOptions) => {
      await session(env, opts, async (client, ms) => {
        const payload = expectPayload(await client.transact("descriptor", {}, ms), "descriptor");
        env.print(
          typeof payload.nodeDescriptorOpt === "string"
            ? payload.nodeDescriptorOpt
            : "Node descriptor is not yet available; try again later",
        );
      });
    });
}
