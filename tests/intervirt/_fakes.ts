/** Fake Intervirt backends for domain tests over the real WebSocket (no root, runtime or nft). */
import type { RunResult } from "../../lib/core/mod.ts";
import type { NetfilterState } from "../../lib/backends/netfilter/mod.ts";
import type { IntervirtConfig } from "../../lib/protocols/intervirt/mod.ts";
import type {
  IntervirtBackends,
  IntervirtHost,
} from "../../lib/protocols/intervirt/containers/mod.ts";
import { type InProcessAgent, startWithBackends } from "./_harness.ts";

/**
 * Backends that remember what they were asked and keep containers in a map; `host` replaces
 * parts of the fake host (the real `ss` listeners, say).
 */
export function fakeBackends(
  calls: string[],
  tables: NetfilterState[],
  host: Partial<IntervirtHost> = {},
): IntervirtBackends {
  const running = new Map<string, boolean>();
  const record = (call: string) => {
    calls.push(call);
    return Promise.resolve();
  };
  return {
    runtime: {
      kind: "fake",
      configuresAddresses: true,
      requiredTools: () => [],
      prepare: () => Promise.resolve(),
      create: (spec, image) => {
        running.set(spec.name, false);
        return record(`create ${spec.name} ${spec.ipv4.address} ${image.kind}`);
      },
      setNetwork: (spec) => record(`network ${spec.name}`),
      start: (name) => {
        const was = running.get(name);
        running.set(name, true);
        return Promise.resolve(was === false);
      },
      stop: (name) => {
        const was = running.get(name);
        if (was !== undefined) running.set(name, false);
        return Promise.resolve(was === true);
      },
      destroy: (name) => {
        running.delete(name);
        return record(`destroy ${name}`);
      },
      state: (name) =>
        Promise.resolve(
          running.has(name) ? (running.get(name) ? "running" : "stopped") : "missing",
        ),
      pid: () => Promise.resolve(null),
      list: () => Promise.resolve([...running.keys()]),
      exec: () => Promise.resolve({ code: 0 } as RunResult),
    },
    bridge: {
      setUp: () => record("bridge up"),
      remove: () => record("bridge down"),
      addHostRoute: (ip) => record(`route ${ip}`),
      deleteHostRoute: (ip) => record(`unroute ${ip}`),
      attachPort: () => Promise.resolve(false),
      changeAddress: () => Promise.resolve(),
    },
    netfilter: {
      apply: (state) => {
        tables.push(structuredClone(state));
        return Promise.resolve(false);
      },
      delete: () => record("nft delete"),
      warm: () => {},
      close: () => Promise.resolve(),
    },
    images: {
      dir: "/images",
      find: (name) =>
        Promise.resolve(name === "local" ? { kind: "tarball", path: "/images/local.tar" } : null),
    },
    host: {
      missing: () => [],
      listeners: () => Promise.resolve([]),
      run: (argv) => record(`host ${argv.join(" ")}`),
      ...host,
    },
  };
}

/** An in-process agent on {@linkcode fakeBackends}, with what the fakes recorded. */
export interface FakeAgent extends InProcessAgent {
  /** Runtime, bridge and host calls, in order. */
  calls: string[];
  /** Every nft state applied. */
  tables: NetfilterState[];
}

/** Starts the service in this process on {@linkcode fakeBackends} with `overrides`. */
export async function startOnFakes(
  dir: string,
  overrides: Partial<IntervirtConfig> = {},
  host: Partial<IntervirtHost> = {},
): Promise<FakeAgent> {
  const calls: string[] = [];
  const tables: NetfilterState[] = [];
  const agent = await startWithBackends(
    dir,
    overrides,
    () => Promise.resolve(fakeBackends(calls, tables, host)),
  );
  return Object.assign(agent, { calls, tables });
}
