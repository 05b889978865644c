/**
 * Shared set-up for the cryptoded tests: an agent config in a temp dir, a client, and a real
 * OpenVPN server in a `pcvs<N>` namespace joined by veth to a `pcvc<N>` client namespace, with a
 * PKI made by openssl. Everything is torn down by `await using`.
 */
import { join } from "node:path";
import { type AgentProcess, agentSection, sh, spawnAgent, tempDir } from "../_helpers/mod.ts";
import { request } from "../../lib/protocols/cryptoded/mod.ts";

/** Sends one request with json:true and returns `{code, data}`. */
export async function ask(socket: string, cmd: number, param?: unknown) {
  const r = await request(socket, cmd, param ?? null, 20_000);
  return { code: r.code, data: r.data as unknown };
}

/** Writes a profile with root ownership and mode 0600 (or the given mode). */
export async function writeProfile(
  dir: string,
  name: string,
  content: string,
  settings?: Record<string, unknown>,
  mode = 0o600,
): Promise<void> {
  await Deno.writeTextFile(join(dir, `${name}.ovpn`), content, { mode });
  await Deno.chmod(join(dir, `${name}.ovpn`), mode);
  if (settings) {
    await Deno.writeTextFile(join(dir, `${name}.json`), JSON.stringify(settings), { mode: 0o600 });
    await Deno.chmod(join(dir, `${name}.json`), 0o600);
  }
}

/** A temp dir with an agent config for cryptoded. */
export interface AgentEnv extends AsyncDisposable {
  dir: string;
  /** The document dialect's socket. */
  socket: string;
  /** The v1.x dialect's socket. */
  v1Socket: string;
  /** The pid files (document, v1.x). */
  pidFile: string;
  v1PidFile: string;
  profiles: string;
  resolvConf: string;
  configFile: string;
  agent: AgentProcess | null;
  start(): Promise<AgentProcess>;
  kill9(): Promise<void>;
}

/**
 * Makes the dirs and config; `extra` lines go into the [cryptoded] section (null: leave the key at
 * its default). Both sockets and pid files are in the temp dir (or `socketDir`) unless `extra`
 * names them; `wrap` runs the agent under a command (such as `nsenter`).
 */
export async function agentEnv(
  extra: Record<string, string | number | boolean | null> = {},
  options: { socketDir?: string; wrap?: string[]; logLevel?: string } = {},
): Promise<AgentEnv> {
  const tmp = await tempDir("cv");
  const dir = tmp.path;
  const profiles = join(dir, "vpn.d");
  await Deno.mkdir(profiles, { mode: 0o700 });
  const sockets = options.socketDir ?? dir;
  const resolvConf = join(dir, "resolv.conf");
  const section: Record<string, string | number | boolean | null> = {
    enabled: true,
    socket: join(sockets, "rvd.sock"),
    v1_socket: join(sockets, "cryptoded.sock"),
    pid_file: join(dir, "rvd.pid"),
    v1_pid_file: join(dir, "cryptoded", "cryptoded.pid"),
    profile_dir: profiles,
    resolv_conf: resolvConf,
    dns_method: "file",
    connect_timeout: 20_000,
    stop_timeout: 3000,
    ...extra,
  };
  const toml = [
    agentSection(dir, { log_level: options.logLevel ?? "info" }).trimEnd(),
    "[admin]",
    "enabled = false",
    "[cryptoded]",
    ...Object.entries(section).filter(([, v]) => v !== null).map(([k, v]) =>
      `${k} = ${JSON.stringify(v)}`
    ),
  ].join("\n") + "\n";
  const configFile = join(dir, "agent.toml");
  await Deno.writeTextFile(configFile, toml);
  const env: AgentEnv = {
    dir,
    socket: String(section.socket ?? "/var/run/rvd"),
    v1Socket: String(section.v1_socket ?? "/var/run/cryptoded.sock"),
    pidFile: String(section.pid_file ?? "/var/run/rvd.pid"),
    v1PidFile: String(section.v1_pid_file ?? "/var/run/cryptoded/cryptoded.pid"),
    profiles,
    resolvConf,
    configFile,
    agent: null,
    async start() {
      const agent = spawnAgent({
        args: ["serve", "--config", configFile],
        ...(options.wrap ? { wrap: options.wrap } : {}),
      });
      env.agent = agent;
      // the v1.x socket opens last
      await agent.waitForLine(
        section.v1_socket !== "" ? /^cryptoded .*\(v1 dialect\)$/ : /^cryptoded /,
        30_000,
      );
      return agent;
    },
    async kill9() {
      if (env.agent) {
        await env.agent.stop("SIGKILL");
        env.agent = null;
      }
    },
    async [Symbol.asyncDispose]() {
      if (env.agent) await env.agent.stop("SIGTERM").catch(() => {});
      // every openvpn this env's agent launched (pid files in its run dir)
      const runDir = join(dir, "run", "cryptoded-tunnels");
      try {
        for await (const e of Deno.readDir(runDir)) {
          if (!e.name.endsWith(".pid")) continue;
          const pid = Number((await Deno.readTextFile(join(runDir, e.name))).trim());
          if (pid > 1) {
            try {
              Deno.kill(pid, "SIGKILL");
            } catch {
              // gone
            }
          }
        }
      } catch {
        // no run dir
      }
      await tmp[Symbol.asyncDispose]();
    },
  };
  return env;
}

let counter = 0;

/** A real OpenVPN server in its own namespace and a client namespace to run clients in. */
export interface VpnLab extends AsyncDisposable {
  /** Client namespace (configure `cryptoded.netns` with it). */
  clientNs: string;
  serverNs: string;
  /** Server's tunnel address (ping it through the tunnel). */
  serverTunIp: string;
  /** A client profile (inline PKI) that connects to the server. */
  profile(options?: { port?: number }): string;
  /** The folder with the PKI files: ca.crt, client.crt, client.key, tc.key. */
  pki: string;
}

async function pki(dir: string): Promise<Record<string, string>> {
  const o = (args: string[]) => sh(["openssl", ...args]);
  await o([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.crt`,
    "-days",
    "30",
    "-subj",
    "/CN=pcv-ca",
  ]);
  await Deno.writeTextFile(
    `${dir}/srv.ext`,
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=serverAuth\n",
  );
  await Deno.writeTextFile(
    `${dir}/cli.ext`,
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyAgreement\nextendedKeyUsage=clientAuth\n",
  );
  for (const [n, ext] of [["server", "srv.ext"], ["client", "cli.ext"]] as const) {
    await o([
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      `${dir}/${n}.key`,
      "-out",
      `${dir}/${n}.csr`,
      "-subj",
      `/CN=${n}`,
    ]);
    await o([
      "x509",
      "-req",
      "-in",
      `${dir}/${n}.csr`,
      "-CA",
      `${dir}/ca.crt`,
      "-CAkey",
      `${dir}/ca.key`,
      "-CAcreateserial",
      "-out",
      `${dir}/${n}.crt`,
      "-days",
      "30",
      "-extfile",
      `${dir}/${ext}`,
    ]);
  }
  await sh(["openvpn", "--genkey", "tls-crypt", `${dir}/tc.key`]);
  const out: Record<string, string> = {};
  for (const f of ["ca.crt", "client.crt", "client.key", "tc.key"]) {
    out[f] = (await Deno.readTextFile(`${dir}/${f}`)).trim();
  }
  return out;
}

/** Builds the lab; the index keeps addresses apart when several labs run at once. */
export async function vpnLab(): Promise<VpnLab> {
  const n = (Deno.pid % 50) * 4 + (counter++ % 4) + 1;
  const serverNs = `pcvs${n}`;
  const clientNs = `pcvc${n}`;
  const tmp = await tempDir("pcvlab");
  const dir = tmp.path;
  let server: Deno.ChildProcess | null = null;
  const cleanup = async () => {
    if (server) {
      try {
        server.kill("SIGKILL");
      } catch {
        // gone
      }
      await server.status.catch(() => {});
    }
    await sh(["ip", "netns", "del", serverNs], { check: false });
    await sh(["ip", "netns", "del", clientNs], { check: false });
    await tmp[Symbol.asyncDispose]();
  };
  try {
    await sh(["ip", "netns", "del", serverNs], { check: false });
    await sh(["ip", "netns", "del", clientNs], { check: false });
    await sh(["ip", "netns", "add", serverNs]);
    await sh(["ip", "netns", "add", clientNs]);
    await sh([
      "ip",
      "link",
      "add",
      `pcv${n}a`,
      "netns",
      serverNs,
      "type",
      "veth",
      "peer",
      "name",
      `pcv${n}b`,
      "netns",
      clientNs,
    ]);
    const a = n % 250;
    await sh(["ip", "-n", serverNs, "addr", "add", `10.77.${a}.1/30`, "dev", `pcv${n}a`]);
    await sh(["ip", "-n", clientNs, "addr", "add", `10.77.${a}.2/30`, "dev", `pcv${n}b`]);
    for (const ns of [serverNs, clientNs]) await sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    await sh(["ip", "-n", serverNs, "link", "set", `pcv${n}a`, "up"]);
    await sh(["ip", "-n", clientNs, "link", "set", `pcv${n}b`, "up"]);
    const keys = await pki(dir);
    await Deno.writeTextFile(
      `${dir}/server.conf`,
      [
        "dev tun",
        "proto udp",
        `local 10.77.${a}.1`,
        "port 1194",
        `server 10.78.${a}.0 255.255.255.0`,
        "topology subnet",
        `ca ${dir}/ca.crt`,
        `cert ${dir}/server.crt`,
        `key ${dir}/server.key`,
        "dh none",
        `tls-crypt ${dir}/tc.key`,
        "keepalive 2 10",
        "duplicate-cn",
        "verb 3",
      ].join("\n") + "\n",
    );
    server = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        serverNs,
        "openvpn",
        "--config",
        `${dir}/server.conf`,
        "--log",
        `${dir}/server.log`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    return {
      clientNs,
      serverNs,
      serverTunIp: `10.78.${a}.1`,
      pki: dir,
      profile(options = {}) {
        return [
          "client",
          "dev tun",
          "proto udp",
          `remote 10.77.${a}.1 ${options.port ?? 1194}`,
          "nobind",
          "remote-cert-tls server",
          "verb 3",
          `<ca>\n${keys["ca.crt"]}\n</ca>`,
          `<cert>\n${keys["client.crt"]}\n</cert>`,
          `<key>\n${keys["client.key"]}\n</key>`,
          `<tls-crypt>\n${keys["tc.key"]}\n</tls-crypt>`,
        ].join("\n") + "\n";
      },
      [Symbol.asyncDispose]: cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
