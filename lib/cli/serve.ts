/**
 * `polyagent serve`: load the config, start the services, stop them on SIGTERM/SIGINT/SIGQUIT;
 * SIGHUP/SIGUSR1/SIGUSR2 go to the services, the other catchable signals are ignored. The agent
 * control socket serves upgrades; started with `POLYAGENT_TAKEOVER` it is the successor of an
 * upgrade and takes over from the old agent instead of starting cold (core `takeover.ts`).
 */
import {
  type AgentConfig,
  AgentSocket,
  agentSocketPath,
  AgentUpgrader,
  type AnyServiceDefinition,
  createLogger,
  enableTcpMigrateReq,
  errorText,
  listenForSignals,
  loadConfig,
  type Logger,
  type Replaced,
  runCommand,
  ServiceStartError,
  Supervisor,
  type TakenOver,
  takeOver,
  takeoverSocket,
  type UpgradeOutcome,
  VERSION,
} from "../core/mod.ts";
import { removeAgentPid, writeAgentPid } from "./agent_pid.ts";
import { spawnSuccessor } from "./successor.ts";

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  config: AgentConfig;
  definitions: readonly AnyServiceDefinition[];
  /** Resolves with the supervisor once every enabled service has been started. */
  onReady?: (supervisor: Supervisor) => void;
}

/** The supervisor and the upgrader of one agent, wired to each other. */
interface Agent {
  supervisor: Supervisor;
  upgrader: AgentUpgrader;
  /** Records the takeover this agent made, for /healthz. */
  tookOver(from: Record<string, unknown>): void;
}

function buildAgent(options: ServeOptions, log: Logger): Agent {
  const { config } = options;
  const startedAt = Date.now();
  let upgradedFrom: Record<string, unknown> | null = null;
  const encoder = new TextEncoder();
  const supervisor: Supervisor = new Supervisor({
    config,
    definitions: options.definitions,
    log,
    runner: runCommand,
    onListening: (service, address) => {
      Deno.stdout.writeSync(encoder.encode(`${service.padEnd(10)} ${address}\n`));
    },
    upgrade: (request): Promise<UpgradeOutcome> => upgrader.upgrade(request),
    agentStatus: () => ({
      pid: Deno.pid,
      version: VERSION,
      startedAt,
      ...(upgradedFrom ? { upgradedFrom } : {}),
      ...(upgrader.status() ? { upgrade: upgrader.status() } : {}),
    }),
  });
  const upgrader: AgentUpgrader = new AgentUpgrader({
    config,
    supervisor,
    log,
    version: VERSION,
    startedAt,
    spawnSuccessor,
    ...(config.agent.tcp_migrate_req
      ? { beforeMove: async () => void await enableTcpMigrateReq(log) }
      : {}),
  });
  return { supervisor, upgrader, tookOver: (from) => upgradedFrom = from };
}

/**
 * Gives every catchable signal its deliberate action (core signals.ts): none kills the agent.
 * `stopped` resolves with the exit status once a stop signal has stopped the services.
 */
function handleSignals(supervisor: Supervisor, log: Logger) {
  const stopped = Promise.withResolvers<number>();
  let stopping = false;
  const stop = (signal: Deno.Signal) => {
    if (stopping) return;
    stopping = true;
    log.info("stopping", { signal });
    supervisor.stop("shutdown").then(
      () => stopped.resolve(0),
      (error) => {
        log.error("stop failed", { error });
        stopped.resolve(1);
      },
    );
  };
  const unlisten = listenForSignals((signal, action) => {
    if (action === "stop") return stop(signal);
    if (action === "ignore" || stopping) return log.info("signal ignored", { signal });
    void supervisor.signal(signal).then((services) => {
      if (services.length > 0) log.info("signal handled", { signal, services });
      else log.info("signal ignored: no running service uses it", { signal });
    });
  });
  return { stopped: stopped.promise, unlisten };
}

/** Runs the agent until a stop signal (or a successor took over); resolves with the exit status. */
export async function serve(options: ServeOptions): Promise<number> {
  const { config } = options;
  const log = createLogger("agent", {
    level: config.agent.log_level,
    format: config.agent.log_format,
  });
  const takeover = takeoverSocket();
  const { supervisor, upgrader, tookOver } = buildAgent(options, log);
  const { stopped, unlisten } = handleSignals(supervisor, log);
  log.info("starting", { config: config.source, pid: Deno.pid, takeover: takeover !== null });
  // a failed takeover is logged by takeOver: the old agent carries on, this process exits 1
  const taken: TakenOver | null = takeover
    ? await takeOver(takeover, { config, supervisor, log, version: VERSION }).catch(() => null)
    : null;
  if (takeover ? !taken : !await startServices(supervisor, log)) {
    unlisten();
    return 1;
  }
  const control = await AgentSocket.listen(agentSocketPath(config.agent.run_dir), {
    log,
    upgrade: (request) => upgrader.upgrade(request),
  }).catch((error) => {
    log.error("agent control socket unavailable: no upgrades", { error: errorText(error) });
    return null;
  });
  await writeAgentPid(config.agent.pid_file).catch((error) =>
    log.error("cannot write the pid file", { path: config.agent.pid_file, error })
  );
  if (taken) {
    tookOver({ ...taken.from, steps: taken.steps, at: Date.now() });
    await taken.confirm().catch(() => {});
    upgrader.refuseUntil("the previous agent is still finishing the upgrade", taken.oldAgentGone);
    log.info("upgrade: took over", { from: taken.from.pid, steps: taken.steps });
  }
  const running = supervisor.statuses().filter((s) => s.enabled);
  log.info("ready", { services: running.map((s) => `${s.name}:${s.state}`).join(",") });
  options.onReady?.(supervisor);
  const end = await Promise.race([
    stopped.then((code) => ({ code, replaced: null })),
    upgrader.replaced.then((replaced) => ({ code: 0, replaced })),
  ]);
  if (end.replaced) await finishReplaced(end.replaced, log);
  else await removeAgentPid(config.agent.pid_file);
  await control?.close();
  unlisten();
  log.info(end.replaced ? "replaced by the successor; exiting" : "stopped");
  return end.code;
}

/** Starts the services; false when `fail_fast` stopped the agent. */
async function startServices(supervisor: Supervisor, log: Logger): Promise<boolean> {
  try {
    await supervisor.start();
    return true;
  } catch (error) {
    if (error instanceof ServiceStartError) {
      log.error("fail_fast is set and a service failed; stopping", { error: errorText(error) });
      await supervisor.stop("shutdown");
      return false;
    }
    throw error;
  }
}

/** After a successful upgrade: let the proxy drain and the replies go out, then return. */
async function finishReplaced(replaced: Replaced, log: Logger): Promise<void> {
  const t0 = performance.now();
  await within(replaced.lingering, 120_000);
  await within(Promise.allSettled(replaced.deliveries), 2000);
  log.info("upgrade: old agent done", { drainMs: Math.round(performance.now() - t0) });
}

function within(work: Promise<unknown>, ms: number): Promise<unknown> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([work, new Promise((r) => timer = setTimeout(r, ms))]).finally(() =>
    clearTimeout(timer)
  );
}

/** `serve`'s command-line options, however they were parsed. */
export interface ServeArgs {
  config: string | undefined;
  sets: string[];
}

/**
 * `serve` from either command line: loads only the config sections in use, runs the agent and
 * resolves with its exit status (errors propagate to the caller's reporting).
 */
export async function serveFromArgs(
  args: ServeArgs,
  definitions: readonly AnyServiceDefinition[],
): Promise<number> {
  const config = await loadConfig({
    file: args.config,
    sets: args.sets,
    definitions,
    sections: "used",
  });
  return await serve({ config, definitions });
}
