/**
 * Runs the sozu service in-process on a temporary directory, with a fake service context and a
 * data plane of the test's choice, and gives the test a connected command-socket client.
 */
import { join } from "node:path";
import { createLogger, type ServiceContext, StateStore } from "../../lib/core/mod.ts";
import type { DataPlane } from "../../lib/backends/http_proxy/mod.ts";
import { SozuStateFiles } from "../../lib/backends/sozu_state_files/mod.ts";
import {
  type DataPlaneFactory,
  type SozuBackends,
  SozuClient,
  type SozuConfig,
  sozuConfigSchema,
  SozuService,
} from "../../lib/protocols/sozu/mod.ts";
import { tempDir } from "../_helpers/mod.ts";
import { MemoryDataPlane } from "./_memory_plane.ts";

/** A running in-process service. */
export interface Harness extends AsyncDisposable {
  service: SozuService;
  plane: DataPlane;
  socket: string;
  stateDir: string;
  logs: string[];
  stoppedReasons: string[];
  failures: unknown[];
  /** A new client on the socket. */
  client(): Promise<SozuClient>;
  /** Stops the service (as the supervisor would). */
  stop(): Promise<void>;
  /** Starts a fresh service instance on the same directory (a restart). */
  restart(): Promise<void>;
}

/** Options for {@linkcode startHarness}. */
export interface HarnessOptions {
  config?: Partial<SozuConfig>;
  /** Makes the data plane; default a {@linkcode MemoryDataPlane}. */
  plane?: DataPlaneFactory;
  /** Reuse this directory (restarts across harnesses). */
  dir?: string;
}

/** Starts the service. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const owned = options.dir ? null : await tempDir("sozu");
  const base = options.dir ?? owned!.path;
  const socket = join(base, "run", "sozu.sock");
  const stateDir = join(base, "state");
  await Deno.mkdir(join(base, "run"), { recursive: true });
  await Deno.mkdir(stateDir, { recursive: true });
  const config = sozuConfigSchema().parse({
    enabled: true,
    command_socket: socket,
    ...(options.config ?? {}),
  });
  const logs: string[] = [];
  const log = createLogger("sozu", { format: "json", level: "debug", sink: (l) => logs.push(l) });
  const stoppedReasons: string[] = [];
  const failures: unknown[] = [];
  const makePlane: DataPlaneFactory = options.plane ??
    ((o) => new MemoryDataPlane(o.workerCount, o.currentOrders));
  let plane: DataPlane | null = null;
  const factory: DataPlaneFactory = (o) => plane = makePlane(o);
  const backends: SozuBackends = {
    createDataPlane: factory,
    stateFiles: (o) => new SozuStateFiles(o),
  };
  let service = new SozuService(backends);
  let abort = new AbortController();
  const clients: SozuClient[] = [];

  const context = (): ServiceContext<SozuConfig> => {
    const store = new StateStore(stateDir, log);
    return {
      name: "sozu",
      config,
      agent: {} as ServiceContext<SozuConfig>["agent"],
      log,
      paths: { state: stateDir, run: join(base, "run"), log: base },
      runner: {} as ServiceContext<SozuConfig>["runner"],
      signal: abort.signal,
      openDocument: (opts, file) => store.open(file ?? "sozu", opts),
      listening: () => {},
      fail: (error) => void failures.push(error),
      stopped: (reason) => {
        stoppedReasons.push(reason);
        void service.stop("shutdown");
      },
      setDetail: () => {},
      statuses: () => [],
      metrics: () => "",
    };
  };
  await service.start(context());

  const harness: Harness = {
    get service() {
      return service;
    },
    get plane() {
      return plane!;
    },
    socket,
    stateDir,
    logs,
    stoppedReasons,
    failures,
    async client() {
      const c = await SozuClient.connect(socket, 5000);
      clients.push(c);
      return c;
    },
    async stop() {
      abort.abort();
      for (const c of clients.splice(0)) c.close();
      await service.stop("shutdown");
    },
    async restart() {
      await harness.stop();
      abort = new AbortController();
      service = new SozuService(backends);
      await service.start(context());
    },
    async [Symbol.asyncDispose]() {
      await harness.stop();
      if (owned) await owned[Symbol.asyncDispose]();
    },
  };
  return harness;
}
