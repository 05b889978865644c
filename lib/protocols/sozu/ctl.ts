/**
 * `polyagent ctl sozu …`: status, workers, state dump/save/load, listener, app, front and backend
 * management, stop. Every call has a deadline (`--timeout`, default `sozu.ctl_timeout_ms`); exit
 * status 1 on an ERROR reply or no reply, 2 on bad usage; `--json` prints the raw replies.
 */
import type { Command } from "commander";
import { type CtlEnvironment, errorText, FailedError, InvalidError } from "../../core/mod.ts";
import { proxyOrder, type RequestBody, SozuClient } from "./client.ts";
import type { SozuConfig } from "./config.ts";
import type { CommandResponse } from "./reply.ts";
import { isSocketAddress, normalizeHostname } from "./wire.ts";

interface SozuCtlOptions {
  socket?: string;
  timeout?: string;
  json?: boolean;
}

function address(value: string, what = "address"): string {
  if (!isSocketAddress(value)) {
    throw new InvalidError(`invalid ${what} "${value}": expected "ip:port"`);
  }
  return value;
}

/** Registers `ctl sozu`. */
export function registerSozuCtl(ctl: Command, env: CtlEnvironment): void {
  const sozu = ctl.command("sozu")
    .description("talk to the sozu command socket")
    .option("--socket <path>", "command socket (default: sozu.command_socket from the config)")
    .option("--timeout <ms>", "give up after this long (default: sozu.ctl_timeout_ms)")
    .option("--json", "print the raw JSON replies");

  async function connect(): Promise<{ client: SozuClient; timeoutMs: number; json: boolean }> {
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

  /** Sends requests in order; prints replies; exits 1 on ERROR. */
  async function call(
    bodies: RequestBody[],
    show: (reply: CommandResponse) => void = (r) => env.print(r.message || "OK"),
  ): Promise<CommandResponse[]> {
    const { client, timeoutMs, json } = await connect();
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
  }

  sozu.command("status").description("workers and whether each answers").action(async () => {
    const opts = sozu.opts<SozuCtlOptions>();
    const [list] = await call([{ type: "LIST_WORKERS" }], () => {});
    const workers = (list?.data?.data ?? []) as { id: number; pid: number; run_state: string }[];
    let failed = false;
    for (const w of workers) {
      let answer = "-";
      if (w.run_state === "RUNNING") {
        try {
          await call([proxyOrder("STATUS", undefined, w.id)], () => {});
          answer = "OK";
        } catch (error) {
          if (!(error instanceof FailedError)) throw error;
          answer = `ERROR ${error.message}`;
          failed = true;
        }
      }
      if (!opts.json) env.print(`worker ${w.id}\tpid ${w.pid}\t${w.run_state}\t${answer}`);
    }
    if (workers.length === 0 && !opts.json) env.print("no workers");
    if (failed) throw new FailedError("");
  });

  sozu.command("workers").description("list the proxy workers").action(async () => {
    await call([{ type: "LIST_WORKERS" }], (r) => {
      for (const w of (r.data?.data ?? []) as { id: number; pid: number; run_state: string }[]) {
        env.print(`${w.id}\t${w.pid}\t${w.run_state}`);
      }
    });
  });

  const state = sozu.command("state").description("dump, save or load the configuration state");
  state.command("dump").description("print the whole state as JSON").action(async () => {
    await call([{ type: "DUMP_STATE" }], (r) => env.print(JSON.stringify(r.data?.data, null, 2)));
  });
  state.command("save").argument("<path>", "file (relative to <state_dir>/sozu)")
    .description("save the state as sozu's record stream").action(async (path: string) => {
      await call([{ type: "SAVE_STATE", data: { path } }]);
    });
  state.command("load").argument("<path>", "file (relative to <state_dir>/sozu)")
    .description("replay a saved state").action(async (path: string) => {
      await call([{ type: "LOAD_STATE", data: { path } }]);
    });

  const proxyKind = (https?: boolean) => https ? "https" : "http";
  const listener = sozu.command("listener").description("add, remove, activate listeners");
  listener.command("add").argument("<address>", "ip:port").option("--https", "an HTTPS listener")
    .option("--no-activate", "only add it; do not start listening")
    .description("add a listener (and activate it)")
    .action(async (addr: string, o: { https?: boolean; activate: boolean }) => {
      const front = address(addr);
      const bodies = [proxyOrder(o.https ? "ADD_HTTPS_LISTENER" : "ADD_HTTP_LISTENER", { front })];
      if (o.activate) {
        bodies.push(
          proxyOrder("ACTIVATE_LISTENER", { front, proxy: proxyKind(o.https), from_scm: false }),
        );
      }
      await call(bodies);
    });
  for (
    const [name, type, extra] of [
      ["remove", "REMOVE_LISTENER", {}],
      ["activate", "ACTIVATE_LISTENER", { from_scm: false }],
      ["deactivate", "DEACTIVATE_LISTENER", { to_scm: false }],
    ] as const
  ) {
    listener.command(name).argument("<address>", "ip:port").option("--https", "an HTTPS listener")
      .description(`${name} a listener`)
      .action(async (addr: string, o: { https?: boolean }) => {
        await call([
          proxyOrder(type, { front: address(addr), proxy: proxyKind(o.https), ...extra }),
        ]);
      });
  }

  const app = sozu.command("app").description("add or remove applications");
  app.command("add").argument("<app_id>")
    .option("--sticky", "sticky sessions")
    .option("--https-redirect", "redirect HTTP to HTTPS")
    .option("--load-balancing <policy>", "round_robin, random, least_loaded or power_of_two")
    .description("add (or update) an application")
    .action(
      async (
        id: string,
        o: { sticky?: boolean; httpsRedirect?: boolean; loadBalancing?: string },
      ) => {
        const policies = ["round_robin", "random", "least_loaded", "power_of_two"];
        if (o.loadBalancing !== undefined && !policies.includes(o.loadBalancing)) {
          throw new InvalidError(
            `invalid --load-balancing "${o.loadBalancing}": expected ${policies.join(", ")}`,
          );
        }
        await call([proxyOrder("ADD_APPLICATION", {
          app_id: id,
          sticky_session: !!o.sticky,
          https_redirect: !!o.httpsRedirect,
          load_balancing: o.loadBalancing ?? "round_robin",
        })]);
      },
    );
  app.command("remove").argument("<app_id>").description("remove an application")
    .action(async (id: string) => {
      await call([proxyOrder("REMOVE_APPLICATION", id)]);
    });

  const front = sozu.command("front").description("add or remove fronts (routing rules)");
  for (const name of ["add", "remove"] as const) {
    front.command(name).argument("<app_id>").argument("<hostname>", "exact or *.example.com")
      .option("--path <prefix>", "path prefix", "")
      .option("--listener <address>", "listener ip:port (default: the default listener)")
      .option("--https", "an HTTPS front")
      .description(`${name} a front`)
      .action(
        async (
          id: string,
          host: string,
          o: { path: string; listener?: string; https?: boolean },
        ) => {
          if (normalizeHostname(host) === null) {
            throw new InvalidError(`invalid hostname "${host}"`);
          }
          const data: Record<string, unknown> = { app_id: id, hostname: host, path_begin: o.path };
          if (o.listener !== undefined) data.address = address(o.listener, "listener");
          const type = `${name.toUpperCase()}_${o.https ? "HTTPS" : "HTTP"}_FRONT`;
          await call([proxyOrder(type, data)]);
        },
      );
  }

  const backend = sozu.command("backend").description("add or remove backends");
  for (const name of ["add", "remove"] as const) {
    backend.command(name).argument("<app_id>").argument("<address>", "ip:port")
      .option("--id <backend_id>", "backend id (default <app_id>-<address>)")
      .description(`${name} a backend`)
      .action(async (id: string, addr: string, o: { id?: string }) => {
        const data = { app_id: id, address: address(addr), backend_id: o.id ?? `${id}-${addr}` };
        await call([proxyOrder(name === "add" ? "ADD_BACKEND" : "REMOVE_BACKEND", data)]);
      });
  }

  sozu.command("stop").option("--hard", "drop in-flight requests instead of draining them")
    .description("stop the proxy (the sozu service ends; the agent keeps running)")
    .action(async (o: { hard?: boolean }) => {
      await call([proxyOrder(o.hard ? "HARD_STOP" : "SOFT_STOP")]);
    });
}
