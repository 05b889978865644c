/**
 * The crash run's state-changing requests, in lanes. Each lane owns its keys (no two lanes touch
 * the same key) and sends one request at a time, so at a kill at most one request per key is in
 * flight and its key may hold either the value before or the value after it. Lanes: sozu
 * applications (ADD/REMOVE_APPLICATION), sozu backends of one application (ADD/REMOVE_BACKEND),
 * cryptoded profiles (IMPORT/REMOVE; the file must hold the whole profile), MASQ Daemon settings
 * (`setup` of `log-level`). Intervirt is not in the run: without a container runtime none of its
 * requests changes state (code 4 before any change).
 *
 * @module
 */
import { join } from "node:path";
import type { FuzzAgent } from "../fuzz/agent.ts";
import type { Rng } from "../fuzz/rng.ts";
import { CRYPTODED, cryptoded, cryptodedProfiles, masqSetup, PROFILE, sozu } from "./clients.ts";

/** A key's value: null = absent. */
export type Value = string | null;

/** One state-changing request. */
export interface Op {
  key: string;
  /** The key's value once the request is acknowledged. */
  after: Value;
  /** A short text for failure reports. */
  text: string;
  /** Sends it; null when acknowledged as expected, else what was wrong. */
  send(agent: FuzzAgent): Promise<string | null>;
}

/** A lane: the next request given the values the agent holds now. */
export interface Lane {
  name: string;
  next(rng: Rng, values: ReadonlyMap<string, Value>): Op;
}

/** The application every backend of the backend lane belongs to (added before the run). */
export const BACKEND_APP = "crash";
const APPS = 10;
const BACKENDS = 20;
const PROFILES = 10;
const LEVELS = ["error", "warn", "info", "debug"];

const ok = (what: string, status: string, message: string): string | null =>
  status === "OK" ? null : `${what}: ${status} ${message}`;

const appsLane: Lane = {
  name: "sozu applications",
  next(rng, values) {
    const id = `app-${rng.int(APPS)}`;
    const key = `app:${id}`;
    const add = values.get(key) === undefined || values.get(key) === null;
    const type = add ? "ADD_APPLICATION" : "REMOVE_APPLICATION";
    return {
      key,
      after: add ? "present" : null,
      text: `${type} ${id}`,
      async send(agent) {
        const r = await sozu(agent.endpoints.sozuSocket, type, add ? { app_id: id } : id);
        return ok(`${type} ${id}`, r.status, r.message);
      },
    };
  },
};

const backendsLane: Lane = {
  name: "sozu backends",
  next(rng, values) {
    const n = rng.int(BACKENDS);
    const key = `backend:be-${n}`;
    const address = `127.77.0.${1 + rng.int(200)}:${9000 + n}`;
    const current = values.get(key) ?? null;
    const type = current === null ? "ADD_BACKEND" : "REMOVE_BACKEND";
    const data = {
      app_id: BACKEND_APP,
      backend_id: `be-${n}`,
      address: current ?? address,
    };
    return {
      key,
      after: current === null ? address : null,
      text: `${type} be-${n} ${data.address}`,
      async send(agent) {
        const r = await sozu(agent.endpoints.sozuSocket, type, data);
        return ok(`${type} be-${n}`, r.status, r.message);
      },
    };
  },
};

const profilesLane: Lane = {
  name: "cryptoded profiles",
  next(rng, values) {
    const name = `crash-${rng.int(PROFILES)}`;
    const key = `profile:${name}`;
    const add = (values.get(key) ?? null) === null;
    return {
      key,
      after: add ? "complete" : null,
      text: `${add ? "IMPORT" : "REMOVE"} ${name}`,
      async send(agent) {
        const r = add
          ? await cryptoded(agent.endpoints.cryptodedSocket, CRYPTODED.IMPORT, {
            name,
            content: PROFILE,
          })
          : await cryptoded(agent.endpoints.cryptodedSocket, CRYPTODED.REMOVE, name);
        return r.code === 0 ? null : `${add ? "IMPORT" : "REMOVE"} ${name}: ${r.raw}`;
      },
    };
  },
};

const masqLane: Lane = {
  name: "masq settings",
  next(rng, values) {
    const current = values.get("masq:log-level") ?? null;
    const level = rng.pick(LEVELS.filter((l) => l !== current));
    return {
      key: "masq:log-level",
      after: level,
      text: `setup log-level=${level}`,
      async send(agent) {
        const r = await masqSetup(agent.endpoints.masqPort, { "log-level": level });
        return r.error === null && r.values["log-level"] === level
          ? null
          : `setup log-level=${level}: ${r.raw.slice(0, 300)}`;
      },
    };
  },
};

/** Every lane. */
export const LANES: readonly Lane[] = [appsLane, backendsLane, profilesLane, masqLane];

/** What the agent holds now, for every key the lanes use (keys absent from the map are absent). */
export async function readValues(agent: FuzzAgent): Promise<Map<string, Value>> {
  const values = new Map<string, Value>();
  const dump = await sozu(agent.endpoints.sozuSocket, "DUMP_STATE");
  if (dump.status !== "OK") throw new Error(`DUMP_STATE: ${dump.message}`);
  const state = (dump.data as { data?: Record<string, unknown> })?.data ?? {};
  for (const id of Object.keys(state.applications as object ?? {})) {
    if (id !== BACKEND_APP) values.set(`app:${id}`, "present");
  }
  const backends = (state.backends as Record<string, { backend_id: string; address: string }[]>)
    ?.[BACKEND_APP] ?? [];
  for (const b of backends) values.set(`backend:${b.backend_id}`, b.address);
  for (const name of await cryptodedProfiles(agent.endpoints.cryptodedSocket)) {
    if (!name.startsWith("crash-")) continue;
    const text = await Deno.readTextFile(join(agent.dir, "vpn.d", `${name}.ovpn`)).catch(() => "");
    values.set(
      `profile:${name}`,
      text === PROFILE ? "complete" : `half-written (${text.length} B)`,
    );
  }
  const setup = await masqSetup(agent.endpoints.masqPort, {});
  values.set("masq:log-level", setup.values["log-level"] ?? null);
  return values;
}
