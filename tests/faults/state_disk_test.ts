/**
 * State directory full or read-only, for real: the agent's state directory and cryptoded's
 * profile directory sit on a 512 KiB tmpfs that the test fills to the last byte and remounts
 * read-only. Every service that persists state is asked for pure state changes (no tunnel,
 * container or node starts): sozu orders (automatic state) and SAVE_STATE, cryptoded IMPORT of a
 * profile and DNS_OVERRIDE (its state document; the resolver file is in the run directory), MASQ
 * Daemon `setup`. Each must answer its protocol's error naming the cause (ENOSPC / EROFS), keep
 * every acknowledged change across a kill -9 (also one while the disk is still full), read back no
 * half-written file and leave no temp file, and write again once space returns. Quix, whose token
 * is persisted, must come online after a restart on the faulty disk. Intervirt persists nothing
 * without a container runtime (every container request is code 4 before any state change).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, waitFor } from "../_helpers/mod.ts";
import type { FuzzAgent } from "../../scripts/fuzz/agent.ts";
import { type FaultAgent, startFaultAgent } from "./fault_agent.ts";
import {
  closeMasqConnections,
  CRYPTODED,
  cryptoded,
  cryptodedProfiles,
  masqSetup,
  PROFILE,
  sozu,
  sozuApps,
} from "../../scripts/crash/clients.ts";
import { mountSmallDisk, type SmallDisk } from "./tmpfs.ts";

/** What the agent acknowledged so far (the test's model of durable state). */
interface Acked {
  apps: Set<string>;
  profiles: Set<string>;
  logLevel: string;
  /** The DNS override server cryptoded acknowledged ("" = none yet). */
  dns: string;
}

/** cryptoded's DNS_OVERRIDE (document dialect). */
const DNS_OVERRIDE = 7;

/** The DNS override: the servers on record and the ones the resolver file holds now. */
async function dnsState(agent: FuzzAgent): Promise<{ servers: string[]; current: string[] }> {
  const r = await cryptoded(agent.endpoints.cryptodedSocket, DNS_OVERRIDE, "status");
  const data = r.data as { servers?: string[]; current?: string[] };
  return { servers: data.servers ?? [], current: data.current ?? [] };
}

/** One round of state changes, all acknowledged. */
async function changesSucceed(agent: FuzzAgent, acked: Acked, tag: string): Promise<void> {
  const e = agent.endpoints;
  const app = await sozu(e.sozuSocket, "ADD_APPLICATION", { app_id: `app-${tag}` });
  assert.equal(app.status, "OK", app.message);
  acked.apps.add(`app-${tag}`);
  const saved = await sozu(e.sozuSocket, "SAVE_STATE", { path: `saved-${tag}.state` });
  assert.equal(saved.status, "OK", saved.message);
  const imported = await cryptoded(e.cryptodedSocket, CRYPTODED.IMPORT, {
    name: `vpn-${tag}`,
    content: PROFILE,
  });
  assert.equal(imported.code, 0, imported.raw);
  acked.profiles.add(`vpn-${tag}`);
  const level = acked.logLevel === "warn" ? "error" : "warn";
  const setup = await masqSetup(e.masqPort, { "log-level": level });
  assert.equal(setup.error, null, setup.raw);
  assert.equal(setup.values["log-level"], level, setup.raw);
  acked.logLevel = level;
  const server = acked.dns === "127.0.0.1" ? "127.0.0.2" : "127.0.0.1";
  const dns = await cryptoded(e.cryptodedSocket, DNS_OVERRIDE, `enable ${server}`);
  assert.equal(dns.code, 0, dns.raw);
  acked.dns = server;
}

/** The same changes refused, each naming `cause`; nothing of them is visible afterwards. */
async function changesRefused(agent: FuzzAgent, acked: Acked, cause: RegExp): Promise<void> {
  const e = agent.endpoints;
  const app = await sozu(e.sozuSocket, "ADD_APPLICATION", { app_id: "app-refused" });
  assert.equal(app.status, "ERROR", `sozu acknowledged an order it could not save`);
  assert.match(app.message, cause);
  const saved = await sozu(e.sozuSocket, "SAVE_STATE", { path: "saved-refused.state" });
  assert.equal(saved.status, "ERROR", "SAVE_STATE acknowledged a file it could not write");
  assert.match(saved.message, cause);
  const imported = await cryptoded(e.cryptodedSocket, CRYPTODED.IMPORT, {
    name: "vpn-refused",
    content: PROFILE,
  });
  assert.notEqual(imported.code, 0, "cryptoded acknowledged a profile it could not write");
  assert.match(String(imported.data), cause);
  assert.ok(!(await cryptodedProfiles(e.cryptodedSocket)).includes("vpn-refused"));
  const level = acked.logLevel === "warn" ? "error" : "warn";
  const setup = await masqSetup(e.masqPort, { "log-level": level });
  assert.notEqual(setup.error, null, `MASQ acknowledged a setup it could not save: ${setup.raw}`);
  assert.match(setup.error!, cause);
  const read = await masqSetup(e.masqPort, {});
  assert.equal(read.values["log-level"], acked.logLevel, "a refused setup is still shown");
  const dns = await cryptoded(e.cryptodedSocket, DNS_OVERRIDE, "enable 127.0.0.9");
  assert.notEqual(dns.code, 0, "cryptoded acknowledged a DNS override it could not save");
  assert.match(String(dns.data), cause);
  // neither on record nor in the resolver file
  assert.deepEqual(await dnsState(agent), { servers: [acked.dns], current: [acked.dns] });
}

/** Every acknowledged change is there (after a restart, too). */
async function ackedPresent(agent: FuzzAgent, acked: Acked): Promise<void> {
  const e = agent.endpoints;
  const apps = await sozuApps(e.sozuSocket);
  for (const app of acked.apps) assert.ok(apps.includes(app), `sozu lost ${app}: ${apps}`);
  const profiles = await cryptodedProfiles(e.cryptodedSocket);
  for (const p of acked.profiles) assert.ok(profiles.includes(p), `cryptoded lost ${p}`);
  const read = await masqSetup(e.masqPort, {});
  assert.equal(read.values["log-level"], acked.logLevel, `MASQ lost its setup: ${read.raw}`);
  assert.deepEqual((await dnsState(agent)).servers, [acked.dns], "cryptoded lost its DNS override");
}

/** No temp file of an atomic write is left in the state or profile directory. */
function noTemps(disk: SmallDisk): void {
  assert.deepEqual([...disk.tempFiles("state"), ...disk.tempFiles("vpn.d")], []);
}

/** Temp files a writer killed mid-write leaves: half a JSON document, half a profile. */
function plantHalfWritten(disk: SmallDisk): void {
  const half = '{"version":1,"savedAt":"2026-12-05T00:00:00Z","data":{"applicati';
  for (const doc of ["sozu", "masq", "cryptoded"]) {
    Deno.writeTextFileSync(join(disk.path, "state", `${doc}.json.tmp-999999-1`), half);
  }
  Deno.writeTextFileSync(join(disk.path, "vpn.d", "half.ovpn.tmp-999999-1"), "client\ndev t");
}

async function withAgentOnDisk(fn: (fault: FaultAgent, disk: SmallDisk) => Promise<void>) {
  const base = await Deno.makeTempDir({ dir: "/tmp", prefix: "polyagent-faults-" });
  await Deno.chmod(base, 0o755);
  try {
    await using disk = await mountSmallDisk(join(base, "disk"), 512);
    await Deno.mkdir(join(disk.path, "vpn.d"), { mode: 0o700 });
    await using fault = await startFaultAgent({
      label: "faults",
      stateDir: join(disk.path, "state"),
      profileDir: join(disk.path, "vpn.d"),
    });
    await fn(fault, disk);
    assert.equal(await fault.agent.health(), null);
  } finally {
    await closeMasqConnections();
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
}

/** Quix logs in again (after a restart) although its token's new validity cannot be saved. */
async function quixOnline(fault: FaultAgent): Promise<void> {
  const link = await waitFor(async () => {
    const d = await fault.detail("quix");
    return d.link === "online" ? d : null;
  }, { timeoutMs: 20_000, what: "Quix online" }).catch(() => fault.detail("quix"));
  assert.equal(link.link, "online", JSON.stringify(link));
}

/** The MASQ log level the agent starts with, as the first acknowledged state. */
async function startingState(agent: FuzzAgent): Promise<Acked> {
  const level = (await masqSetup(agent.endpoints.masqPort, {})).values["log-level"] ?? "";
  return { apps: new Set(), profiles: new Set(), logLevel: level, dns: "" };
}

backendTest(
  "faults: a full state disk refuses every change naming ENOSPC, loses nothing acknowledged, and writes again once space returns",
  { root: true, tools: ["mount", "umount", "dd"] },
  () =>
    withAgentOnDisk(async (fault, disk) => {
      let agent = fault.agent;
      const acked = await startingState(agent);
      await changesSucceed(agent, acked, "before");
      await disk.fill();
      await changesRefused(agent, acked, /ENOSPC|no space left/i);
      noTemps(disk);
      agent = await fault.crashAndRestart(); // still full
      await quixOnline(fault);
      await ackedPresent(agent, acked);
      assert.ok(!(await sozuApps(agent.endpoints.sozuSocket)).includes("app-refused"));
      await changesRefused(agent, acked, /ENOSPC|no space left/i);
      await disk.free();
      await changesSucceed(agent, acked, "after");
      noTemps(disk);
      plantHalfWritten(disk);
      agent = await fault.crashAndRestart();
      await ackedPresent(agent, acked);
      noTemps(disk);
      assert.ok(!(await cryptodedProfiles(agent.endpoints.cryptodedSocket)).includes("half"));
    }),
);

backendTest(
  "faults: a read-only state disk refuses every change naming EROFS, and writes again once it is writable",
  { root: true, tools: ["mount", "umount"] },
  () =>
    withAgentOnDisk(async (fault, disk) => {
      let agent = fault.agent;
      const acked = await startingState(agent);
      await changesSucceed(agent, acked, "before");
      await disk.readOnly(true);
      try {
        await changesRefused(agent, acked, /EROFS|read-only/i);
        agent = await fault.crashAndRestart(); // still read-only
        await quixOnline(fault);
        await ackedPresent(agent, acked);
      } finally {
        await disk.readOnly(false);
      }
      await changesSucceed(agent, acked, "after");
      noTemps(disk);
      agent = await fault.crashAndRestart();
      await ackedPresent(agent, acked);
    }),
);
