/** In-process harness for the Intervirt service: a real listener on loopback, a test context. */
import { join } from "node:path";
import {
  type AgentSection,
  createLogger,
  runCommand,
  type ServiceContext,
  StateStore,
} from "../../lib/core/mod.ts";
import {
  type IntervirtBackendsFactory,
  type IntervirtConfig,
  intervirtConfigSchema,
  IntervirtService,
  loadIntervirtBackends,
} from "../../lib/protocols/intervirt/mod.ts";

/** A started in-process service. */
export interface InProcessAgent extends AsyncDisposable {
  url: string;
  service: IntervirtService;
  details: Record<string, unknown>[];
}

/**
 * Starts the service in this process with `overrides` on top of safe test defaults, on the real
 * backends with the host check replaced by `checkHost`.
 */
export function startInProcess(
  dir: string,
  overrides: Partial<IntervirtConfig>,
  checkHost: (tools: readonly string[]) => string[],
): Promise<InProcessAgent> {
  return startWithBackends(dir, overrides, async (setup) => {
    const backends = await loadIntervirtBackends(setup);
    return {
      ...backends,
      host: {
        missing: checkHost,
        listeners: (protocol, port) => backends.host.listeners(protocol, port),
        run: (argv, timeoutMs) => backends.host.run(argv, timeoutMs),
      },
    };
  });
}

/** Starts the service in this process on the backends `createBackends` makes. */
export async function startWithBackends(
  dir: string,
  overrides: Partial<IntervirtConfig>,
  createBackends: IntervirtBackendsFactory,
): Promise<InProcessAgent> {
  const config = intervirtConfigSchema().parse({
    enabled: true,
    listen: "127.0.0.1:0",
    lxc_path: join(dir, "lxc"),
    name_prefix: "pivu-",
    veth_prefix: "pivu",
    bridge: "pivubr0",
    nft_table: "polyagent_pivu",
    ...overrides,
  });
  const log = createLogger("intervirt", { level: "error", format: "json", sink: () => {} });
  const controller = new AbortController();
  const store = new StateStore(join(dir, "state"), log);
  const listening = Promise.withResolvers<string>();
  const details: Record<string, unknown>[] = [];
  const ctx: ServiceContext<IntervirtConfig> = {
    name: "intervirt",
    config,
    agent: {} as AgentSection,
    log,
    paths: { state: join(dir, "state"), run: join(dir, "run"), log: join(dir, "log") },
    runner: runCommand,
    signal: controller.signal,
    openDocument: (options, file) => store.open(file ?? "intervirt", options),
    listening: (address) => listening.resolve(address),
    fail: (error) => {
      throw error;
    },
    setDetail: (detail) => details.push(detail),
    statuses: () => [],
    metrics: () => "",
  };
  const service = new IntervirtService(createBackends);
  await service.start(ctx);
  const url = await listening.promise;
  return {
    url,
    service,
    details,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await service.stop();
    },
  };
}
