/** The service side of an upgrade: what each running service hands over, and its context hooks. */
import type { Service, ServiceContext } from "./service.ts";

/** What the running services hand over at an upgrade (`Supervisor.handover`). */
export interface AgentHandover {
  /** Each service's data, by name. */
  data: Record<string, unknown>;
  /** The upgrade was called off: every service accepts changes again. */
  resume(): void;
}

/**
 * Asks each service that has a `handover` for it, in order; each then holds its changes until it
 * is stopped or resumed. When one fails, the earlier ones are resumed and the error is thrown.
 */
export async function collectHandovers(
  services: readonly (readonly [string, Service<unknown> | null])[],
): Promise<AgentHandover> {
  const data: Record<string, unknown> = {};
  const resumes: (() => void)[] = [];
  const resume = () => resumes.splice(0).forEach((fn) => fn());
  try {
    for (const [name, instance] of services) {
      if (!instance?.handover) continue;
      const given = await instance.handover();
      data[name] = given.data;
      resumes.push(given.resume);
    }
  } catch (error) {
    resume();
    throw error;
  }
  return { data, resume };
}

/** Where a service's upgrade hooks come from (the supervisor's options). */
export interface UpgradeContextSources {
  /** What the old agent's services handed over, by name (successor only). */
  inherited?: Record<string, unknown>;
  upgrade?: ServiceContext<unknown>["upgrade"];
  agentStatus?: ServiceContext<unknown>["agentStatus"];
}

/** The upgrade parts of service `name`'s context; `keep` receives its `keepAlive` work. */
export function upgradeContext(
  sources: UpgradeContextSources,
  name: string,
  keep: (work: Promise<unknown>) => void,
): Partial<ServiceContext<unknown>> {
  const inherited = sources.inherited?.[name];
  return {
    ...(inherited !== undefined ? { inherited } : {}),
    ...(sources.upgrade ? { upgrade: sources.upgrade } : {}),
    ...(sources.agentStatus ? { agentStatus: sources.agentStatus } : {}),
    keepAlive: (work) => keep(work.catch(() => {})),
  };
}
