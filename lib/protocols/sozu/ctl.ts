/**
 * `polyagent ctl sozu …`: status, workers, state dump/save/load, listener, app, front, backend
 * and certificate management, stop. Every call has a deadline (`--timeout`, default `sozu.ctl_timeout_ms`); exit
 * status 1 on an ERROR reply or no reply, 2 on bad usage; `--json` prints the raw replies.
 */
import type { Command } from "commander";
import { X509Certificate } from "node:crypto";
import { dirname, resolve } from "node:path";
import { type CtlEnvironment, errorText, FailedError, InvalidError } from "../../core/mod.ts";
import { proxyOrder, type RequestBody, SozuClient } from "./client.ts";
import type { SozuConfig } from "./config.ts";
import { registerMetricsCommands } from "./ctl_metrics.ts";
import { applyImport, importToml } from "./import_config.ts";
import { type CommandResponse, isSocketAddress, normalizeHostname } from "./schemas.ts";

interface SozuCtlOptions {
  socket?: string;
  timeout?: string;
  json?: boolean;
}

/** Sends requests to the command socket the `ctl sozu` options name. */
interface SozuCtlCaller {
  /** Sends requests in order; prints replies (`show`); exits 1 on ERROR. */
  call(
    bodies: RequestBody[],
    show?: (reply: CommandResponse) => void,
  ): Promise<CommandResponse[]>;
  /** Whether `--json` was given. */
  json(): boolean;
}

type WorkerRow = { id: number; pid: number; run_state: string };

function address(value: string, what = "address"): string {
  if (!isSocketAddress(value)) {
    throw new InvalidError(`invalid ${what} "${value}": expected "ip:port"`);
  }
  return value;
}

/** Connects as the options (or the config) say. */
async function connect(
  sozu: Command,
  env: CtlEnvironment,
): Promise<{ client: SozuClient; timeoutMs: number; json: boolean }> {
  const opts = sozu.opts<SozuCtlOptions>();
  let socket = opts.socket;
  let timeoutMs: number | undefined;
  if (opts.timeout !== undefined) {
    timeoutMs = Number(opts.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new InvalidError(`invalid --timeout "${opts.timeout}": expected milliseconds`);
    }
  }
  if (socket === undefined || timeoutMs === undefined) {
    const config = (await env.config()).services["sozu"] as SozuConfig;
    socket ??= config.command_socket;
    timeoutMs ??= config.ctl_timeout_ms;
  }
  try {
    return { client: await SozuClient.connect(socket, timeoutMs), timeoutMs, json: !!opts.json };
  } catch (error) {
    throw new FailedError(`cannot reach the sozu command socket ${socket}: ${errorText(error)}`);
  }
}

function createCaller(sozu: Command, env: CtlEnvironment): SozuCtlCaller {
  const call = async (
    bodies: RequestBody[],
    show: (reply: CommandResponse) => void = (r) => env.print(r.message || "OK"),
  ): Promise<CommandResponse[]> => {
    const { client, timeoutMs, json } = await connect(sozu, env);
    const replies: CommandResponse[] = [];
    try {
      for (const body of bodies) {
        let reply: CommandResponse;
        try {
          reply = await client.request(body, {
            timeoutMs,
            onReply: (r) => {
              if (json) env.print(JSON.stringify(r));
            },
          });
        } catch (error) {
          throw new FailedError(errorText(error));
        }
        replies.push(reply);
        if (String(reply.status).toUpperCase() === "ERROR") {
          throw new FailedError(json ? "" : `error: ${reply.message}`);
        }
        if (!json) show(reply);
      }
    } finally {
      client.close();
    }
    return replies;
  };
  return { call, json: () => !!sozu.opts<SozuCtlOptions>().json };
}

/** `status` and `workers`. */
function registerWorkerCommands(sozu: Command, caller: SozuCtlCaller, env: CtlEnvironment): void {
  sozu.command("status").description("workers and whether each answers").action(async () => {
    const [list] = await caller.call([{ type: "LIST_WORKERS" }], () => {});
    const workers = (list?.data?.data ?? []) as WorkerRow[];
    let failed = false;
    for (const w of workers) {
      let answer = "-";
      if (w.run_state === "RUNNING") {
        try {
          await caller.call([proxyOrder("STATUS", undefined, w.id)], () => {});
          answer = "OK";
        } catch (error) {
          if (!(error instanceof FailedError)) throw error;
          answer = `ERROR ${error.message}`;
          failed = true;
        }
      }
      if (!caller.json()) env.print(`worker ${w.id}\tpid ${w.pid}\t${w.run_state}\t${answer}`);
    }
    if (workers.length === 0 && !caller.json()) env.print("no workers");
    if (failed) throw new FailedError("");
  });
  sozu.command("workers").description("list the proxy workers").action(async () => {
    await caller.call([{ type: "LIST_WORKERS" }], (r) => {
      for (const w of (r.data?.data ?? []) as WorkerRow[]) {
        env.print(`${w.id}\t${w.pid}\t${w.run_state}`);
      }
    });
  });
}

/** `state dump|save|load`. */
function registerStateCommands(sozu: Command, caller: SozuCtlCaller, env: CtlEnvironment): void {
  const state = sozu.command("state").description("dump, save or load the configuration state");
  state.command("dump").description("print the whole state as JSON").action(async () => {
    await caller.call(
      [{ type: "DUMP_STATE" }],
      (r) => env.print(JSON.stringify(r.data?.data, null, 2)),
    );
  });
  state.command("save").argument("<path>", "file (relative to <state_dir>/sozu)")
    .description("save the state as sozu's record stream").action(async (path: string) => {
      await caller.call([{ type: "SAVE_STATE", data: { path } }]);
    });
  state.command("load").argument("<path>", "file (relative to <state_dir>/sozu)")
    .description("replay a saved state").action(async (path: string) => {
      await caller.call([{ type: "LOAD_STATE", data: { path } }]);
    });
}

type ListenerKind = { https?: boolean; tcp?: boolean };
const proxyKind = (o: ListenerKind) => o.tcp ? "tcp" : o.https ? "https" : "http";

/** `listener add|remove|activate|deactivate`. */
function registerListenerCommands(sozu: Command, caller: SozuCtlCaller): void {
  const listener = sozu.command("listener").description("add, remove, activate listeners");
  listener.command("add").argument("<address>", "ip:port").option("--https", "an HTTPS listener")
    .option("--tcp", "a TCP listener").option("--expect-proxy", "expect a PROXY protocol header")
    .option("--no-activate", "only add it; do not start listening")
    .description("add a listener (and activate it)")
    .action(
      async (addr: string, o: ListenerKind & { activate: boolean; expectProxy?: boolean }) => {
        const front = address(addr);
        const type = `ADD_${proxyKind(o).toUpperCase()}_LISTENER`;
        const bodies = [proxyOrder(type, { front, expect_proxy: !!o.expectProxy })];
        if (o.activate) {
          bodies.push(
            proxyOrder("ACTIVATE_LISTENER", { front, proxy: proxyKind(o), from_scm: false }),
          );
        }
        await caller.call(bodies);
      },
    );
  for (
    const [name, type, extra] of [
      ["remove", "REMOVE_LISTENER", {}],
      ["activate", "ACTIVATE_LISTENER", { from_scm: false }],
      ["deactivate", "DEACTIVATE_LISTENER", { to_scm: false }],
    ] as const
  ) {
    listener.command(name).argument("<address>", "ip:port").option("--https", "an HTTPS listener")
      .option("--tcp", "a TCP listener").description(`${name} a listener`)
      .action(async (addr: string, o: ListenerKind) => {
        await caller.call([
          proxyOrder(type, { front: address(addr), proxy: proxyKind(o), ...extra }),
        ]);
      });
  }
}

type AppAddOptions = {
  sticky?: boolean;
  httpsRedirect?: boolean;
  loadBalancing?: string;
  proxyProtocol?: string;
};

/** `app add|remove`. */
function registerAppCommands(sozu: Command, caller: SozuCtlCaller): void {
  const app = sozu.command("app").description("add or remove applications");
  app.command("add").argument("<app_id>")
    .option("--sticky", "sticky sessions")
    .option("--https-redirect", "redirect HTTP to HTTPS")
    .option("--load-balancing <policy>", "round_robin, random, least_loaded or power_of_two")
    .option("--proxy-protocol <mode>", "SEND_HEADER, RELAY_HEADER or EXPECT_HEADER")
    .description("add (or update) an application")
    .action(async (id: string, o: AppAddOptions) => {
      const policies = ["round_robin", "random", "least_loaded", "power_of_two"];
      if (o.loadBalancing !== undefined && !policies.includes(o.loadBalancing)) {
        throw new InvalidError(
          `invalid --load-balancing "${o.loadBalancing}": expected ${policies.join(", ")}`,
        );
      }
      await caller.call([proxyOrder("ADD_APPLICATION", {
        app_id: id,
        sticky_session: !!o.sticky,
        https_redirect: !!o.httpsRedirect,
        load_balancing: o.loadBalancing ?? "round_robin",
        proxy_protocol: o.proxyProtocol ?? null,
      })]);
    });
  app.command("remove").argument("<app_id>").description("remove an application")
    .action(async (id: string) => {
      await caller.call([proxyOrder("REMOVE_APPLICATION", id)]);
    });
}

type FrontOptions = { path: string; listener?: string; https?: boolean };

/** `front add|remove` and `backend add|remove`. */
function registerRouteCommands(sozu: Command, caller: SozuCtlCaller): void {
  const front = sozu.command("front").description("add or remove fronts (routing rules)");
  for (const name of ["add", "remove"] as const) {
    front.command(name).argument("<app_id>").argument("<hostname>", "exact or *.example.com")
      .option("--path <prefix>", "path prefix", "")
      .option("--listener <address>", "listener ip:port (default: the default listener)")
      .option("--https", "an HTTPS front")
      .description(`${name} a front`)
      .action(async (id: string, host: string, o: FrontOptions) => {
        if (normalizeHostname(host) === null) throw new InvalidError(`invalid hostname "${host}"`);
        const data: Record<string, unknown> = { app_id: id, hostname: host, path_begin: o.path };
        if (o.listener !== undefined) data.address = address(o.listener, "listener");
        const type = `${name.toUpperCase()}_${o.https ? "HTTPS" : "HTTP"}_FRONT`;
        await caller.call([proxyOrder(type, data)]);
      });
  }
  const tcp = sozu.command("tcp-front").description("add or remove the front of a TCP listener");
  for (const name of ["add", "remove"] as const) {
    tcp.command(name).argument("<app_id>").argument("<listener>", "TCP listener ip:port")
      .description(`${name} a TCP front`).action(async (id: string, listener: string) => {
        const data = { app_id: id, address: address(listener, "listener") };
        await caller.call([proxyOrder(`${name.toUpperCase()}_TCP_FRONT`, data)]);
      });
  }
  const backend = sozu.command("backend").description("add or remove backends");
  for (const name of ["add", "remove"] as const) {
    backend.command(name).argument("<app_id>").argument("<address>", "ip:port")
      .option("--id <backend_id>", "backend id (default <app_id>-<address>)")
      .description(`${name} a backend`)
      .action(async (id: string, addr: string, o: { id?: string }) => {
        const data = { app_id: id, address: address(addr), backend_id: o.id ?? `${id}-${addr}` };
        await caller.call([proxyOrder(name === "add" ? "ADD_BACKEND" : "REMOVE_BACKEND", data)]);
      });
  }
}

type CertificateOptions = {
  listener?: string;
  cert: string;
  key: string;
  chain?: string;
  name?: string[];
};

/** A file the user named, or an error naming it. */
function readText(file: string, what: string): string {
  try {
    return Deno.readTextFileSync(file);
  } catch (error) {
    throw new InvalidError(`cannot read the ${what} "${file}": ${errorText(error)}`);
  }
}

/** The PEM certificate, chain and key files of `certificate add|replace`. */
function certificateFiles(o: CertificateOptions) {
  const certificate = readText(o.cert, "certificate");
  const chainText = o.chain === undefined ? "" : readText(o.chain, "chain");
  const chain = chainText.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  let fingerprint: string;
  try {
    fingerprint = new X509Certificate(certificate).fingerprint256.replaceAll(":", "").toLowerCase();
  } catch {
    throw new InvalidError(`"${o.cert}" is not a PEM certificate`);
  }
  return {
    fingerprint,
    certificate: { certificate, certificate_chain: chain ?? [], key: readText(o.key, "key") },
  };
}

function certificateCommand(cmd: Command, name: string, what: string): Command {
  return cmd.command(name).description(what)
    .option("--listener <address>", "HTTPS listener ip:port (default: the default one)")
    .requiredOption("--cert <file>", "PEM certificate")
    .requiredOption("--key <file>", "PEM private key (RSA PKCS#1, PKCS#8 or EC)")
    .option("--chain <file>", "PEM intermediate certificates")
    .option(
      "--name <hostname>",
      "name to serve it for (repeat; default: its CN and SAN DNS names)",
      (v: string, prev: string[] = []) => [...prev, v],
    );
}

/** `certificate add|replace|remove|list`. */
function registerCertificateCommands(
  sozu: Command,
  caller: SozuCtlCaller,
  env: CtlEnvironment,
): void {
  const cert = sozu.command("certificate").description("TLS certificates of HTTPS listeners");
  const listenerOf = (o: { listener?: string }) =>
    o.listener === undefined ? {} : { front: address(o.listener, "listener") };
  certificateCommand(cert, "add", "add a certificate to an HTTPS listener")
    .action(async (o: CertificateOptions) => {
      const c = certificateFiles(o);
      await caller.call([proxyOrder("ADD_CERTIFICATE", {
        ...listenerOf(o),
        certificate: c.certificate,
        ...(o.name ? { names: o.name } : {}),
      })], (r) => env.print(r.message || `added ${c.fingerprint}`));
    });
  certificateCommand(cert, "replace", "replace a certificate (atomic for new handshakes)")
    .argument("<old_fingerprint>", "SHA-256 fingerprint of the certificate replaced")
    .action(async (old: string, o: CertificateOptions) => {
      const c = certificateFiles(o);
      await caller.call([proxyOrder("REPLACE_CERTIFICATE", {
        ...listenerOf(o),
        new_certificate: c.certificate,
        old_fingerprint: old,
        ...(o.name ? { new_names: o.name } : {}),
      })], (r) => env.print(r.message || `replaced ${old} with ${c.fingerprint}`));
    });
  cert.command("remove").argument("<fingerprint>")
    .option("--listener <address>", "only from this HTTPS listener (default: every one)")
    .description("remove a certificate")
    .action(async (fingerprint: string, o: { listener?: string }) => {
      await caller.call([proxyOrder("REMOVE_CERTIFICATE", { ...listenerOf(o), fingerprint })]);
    });
  cert.command("list").option("--domain <hostname>", "the certificate serving this name")
    .description("certificates per HTTPS listener: name and fingerprint")
    .action(async (o: { domain?: string }) => {
      const data = o.domain === undefined ? { type: "ALL" } : { type: "DOMAIN", data: o.domain };
      await caller.call([proxyOrder("QUERY", { type: "CERTIFICATES", data })], (r) => {
        const workers = Object.values((r.data?.data ?? {}) as Record<string, { data: unknown }>);
        for (const line of certificateLines(workers[0]?.data)) env.print(line);
      });
    });
}

/** Lines "listener name fingerprint" of a QUERY CERTIFICATES answer (ALL or DOMAIN). */
function certificateLines(answer: unknown): string[] {
  const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, "0")).join("");
  const out: string[] = [];
  const a = (answer ?? {}) as {
    All?: Record<string, Record<string, number[]>>;
    Domain?: Record<string, [string, number[]] | null>;
  };
  for (const [listener, names] of Object.entries(a.All ?? {})) {
    for (const [name, fp] of Object.entries(names)) out.push(`${listener}\t${name}\t${hex(fp)}`);
  }
  for (const [listener, found] of Object.entries(a.Domain ?? {})) {
    out.push(found ? `${listener}\t${found[0]}\t${hex(found[1])}` : `${listener}\tnot found`);
  }
  return out;
}

/**
 * `import FILE.toml`: a sozu 0.13 configuration file applied as orders (`import_config.ts`);
 * certificate paths are relative to the file. Every order is tried; exit 1 if any failed.
 */
function registerImportCommand(sozu: Command, caller: SozuCtlCaller, env: CtlEnvironment): void {
  sozu.command("import").argument("<file>", "sozu configuration file (TOML)")
    .option("--dry-run", "print the orders without sending them")
    .description("apply a sozu configuration file (listeners, applications, fronts, backends)")
    .action(async (file: string, o: { dryRun?: boolean }) => {
      const read = (path: string) => readText(resolve(dirname(file), path), "file");
      const plan = importToml(read(resolve(file)), file, read);
      const failed = await applyImport(plan, {
        dryRun: !!o.dryRun,
        print: env.print,
        send: (order) =>
          caller.call([proxyOrder(order.type, order.data)], () => {}).then(([r]) => r!.message),
        failure: (error) => error instanceof FailedError ? error.message : null,
      });
      if (failed > 0) throw new FailedError("");
    });
}

/** Registers `ctl sozu`. */
export function registerSozuCtl(ctl: Command, env: CtlEnvironment): void {
  const sozu = ctl.command("sozu")
    .description("talk to the sozu command socket")
    .option("--socket <path>", "command socket (default: sozu.command_socket from the config)")
    .option("--timeout <ms>", "give up after this long (default: sozu.ctl_timeout_ms)")
    .option("--json", "print the raw JSON replies");
  const caller = createCaller(sozu, env);
  registerWorkerCommands(sozu, caller, env);
  registerStateCommands(sozu, caller, env);
  registerListenerCommands(sozu, caller);
  registerAppCommands(sozu, caller);
  registerRouteCommands(sozu, caller);
  registerCertificateCommands(sozu, caller, env);
  registerImportCommand(sozu, caller, env);
  registerMetricsCommands(sozu, caller, env);
  sozu.command("stop").option("--hard", "drop in-flight requests instead of draining them")
    .description("stop the proxy (the sozu service ends; the agent keeps running)")
    .action(async (o: { hard?: boolean }) => {
      await caller.call([proxyOrder(o.hard ? "HARD_STOP" : "SOFT_STOP")]);
    });
}
