/**
 * `deno task bench intervirt [count]`: AddContainer+StartContainer and Connect latency (median,
 * p99) over N containers (default 20) on real LXC through the agent's WebSocket, next to the
 * same raw `lxc-*` / `nft` commands run directly in the same run, and the time to wipe them.
 * Needs root, lxc and nft; everything it makes carries the `pivb` prefix and is removed.
 *
 * @module
 */
import { type AgentProcess, agentSection, spawnAgent } from "../tests/_helpers/mod.ts";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../lib/core/mod.ts";
import { IntervirtClient } from "../lib/protocols/intervirt/mod.ts";
import { inTurn } from "./_util.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const dec = new TextDecoder();

async function sh(argv: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  if (out.code !== 0) throw new Error(`${argv.join(" ")}: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

async function quiet(argv: string[]): Promise<void> {
  await new Deno.Command(argv[0]!, { args: argv.slice(1), stdout: "null", stderr: "null" })
    .output();
}

function stats(values: number[]): { median: number; p99: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  return { median: at(0.5), p99: at(0.99) };
}

async function buildImage(dir: string): Promise<string> {
  const root = join(dir, "rootfs");
  for (const d of ["bin", "sbin", "usr/bin", "etc", "proc", "sys", "dev", "tmp", "var/www"]) {
    await Deno.mkdir(join(root, d), { recursive: true });
  }
  await Deno.copyFile("/bin/busybox", join(root, "usr/bin/busybox"));
  await Deno.chmod(join(root, "usr/bin/busybox"), 0o755);
  await sh(["/bin/busybox", "--install", "-s", join(root, "bin")]);
  await sh(["ln", "-sf", "/usr/bin/busybox", join(root, "sbin/init")]);
  await Deno.writeTextFile(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  await Deno.writeTextFile(join(root, "etc/inittab"), "::respawn:/bin/sleep 100000\n");
  const images = join(dir, "state", "images");
  await Deno.mkdir(images, { recursive: true });
  const tarball = join(images, "busybox.tar.gz");
  await sh(["tar", "-C", root, "-czf", tarball, "."]);
  return tarball;
}

const ip4 = (i: number) => `10.93.8.${10 + i}`;
const ip6 = (i: number) => `fd93:8::${(10 + i).toString(16)}`;
const mac = (i: number) => `02:00:0a:5d:08:${(10 + i).toString(16).padStart(2, "0")}`;
const rawMac = (i: number) => `02:00:0a:5d:09:${(10 + i).toString(16).padStart(2, "0")}`;

/** The same work done with raw lxc-* and nft commands, on its own bridge and table. */
class RawLxc {
  readonly path: string;
  readonly bridge = "pivbraw0";
  readonly table = "polyagent_pivbraw";
  readonly #tarball: string;

  constructor(dir: string, tarball: string) {
    this.path = join(dir, "rawlxc");
    this.#tarball = tarball;
  }

  async setup(): Promise<void> {
    await Deno.mkdir(this.path, { recursive: true });
    await this.cleanup(0);
    await sh(["ip", "link", "add", this.bridge, "type", "bridge"]);
    await sh(["ip", "addr", "add", "10.93.9.1/24", "dev", this.bridge]);
    await sh(["ip", "link", "set", this.bridge, "up"]);
    await sh(
      ["nft", "-f", "-"],
      [
        `table inet ${this.table} {`,
        "  chain lan {",
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        `    iifname "${this.bridge}" oifname "${this.bridge}" jump lan`,
        "  }",
        "}",
        "",
      ].join("\n"),
    );
  }

  async add(i: number): Promise<void> {
    const name = `pivb-raw${i}`;
    const net = join(this.path, `${name}.net`);
    await Deno.writeTextFile(
      net,
      [
        "lxc.net.0.type = veth",
        `lxc.net.0.link = ${this.bridge}`,
        "lxc.net.0.flags = up",
        "lxc.net.0.name = eth0",
        `lxc.net.0.hwaddr = ${rawMac(i)}`,
        `lxc.net.0.veth.pair = pivbr${i}`,
        `lxc.net.0.ipv4.address = 10.93.9.${10 + i}/24 10.93.9.255`,
        `lxc.net.0.ipv6.address = fd93:9::${(10 + i).toString(16)}/64`,
        "",
      ].join("\n"),
    );
    await sh(["lxc-create", "-P", this.path, "-n", name, "-t", "none", "-f", net]);
    const rootfs = join(this.path, name, "rootfs");
    await Deno.mkdir(rootfs, { recursive: true });
    await sh(["tar", "--numeric-owner", "-xpf", this.#tarball, "-C", rootfs]);
    await Deno.writeTextFile(
      join(this.path, name, "config"),
      `lxc.include = /usr/share/lxc/config/common.conf\nlxc.rootfs.path = dir:${rootfs}\nlxc.uts.name = ${name}\nlxc.mount.auto = proc:mixed sys:ro cgroup:mixed\nlxc.apparmor.profile = unconfined\n`,
      { append: true },
    );
    await sh(["lxc-start", "-P", this.path, "-n", name]);
  }

  async connect(a: number, b: number): Promise<void> {
    const v4 = (i: number) => `10.93.9.${10 + i}`;
    const v6 = (i: number) => `fd93:9::${(10 + i).toString(16)}`;
    const t = this.table;
    await sh(
      ["nft", "-f", "-"],
      [
        `add rule inet ${t} lan ip saddr ${v4(a)} ip daddr ${v4(b)} accept`,
        `add rule inet ${t} lan ip saddr ${v4(b)} ip daddr ${v4(a)} accept`,
        `add rule inet ${t} lan ip6 saddr ${v6(a)} ip6 daddr ${v6(b)} accept`,
        `add rule inet ${t} lan ip6 saddr ${v6(b)} ip6 daddr ${v6(a)} accept`,
        "",
      ].join("\n"),
    );
  }

  async wipe(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await sh(["lxc-stop", "-P", this.path, "-n", `pivb-raw${i}`, "-k"]);
      await sh(["lxc-destroy", "-P", this.path, "-n", `pivb-raw${i}`, "-f"]);
    }
    await sh(["nft", "delete", "table", "inet", this.table]);
    await sh(["ip", "link", "del", this.bridge]);
  }

  async cleanup(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await quiet(["lxc-stop", "-P", this.path, "-n", `pivb-raw${i}`, "-k"]);
      await quiet(["lxc-destroy", "-P", this.path, "-n", `pivb-raw${i}`, "-f"]);
    }
    await quiet(["nft", "delete", "table", "inet", this.table]);
    await quiet(["ip", "link", "del", this.bridge]);
  }
}

/** A spawned agent and a WebSocket client to it. */
async function startAgent(
  dir: string,
): Promise<{ agent: AgentProcess; client: IntervirtClient }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const config = join(dir, "agent.toml");
  await Deno.writeTextFile(
    config,
    `${agentSection(dir, { log_level: "warn" })}
[admin]
enabled = false

[intervirt]
enabled = true
listen = "127.0.0.1:${port}"
lxc_path = "${dir}/lxc"
name_prefix = "pivb-"
veth_prefix = "pivb"
bridge = "pivbbr0"
bridge_ipv4 = "10.93.8.1/24"
bridge_ipv6 = "fd93:8::1/64"
nft_table = "polyagent_pivb"
stop_grace_seconds = 0
`,
  );
  const agent = spawnAgent({ args: ["serve", "--config", config] });
  await agent.waitForLine(/^intervirt /, 30_000);
  const client = await IntervirtClient.connect(`ws://127.0.0.1:${port}/containerManagement`);
  return { agent, client };
}

async function stopAgent(dir: string, agent: AgentProcess | null): Promise<void> {
  await agent?.stop("SIGTERM");
  const ls = await new Deno.Command("lxc-ls", { args: ["-P", `${dir}/lxc`, "-1"], stdout: "piped" })
    .output();
  for (const name of dec.decode(ls.stdout).split("\n").filter((n) => n.startsWith("pivb-"))) {
    await quiet(["lxc-stop", "-P", `${dir}/lxc`, "-n", name, "-k"]);
    await quiet(["lxc-destroy", "-P", `${dir}/lxc`, "-n", name, "-f"]);
  }
  await quiet(["nft", "delete", "table", "inet", "polyagent_pivb"]);
  await quiet(["ip", "link", "del", "pivbbr0"]);
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** Runs the benchmark. */
export async function run(args: string[]): Promise<void> {
  const count = Number(args[0] ?? 20);
  if (!Number.isInteger(count) || count < 2) throw new Error("usage: bench intervirt [count>=2]");
  const base = join(ROOT, "var", "bench");
  await Deno.mkdir(base, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: base, prefix: "pivb-" });
  const raw = new RawLxc(dir, join(dir, "state", "images", "busybox.tar.gz"));
  let running: AgentProcess | null = null;
  try {
    await buildImage(dir);
    await raw.setup();
    const agent = await startAgent(dir);
    running = agent.agent;
    const call = async (body: Record<string, unknown>) => {
      const f = await agent.client.call(body, { timeoutMs: 60_000 });
      if (f.code) throw new Error(`${JSON.stringify(body)} -> ${JSON.stringify(f)}`);
    };
    // Interleaved (alternating which goes first) so machine noise hits both sides alike.
    const a = { add: [] as number[], connect: [] as number[], wipe: 0 };
    const r = { add: [] as number[], connect: [] as number[], wipe: 0 };
    // Context only: the raw Connect plus one durable (atomic, fsynced) state write, which the
    // agent does for every acknowledged change.
    const durable: number[] = [];
    const stateFile = join(dir, "raw-state.json");
    for (let i = 0; i < count; i++) {
      const agentAdd = () =>
        timed(async () => {
          await call({
            type: "AddContainer",
            id: `c${i}`,
            ipv4: ip4(i),
            ipv6: ip6(i),
            mac: mac(i),
            internet: false,
            image: "busybox",
          });
          await call({ type: "StartContainer", id: `c${i}` });
        });
      const [viaAgent, plain] = await inTurn(i, agentAdd, () => timed(() => raw.add(i)));
      a.add.push(viaAgent);
      r.add.push(plain);
    }
    // Pairs at distance 1, 2 and 3 (57 distinct pairs for 20 containers), so the p99 is not
    // just the slowest of 19 samples.
    const pairs: [number, number][] = [];
    for (let d = 1; d <= 3; d++) for (let i = 0; i + d < count; i++) pairs.push([i, i + d]);
    for (const [n, [i, j]] of pairs.entries()) {
      const agentConnect = () => timed(() => call({ type: "Connect", id1: `c${i}`, id2: `c${j}` }));
      const [viaAgent, plain] = await inTurn(n, agentConnect, () => timed(() => raw.connect(i, j)));
      a.connect.push(viaAgent);
      r.connect.push(plain);
    }
    for (const [n, [i, j]] of pairs.entries()) {
      durable.push(
        await timed(() =>
          Promise.all([
            raw.connect(i, j),
            writeFileAtomic(stateFile, JSON.stringify({ n, pairs: n + 1 })),
          ]).then(() => {})
        ),
      );
    }
    r.wipe = await timed(() => raw.wipe(count));
    a.wipe = await timed(() => call({ type: "Command", command: "wipe" }));
    await agent.client.close();

    const fmt = (n: number) => n.toFixed(1).padStart(8);
    const row = (what: string, x: number[], y: number[]) => {
      const sa = stats(x), sr = stats(y);
      console.log(
        `${what.padEnd(28)} agent median ${fmt(sa.median)} ms p99 ${fmt(sa.p99)} ms | raw median ${
          fmt(sr.median)
        } ms p99 ${fmt(sr.p99)} ms | ratio median ${(sa.median / sr.median).toFixed(2)}x p99 ${
          (sa.p99 / sr.p99).toFixed(2)
        }x`,
      );
    };
    console.log(`intervirt on LXC, ${count} containers (busybox rootfs, local image)`);
    row("AddContainer+StartContainer", a.add, r.add);
    row("Connect", a.connect, r.connect);
    row("Connect vs raw+state fsync", a.connect, durable);
    console.log(
      `${"wipe".padEnd(28)} agent ${fmt(a.wipe)} ms | raw lxc-stop -k + lxc-destroy + nft + ip ${
        fmt(r.wipe)
      } ms | ratio ${(a.wipe / r.wipe).toFixed(2)}x`,
    );
  } finally {
    await stopAgent(dir, running);
    await raw.cleanup(count);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
