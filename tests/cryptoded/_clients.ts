/**
 * The real cryptode clients (`cryptode` v1.3.1 and `rvc` 8094ffc, built from the public source, in
 * ../shared/clients/cryptode beside the repository) and a private mount namespace to run them in:
 * they hard-code `/var/run/...` paths, so the agent and the clients share a namespace whose /run
 * is a fresh tmpfs (with the host's /run/netns carried over, for `ip netns exec`). The clients
 * are run as they are, never adapted.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AgentProcess,
  IN_CI,
  IS_ROOT,
  ROOT,
  sh,
  tempDir,
  waitFor,
  which,
} from "../_helpers/mod.ts";
import { type AgentEnv, agentEnv, type VpnLab, vpnLab, writeProfile } from "./_env.ts";

/** Where the real clients are: ../shared/clients/cryptode relative to the repository root. */
export const CLIENTS_DIR = join(ROOT, "..", "shared", "clients", "cryptode");

/**
 * Why the real clients cannot run here, or null. Under CI=true a missing client, library or tool
 * throws (the test then fails instead of skipping).
 */
export async function clientsMissing(): Promise<string | null> {
  const reasons: string[] = [];
  if (!IS_ROOT) reasons.push("needs root");
  for (const tool of ["unshare", "nsenter", "mount", "ldd", "openvpn", "openssl", "ip", "ss"]) {
    if (!which(tool)) reasons.push(`"${tool}" not installed`);
  }
  for (const client of ["cryptode", "rvc"]) {
    const path = join(CLIENTS_DIR, client);
    if (!which(path)) {
      reasons.push(`${path} not found`);
      continue;
    }
    const ldd = await sh(["ldd", path], { check: false });
    const lost = ldd.stdout.split("\n").filter((l) => l.includes("not found"));
    if (ldd.code !== 0 || lost.length > 0) {
      reasons.push(`${client} lacks libraries (libjson-c5, libssl3): ${lost.join("; ").trim()}`);
    }
  }
  if (reasons.length === 0) return null;
  const reason = reasons.join(", ");
  if (IN_CI) throw new Error(`CI=true and the real clients cannot run: ${reason}`);
  return reason;
}

/** What a command printed and how it ended. */
export interface ClientRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** A private mount namespace with a tmpfs on /run, held open by a sleeping process. */
export interface PrivateRun extends AsyncDisposable {
  /** Prefix that runs a command inside (it keeps the working directory). */
  wrap: string[];
  /** Runs argv inside. */
  run(argv: string[]): Promise<ClientRun>;
  /** Runs one of the real clients (`cryptode` or `rvc`) inside. */
  client(name: "cryptode" | "rvc", args: string[]): Promise<ClientRun>;
  /** A file's text inside the namespace, or null. */
  read(path: string): Promise<string | null>;
}

const HOLDER = `set -e
keep="$1"
# the network namespaces' handles live in /run/netns: carry them over the new /run
if [ -d /run/netns ]; then mount --rbind /run/netns "$keep"; fi
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir /run/netns
if [ -d /run/netns ] && mountpoint -q "$keep"; then mount --move "$keep" /run/netns; fi
echo ready
exec sleep 100000`;

/** Starts the namespace. */
export async function privateRun(): Promise<PrivateRun> {
  const tmp = await tempDir("cvns");
  const keep = join(tmp.path, "netns");
  await Deno.mkdir(keep);
  const holder = new Deno.Command("unshare", {
    args: ["-m", "--propagation", "private", "--", "sh", "-c", HOLDER, "holder", keep],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const dispose = async () => {
    try {
      holder.kill("SIGKILL");
    } catch {
      // gone
    }
    await holder.output().catch(() => {});
    await tmp[Symbol.asyncDispose]();
  };
  const reader = holder.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  if (!new TextDecoder().decode(first.value ?? new Uint8Array()).includes("ready")) {
    const err = await new Response(holder.stderr).text().catch(() => "");
    await dispose();
    throw new Error(`the private mount namespace did not start: ${err.trim()}`);
  }
  const wrap = ["nsenter", "-t", String(holder.pid), "-m", `--wd=${ROOT}`, "--"];
  const run = (argv: string[]) => sh([...wrap, ...argv], { check: false });
  return {
    wrap,
    run,
    client: (name, args) => run([join(CLIENTS_DIR, name), ...args]),
    async read(path) {
      const r = await run(["cat", path]);
      return r.code === 0 ? r.stdout : null;
    },
    [Symbol.asyncDispose]: dispose,
  };
}

/** Replaces what changes from run to run (timestamps, byte counters, connected times). */
export function normalize(text: string): string {
  return text
    .replace(/(timestamp|connected-time): [^\n]*/g, "$1: T")
    .replace(/((?:in|out)-(?:total|current)): \d+/g, "$1: N");
}

/** The status block of one connection, as the original daemon of `dialect` prints it. */
export function statusBlock(
  dialect: "v1" | "document",
  profile: string,
  o: {
    status?: string;
    ovpn?: string;
    auto?: boolean;
    cmd?: string;
    preStatus?: string;
    interval?: string;
    noc?: boolean;
  } = {},
): string {
  const name = profile.split("/").pop()!.replace(/\.ovpn$/, "");
  const status = o.status ?? "DISCONNECTED";
  const lines = [`name: ${name}`];
  if (dialect === "v1") {
    lines.push(`\tconfig-status: ${o.noc ? "" : "No "}NOC configuration exists`);
  }
  lines.push(
    `\tprofile: ${profile}`,
    `\tstatus: ${status}`,
    `\topenvpn-status: ${o.ovpn ?? "DISCONNECTED"}`,
    "\tin-total: N",
    "\tout-total: N",
  );
  if (status === "CONNECTED") {
    lines.push("\tconnected-time: T", "\tin-current: N", "\tout-current: N");
  }
  lines.push(
    "\ttimestamp: T",
    `\tauto-connect: ${o.auto ? "Enabled" : "Disabled"}`,
    `\tpre-exec-cmd: ${o.cmd ?? ""}`,
    `\tpre-exec-status: ${o.preStatus ?? (dialect === "v1" ? "" : "SUCCESSFUL [0]")}`,
  );
  if (dialect === "v1") lines.push(`\tpre-exec-interval: ${o.interval ?? ""}`);
  return lines.join("\n") + "\n";
}

/** A real openvpn server, a private /run, and the agent in it at its production socket paths. */
export interface ClientsWorld extends AsyncDisposable {
  lab: VpnLab;
  ns: PrivateRun;
  env: AgentEnv;
  agent: AgentProcess;
  /** The agent's pid, as the pid files hold it. */
  pid: string;
  /** The path of `<name>.ovpn` in the profile directory. */
  profile(name: string): string;
}

/** Builds a {@linkcode ClientsWorld} with a profile per entry of `profiles` (its server port). */
export async function clientsWorld(
  profiles: Record<string, { port?: number }>,
): Promise<ClientsWorld> {
  const parts: AsyncDisposable[] = [];
  const dispose = async () => {
    for (const part of parts.reverse()) await part[Symbol.asyncDispose]();
  };
  try {
    const lab = await vpnLab();
    parts.push(lab);
    const ns = await privateRun();
    parts.push(ns);
    // null: the production defaults (/var/run/rvd, /var/run/cryptoded.sock, their pid files)
    const defaults = { socket: null, pid_file: null, v1_socket: null, v1_pid_file: null };
    const env = await agentEnv(
      { ...defaults, netns: lab.clientNs, connect_timeout: 5000 },
      { wrap: ns.wrap },
    );
    parts.push(env);
    for (const [name, o] of Object.entries(profiles)) {
      await writeProfile(env.profiles, name, lab.profile(o));
    }
    const agent = await env.start();
    return {
      lab,
      ns,
      env,
      agent,
      pid: String(agent.pid),
      profile: (name) => join(env.profiles, `${name}.ovpn`),
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** Running one real client and checking what it did; `state` reads a connection's status. */
export function clientChecks(
  ns: PrivateRun,
  client: "cryptode" | "rvc",
  state: (run: (...args: string[]) => Promise<ClientRun>, name: string) => Promise<string>,
) {
  const run = (...args: string[]) => ns.client(client, args);
  return {
    run,
    /** Runs the client; checks its exit status and (normalized) stdout and stderr. */
    async expect(args: string[], code: number, stdout?: string, stderr?: string) {
      const r = await run(...args);
      const where = `${client} ${args.join(" ")}: ${JSON.stringify(r)}`;
      assert.equal(r.code, code, where);
      if (stdout !== undefined) assert.equal(normalize(r.stdout), stdout, where);
      if (stderr !== undefined) assert.equal(r.stderr, stderr, where);
      return r;
    },
    /** Waits (asking with the client) until `name` is `want`. */
    until(name: string, want: string) {
      return waitFor(async () => (await state(run, name)) === want, {
        timeoutMs: 25_000,
        stepMs: 200,
        what: `${name} to be ${want}`,
      });
    },
  };
}

/** A Tunnelblick bundle whose .ovpn names its ca/cert/key files, as the clients import it. */
export async function tunnelblickBundle(dir: string, pki: string, profile: string) {
  const bundle = join(dir, "tunnelblick-example2.tblk");
  const res = join(bundle, "Contents", "Resources");
  await Deno.mkdir(res, { recursive: true });
  for (const file of ["ca.crt", "client.crt", "client.key"]) {
    await Deno.copyFile(join(pki, file), join(res, file));
  }
  const body = profile.replace(/<ca>[\s\S]*?<\/ca>\n/, "ca ca.crt\n")
    .replace(/<cert>[\s\S]*?<\/cert>\n/, "cert client.crt\n")
    .replace(/<key>[\s\S]*?<\/key>\n/, "key client.key\n");
  await Deno.writeTextFile(join(res, "tunnelblick-example2.ovpn"), body);
  return bundle;
}

/** What a real-client test works with. */
export interface ClientsContext extends ReturnType<typeof clientChecks> {
  world: ClientsWorld;
  /** The JSON a client printed. */
  // deno-lint-ignore no-explicit-any
  json(r: { stdout: string }): any;
}

const skip = await clientsMissing().catch((error: Error) => error);

/**
 * Registers a test that runs the real `client` in a {@linkcode ClientsWorld} with `profiles`;
 * skipped (with the reason) where the clients cannot run, failed under CI=true.
 */
export function clientsTest(
  name: string,
  client: "cryptode" | "rvc",
  profiles: Record<string, { port?: number }>,
  state: Parameters<typeof clientChecks>[2],
  fn: (t: Deno.TestContext, c: ClientsContext) => Promise<void>,
): void {
  if (typeof skip === "string") console.log(`skipping "${name}": ${skip}`);
  Deno.test({
    name,
    ignore: typeof skip === "string",
    async fn(t) {
      if (skip instanceof Error) throw skip;
      await using world = await clientsWorld(profiles);
      const checks = clientChecks(world.ns, client, state);
      await fn(t, { ...checks, world, json: (r) => JSON.parse(r.stdout) });
    },
  });
}

/**
 * The transcripts' imports, which both clients do the same way (GET_CONFDIR, copy, SIGUSR1): a
 * good `.ovpn`, one of 10240 bytes (IMPORT_TOO_LARGE), and a Tunnelblick bundle. Returns the
 * folder the sources are in.
 */
export async function checkImports(c: ClientsContext, signalled: string): Promise<string> {
  const { env, lab } = c.world;
  const src = join(env.dir, "import");
  await Deno.mkdir(src, { recursive: true });
  const good = join(src, "new1.ovpn");
  await Deno.writeTextFile(good, lab.profile());
  const imported = (path: string) => `Success to import VPN configuration from '${path}'\n`;
  await c.expect(["import", "new-from-ovpn", good], 0, "", imported(good) + signalled);
  await c.until("new1", "DISCONNECTED");
  assert.equal((await Deno.stat(c.world.profile("new1"))).mode! & 0o777, 0o600);
  const big = join(src, "big.ovpn");
  await Deno.writeTextFile(big, "#".repeat(10_240));
  await c.expect(
    ["import", "new-from-ovpn", big],
    10,
    "",
    `Invalid size or too large file '${big}'\n`,
  );
  const tblk = await tunnelblickBundle(src, lab.pki, lab.profile());
  await c.expect(["import", "new-from-tblk", tblk], 0, "", imported(tblk) + signalled);
  await c.until("tunnelblick-example2", "DISCONNECTED");
  return src;
}

/** What both clients print when `remove` (without force) finds the connection live. */
export function stillLive(name: string): string {
  return `The connection '${name}' is in connected or pending progress.\n`;
}

/**
 * `dns-override`: both clients run their own macOS helper script, and without it exit 18 before
 * sending anything (v1.3.1's `dns-override status` is a usage error, 255). Nothing is checked
 * where the helper exists.
 */
export async function checkDnsHelperMissing(c: ClientsContext, client: "cryptode" | "rvc") {
  const helper = `/opt/${client === "rvc" ? "rvc" : "cryptode"}/bin/dns_util.sh`;
  if ((await c.world.ns.run(["test", "-e", helper])).code === 0) return;
  const missing = `No exist ${client} DNS utility '${helper}'\n`;
  await c.expect(["dns-override", "enable", "10.0.0.53,10.0.0.54"], 18, "", missing);
  if (client === "rvc") await c.expect(["dns-override", "status"], 18, "", missing);
  else await c.expect(["dns-override", "status"], 255);
  await c.expect(["dns-override", "disable"], 18, "", missing);
}
