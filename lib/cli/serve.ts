/**
 * `polyagent serve`: load the config, start the services, stop them on SIGTERM/SIGINT/SIGQUIT;
 * SIGHUP/SIGUSR1/SIGUSR2 go to the services, the other catchable signals are ignored.
 */
import {
  type AgentConfig,
  type AnyServiceDefinition,
  createLogger,
  errorText,
  listenForSignals,
  loadConfig,
  runCommand,
  ServiceStartError,
  Supervisor,
} from "../core/mod.ts";

/** Options for {@linkcode serve}. */
export interface ServeOptions {
  config: AgentConfig;
  definitions: readonly AnyServiceDefinition[];
  /** Resolves with the supervisor once every enabled service has been started. */
  onReady?: (supervisor: Supervisor) => void;
}

/** Runs the agent until a stop signal; resolves with the exit status. */
export async function serve(options: ServeOptions): Promise<number> {
  const { config } = options;
  const log = createLogger("agent", {
    level: config.agent.log_level,
    format: config.agent.log_format,
  });
  const encoder = new TextEncoder();
  const supervisor = new Supervisor({
    config,
    definitions: options.definitions,
    log,
    runner: runCommand,
    onListening: (service, address) => {
      Deno.stdout.writeSync(encoder.encode(`${service.padEnd(10)} ${address}\n`));
    },
  });
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
  // every catchable signal has a deliberate action (core signals.ts): none kills the agent
  const unlisten = listenForSignals((signal, action) => {
    if (action === "stop") return stop(signal);
    if (action === "ignore" || stopping) return log.info("signal ignored", { signal });
    void supervisor.signal(signal).then((services) => {
      if (services.length > 0) log.info("signal handled", { signal, services });
      else log.info("signal ignored: no running service uses it", { signal });
    });
  });
  log.info("starting", { config: config.source, pid: Deno.pid });
  try {
    await supervisor.start();
  } catch (error) {
    if (error instanceof ServiceStartError) {
      log.error("fail_fast is set and a service failed; stopping", { error: errorText(error) });
      await supervisor.stop("shutdown");
      unlisten();
      return 1;
    }
    throw error;
  }
  const running = supervisor.statuses().filter((s) => s.enabled);
  log.info("ready", { services: running.map((s) => `${s.name}:${s.state}`).join(",") });
  options.onReady?.(supervisor);
  const code = await stopped.promise;
  unlisten();
  log.info("stopped");
  return code;
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
