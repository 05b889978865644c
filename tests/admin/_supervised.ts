/** An in-process agent (core's Supervisor) with the admin service and test services. */
import {
  agentSchema,
  createLogger,
  runCommand,
  type ServiceDefinition,
  Supervisor,
} from "../../lib/core/mod.ts";
import { adminDefinition } from "../../lib/protocols/admin/mod.ts";
import { freePort, tempDir } from "../_helpers/mod.ts";

/** What a test gets: the base URL, the port and the log lines. */
export interface SupervisedAgent {
  base: string;
  port: number;
  logs: string[];
}

/**
 * Runs `fn` against an agent whose admin listens on `host` (loopback by default) with the extra
 * `[admin]` keys in `admin`, plus `services` (sections) of `defs`.
 */
export async function withAgent(
  services: Record<string, { enabled: boolean } & Record<string, unknown>>,
  defs: ServiceDefinition[],
  fn: (agent: SupervisedAgent) => Promise<void>,
  admin: Record<string, unknown> = {},
  host = "127.0.0.1",
): Promise<void> {
  await using dir = await tempDir("admin");
  const port = freePort();
  services.admin = {
    enabled: true,
    listen: `${host}:${port}`,
    token: "",
    actions: false,
    ...admin,
  };
  const logs: string[] = [];
  const sup = new Supervisor({
    config: {
      agent: agentSchema().parse({
        state_dir: `${dir.path}/s`,
        run_dir: `${dir.path}/r`,
        log_dir: `${dir.path}/l`,
      }),
      services,
      source: "test",
    },
    definitions: [adminDefinition as ServiceDefinition, ...defs],
    log: createLogger("agent", { format: "json", sink: (line) => logs.push(line) }),
    runner: runCommand,
    backoffBaseMs: 60_000,
  });
  await sup.start();
  try {
    await fn({ base: `http://127.0.0.1:${port}`, port, logs });
  } finally {
    await sup.stop();
  }
}
