/** `polyagent ctl intervirt …`: the Intervirt operations against a running agent. */
import type { Command } from "commander";
import { type CtlEnvironment, FailedError, InvalidError, splitHostPort } from "../../core/mod.ts";
import { IntervirtClient, type IntervirtFrame } from "./client.ts";
import type { IntervirtConfig } from "./config.ts";

function bar(frame: IntervirtFrame): string {
  const fraction = Math.max(0, Math.min(1, frame.progress ?? 0));
  const filled = Math.round(fraction * 20);
  return `[${"#".repeat(filled)}${" ".repeat(20 - filled)}] ${
    Math.round(fraction * 100).toString().padStart(3)
  }% ${frame.output ?? ""}`;
}

function port(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new InvalidError(`Invalid ${what} "${text}": expected a port from 1 to 65535`);
  }
  return n;
}

/** The agent's WebSocket URL from the config (a wildcard listen address means loopback). */
async function configuredUrl(env: CtlEnvironment): Promise<string> {
  const config = (await env.config()).services.intervirt as unknown as IntervirtConfig;
  const { hostname, port } = splitHostPort(config.listen);
  const host = hostname === "0.0.0.0" || hostname === ""
    ? "127.0.0.1"
    : hostname === "::"
    ? "[::1]"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  return `ws://${host}:${port}${config.path}${
    config.token ? `?token=${encodeURIComponent(config.token)}` : ""
  }`;
}

/** Sends one request and returns its final frame; progress frames draw a bar on stderr. */
type SendRequest = (body: Record<string, unknown>) => Promise<IntervirtFrame>;
/** Sends one request and prints "ok". */
type SendOk = (body: Record<string, unknown>) => Promise<void>;

/** Calls `body` on a fresh connection; a non-zero code fails with "error <code>: …". */
async function call(
  url: string,
  timeoutMs: number,
  body: Record<string, unknown>,
): Promise<IntervirtFrame> {
  const client = await IntervirtClient.connect(url, Math.min(timeoutMs, 10_000)).catch(
    (error) => {
      throw new FailedError((error as Error).message);
    },
  );
  const tty = Deno.stderr.isTerminal();
  try {
    const final = await client.call(body, {
      timeoutMs,
      onProgress: (frame) => {
        const line = bar(frame);
        Deno.stderr.writeSync(new TextEncoder().encode(tty ? `\r\x1b[K${line}` : `${line}\n`));
      },
    });
    if (tty) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
    if (final.code !== undefined && final.code !== 0) {
      throw new FailedError(`error ${final.code}: ${final.error ?? "(no message)"}`);
    }
    return final;
  } catch (error) {
    if (error instanceof FailedError) throw error;
    throw new FailedError((error as Error).message);
  } finally {
    await client.close();
  }
}

/** The sender of the group's requests, with its `--url` and `--timeout`. */
function sender(group: Command, env: CtlEnvironment): SendRequest {
  return async (body) => {
    const opts = group.opts<{ url?: string; timeout: string }>();
    const timeoutMs = Number(opts.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new InvalidError(`Invalid --timeout "${opts.timeout}"`);
    }
    return await call(opts.url || await configuredUrl(env), timeoutMs, body);
  };
}

/** add, remove, start, stop, ip. */
function registerContainerCommands(group: Command, ok: SendOk): void {
  group.command("add <id>").description("add a container")
    .requiredOption("--ipv4 <address>", "IPv4 address")
    .requiredOption("--ipv6 <address>", "IPv6 address")
    .requiredOption("--mac <mac>", "MAC address")
    .option("--image <name>", "image name", "debian/13")
    .option("--internet", "give it internet access", false)
    .action((
      id: string,
      o: { ipv4: string; ipv6: string; mac: string; image: string; internet: boolean },
    ) => ok({ type: "AddContainer", id, ...o }));
  group.command("remove <id>").description("remove a container")
    .action((id: string) => ok({ type: "RemoveContainer", id }));
  group.command("start <id>").description("start a container")
    .action((id: string) => ok({ type: "StartContainer", id }));
  group.command("stop <id>").description("stop a container")
    .action((id: string) => ok({ type: "StopContainer", id }));
  group.command("ip <id> <address>").description("change a container's IPv4 or IPv6 address")
    .action((id: string, address: string) =>
      ok(
        address.includes(":")
          ? { type: "IDWithNewIpv6", id, newIpv6: address }
          : { type: "IDWithNewIpv4", id, newIpv4: address },
      )
    );
}

/** connect, disconnect, internet, forward add|remove. */
function registerConnectionCommands(group: Command, ok: SendOk): void {
  group.command("connect <id1> <id2>").description("let two containers reach each other")
    .action((id1: string, id2: string) => ok({ type: "Connect", id1, id2 }));
  group.command("disconnect <id1> <id2>").description("cut a connected pair")
    .action((id1: string, id2: string) => ok({ type: "Disconnect", id1, id2 }));
  group.command("internet <id> <on|off>").description("toggle a container's internet access")
    .action((id: string, state: string) => {
      if (state !== "on" && state !== "off") {
        throw new InvalidError(`Expected on or off, got "${state}"`);
      }
      return ok({ type: "SetInternetAccess", id, enabled: state === "on" });
    });
  const forward = group.command("forward").description("port forwards");
  forward.command("add <id> <internalPort> <externalPort>").description("forward a host port")
    .option("--protocol <tcp|udp>", "protocol", "tcp")
    .action((id: string, internal: string, external: string, o: { protocol: string }) =>
      ok({
        type: "AddPortForwarding",
        id,
        internalPort: port(internal, "internal port"),
        externalPort: port(external, "external port"),
        protocol: o.protocol,
      })
    );
  forward.command("remove <externalPort>").description("remove a port forward")
    .option("--protocol <tcp|udp>", "protocol", "tcp")
    .action((external: string, o: { protocol: string }) =>
      ok({
        type: "RemovePortForwarding",
        externalPort: port(external, "external port"),
        protocol: o.protocol,
      })
    );
}

/** wipe, update, version. */
function registerHostCommands(
  group: Command,
  env: CtlEnvironment,
  send: SendRequest,
  ok: SendOk,
): void {
  group.command("wipe").description("remove every container and rule the agent made")
    .action(() => ok({ type: "Command", command: "wipe" }));
  group.command("update").description("upgrade the host and containers (needs allow_host_commands)")
    .action(() => ok({ type: "Command", command: "update" }));
  group.command("version").description("print the agent's Intervirt version")
    .action(async () => {
      const frame = await send({ type: "Command", command: "version" });
      env.print(frame.version ?? "");
    });
}

/** Adds `ctl intervirt …`. */
export function registerIntervirtCtl(ctl: Command, env: CtlEnvironment): void {
  const group = ctl.command("intervirt").description(
    "manage the Intervirt agent's containers over its WebSocket",
  ).option("--url <url>", "WebSocket URL (default: from the config)")
    .option("--timeout <ms>", "give up after this long", "120000");
  const send = sender(group, env);
  const ok: SendOk = async (body) => {
    await send(body);
    env.print("ok");
  };
  registerContainerCommands(group, ok);
  registerConnectionCommands(group, ok);
  registerHostCommands(group, env, send, ok);
}
