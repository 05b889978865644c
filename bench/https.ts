/**
 * `deno task bench https [--duration S] [--rounds N] [--quick] [--only a,b]`: HTTPS termination
 * (sections: keepalive, full, rsa, resumed, many), polyagent against nginx in one run, every
 * target interleaved with its nginx baseline (the baseline first in even rounds, second in odd
 * ones) against the same 1 KiB file from an nginx backend, TLS 1.3 with the same certificates.
 * Three polyagent designs are measured: the default (`tls_engine = "auto"`) with one
 * certificate (native: Deno.listenTls bound with it, D2) and with several chosen by SNI (node:tls
 * with SNICallback, D3), and `tls_engine = "native"` with several (Deno's internal SNI resolver,
 * D5).
 *
 * - keep-alive: wrk -t2 -c64 https://localhost:PORT/1k.txt — req/s, p99, CPU per request; with
 *   the floor of any Deno data plane on the public API beside it: a bare TLS forwarder
 *   (bench/_bare_forwarder.ts on `Deno.listenTls`, the same socket calls with `conn.read` and
 *   nothing else; the proxy reads with Deno's op directly, lib/backends/http_proxy/direct_read.ts);
 * - full handshakes: hsbench (bench/_hsbench.c, 64 threads, a new TCP connection and a TLS
 *   handshake that never resumes per request), ECDSA P-256 and RSA-2048 — conns/s, CPU per conn;
 * - resumed handshakes: hsbench offering its last session, against nginx with its session cache
 *   and tickets on;
 * - 1,000 certificates on the listener relative to 2 on the same engine (keep-alive, full
 *   handshakes);
 * - failed connections while REPLACE_CERTIFICATE runs every 100 ms under new-connection load;
 * - RSS of each server at the end.
 *
 * Needs wrk, nginx, gcc and libssl-dev (for hsbench), openssl.
 *
 * @module
 */
import { freePort, sh } from "../tests/_helpers/mod.ts";
import {
  buildHsbench,
  certList,
  makeCertificates,
  type Pem,
  pem,
  type PolyServer,
  startCa,
  startNginx,
  startPoly,
} from "./_https_setup.ts";
import type { TestCa } from "../tests/sozu/_certs.ts";
import type { Child } from "./_load.ts";
import { inTurn } from "./_util.ts";
import {
  benchDir,
  cpuSeconds,
  denoRun,
  fmt,
  median,
  requireTools,
  rssMb,
  runOptions,
  spawn,
  waitPort,
  wrk,
} from "./_load.ts";

/** One measurement: a rate (req/s or conns/s), p99 ms, errors, resumed count. */
interface Run {
  rate: number;
  p99: number;
  errors: number;
  resumed: number;
}

interface Server {
  name: string;
  port: number;
  pid: number;
}

type Load = (port: number) => Promise<Run>;

function keepAlive(seconds: number): Load {
  return async (port) => {
    const r = await wrk(`https://localhost:${port}/1k.txt`, 64, seconds);
    return { rate: r.rps, p99: r.p99, errors: r.errors, resumed: 0 };
  };
}

function handshakes(hsbench: string, seconds: number, mode: "new" | "resume"): Load {
  return async (port) => {
    const out = await sh([
      hsbench,
      "127.0.0.1",
      String(port),
      "localhost",
      "/1k.txt",
      "64",
      String(seconds),
      mode,
    ], { check: false });
    const field = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(out.stdout)?.[1]);
    return {
      rate: field("conns") / seconds,
      p99: field("p99_us") / 1000,
      errors: field("errors"),
      resumed: field("resumed") / Math.max(1, field("conns")),
    };
  };
}

interface Pair {
  target: Run;
  base: Run;
  targetCpu: number;
  baseCpu: number;
}

/**
 * Base and target `rounds` times after one short warm-up of each, the base first in even rounds
 * and second in odd ones (so neither always runs on the heels of the other).
 */
async function interleave(
  load: Load,
  warmup: Load,
  target: Server,
  base: Server,
  rounds: number,
): Promise<Pair[]> {
  await warmup(target.port);
  await warmup(base.port);
  const measured = async (server: Server): Promise<[Run, number]> => {
    const c0 = cpuSeconds(server.pid);
    const r = await load(server.port);
    return [r, cpuSeconds(server.pid) - c0];
  };
  const out: Pair[] = [];
  for (let i = 0; i < rounds; i++) {
    const [[b, baseCpu], [t, targetCpu]] = await inTurn(
      i,
      () => measured(base),
      () => measured(target),
    );
    out.push({ target: t, base: b, targetCpu, baseCpu });
  }
  return out;
}

function row(name: string, pairs: Pair[], showResumed: boolean): string {
  const m = (f: (p: Pair) => number) => median(pairs.map(f));
  const cells = [
    name,
    fmt(m((p) => p.target.rate)),
    fmt(m((p) => p.target.p99), 2),
    fmt(m((p) => p.base.rate)),
    fmt(m((p) => p.base.p99), 2),
    fmt(m((p) => p.target.rate / p.base.rate), 2),
    fmt(m((p) => p.target.p99 / p.base.p99), 2),
    fmt(m((p) => (p.targetCpu / p.target.rate) / (p.baseCpu / p.base.rate)), 2),
    String(pairs.reduce((a, p) => a + p.target.errors + p.base.errors, 0)),
  ];
  if (showResumed) {
    cells.push(
      `${fmt(m((p) => p.target.resumed) * 100)} % / ${fmt(m((p) => p.base.resumed) * 100)} %`,
    );
  }
  return `| ${cells.join(" | ")} |`;
}

function header(rate: string, base: string, resumed = false): void {
  const extra = resumed ? " resumed (target / base) |" : "";
  console.log(
    `| target | ${rate} | p99 ms | ${base} ${rate} | ${base} p99 ms | ${rate} ×base | p99 ×base ` +
      `| CPU/${rate === "req/s" ? "req" : "conn"} ×base | errors |${extra}`,
  );
  console.log(`|---|---|---|---|---|---|---|---|---|${resumed ? "---|" : ""}`);
}

/** Sections to run (`--only`); null = all. */
let only: Set<string> | null = null;

async function section(
  key: string,
  title: string,
  rate: string,
  baseName: string,
  rows: [Server, Server][],
  load: Load,
  warmup: Load,
  rounds: number,
  resumed = false,
): Promise<Map<string, Pair[]>> {
  if (only !== null && !only.has(key)) return new Map();
  console.log(`\n## ${title}\n`);
  header(rate, baseName, resumed);
  const out = new Map<string, Pair[]>();
  for (const [target, base] of rows) {
    const pairs = await interleave(load, warmup, target, base, rounds);
    out.set(target.name, pairs);
    console.log(row(target.name, pairs, resumed));
  }
  return out;
}

/** The servers of a run. */
interface Servers {
  polys: PolyServer[];
  /** ECDSA, the default design (auto): one certificate, bound directly (native, D2). */
  one: Server;
  /** ECDSA, auto with a default certificate + localhost: chosen by SNI on node:tls (D3). */
  sni: Server;
  /** ECDSA, tls_engine = "native" with two certificates: Deno's SNI resolver (D5). */
  resolver: Server;
  rsaOne: Server;
  rsaSni: Server;
  rsaResolver: Server;
  /** 1,000 certificates: auto (node) and native resolver. */
  many: Server;
  /** The floor: bench/_bare_forwarder.ts terminating TLS with `ec` on Deno.listenTls. */
  floor: Server;
  manyResolver: Server;
  ecOff: Server;
  ecOn: Server;
  rsaOff: Server;
}

async function startServers(
  dir: string,
  temp: string,
  ca: TestCa,
  children: Child[],
): Promise<Servers> {
  const c = await makeCertificates(ca, dir);
  const ng = await startNginx(dir, temp, c);
  children.push(ng.backend, ng.proxy);
  const polys: PolyServer[] = [];
  const poly = async (name: string, engine: string, list: Pem[]): Promise<Server> => {
    const p = await startPoly(dir, name, engine, ng.ports.backend, list, pem(c.ec2));
    polys.push(p);
    children.push(p.child);
    return { name, port: p.port, pid: p.child.pid };
  };
  const pid = ng.proxy.pid;
  const floorPort = freePort();
  const floor = spawn(
    "floor",
    Deno.execPath(),
    denoRun(
      "_bare_forwarder.ts",
      [String(floorPort), String(ng.ports.backend), c.ec.certFile, c.ec.keyFile],
      "-A",
    ),
  );
  children.push(floor);
  await waitPort(floorPort, "floor");
  return {
    polys,
    floor: {
      name: "floor: bare Deno TLS forwarder (conn.read), 1 certificate",
      port: floorPort,
      pid: floor.pid,
    },
    one: await poly("auto, 1 certificate (native D2)", "auto", certList(null, c.ec)),
    sni: await poly("auto, SNI (node D3)", "auto", certList(c.fallback, c.ec)),
    resolver: await poly("native resolver, SNI (D5)", "native", certList(c.fallback, c.ec)),
    rsaOne: await poly("RSA auto, 1 certificate (native D2)", "auto", certList(null, c.rsa)),
    rsaSni: await poly("RSA auto, SNI (node D3)", "auto", certList(c.fallback, c.rsa)),
    rsaResolver: await poly("RSA native resolver (D5)", "native", certList(c.fallback, c.rsa)),
    many: await poly(
      "auto, 1,000 certificates (node D3)",
      "auto",
      certList(c.fallback, c.ec, c.many),
    ),
    manyResolver: await poly(
      "native resolver, 1,000 certificates (D5)",
      "native",
      certList(c.fallback, c.ec, c.many),
    ),
    ecOff: { name: "nginx", port: ng.ports.ecOff, pid },
    ecOn: { name: "nginx (cache)", port: ng.ports.ecOn, pid },
    rsaOff: { name: "nginx RSA", port: ng.ports.rsaOff, pid },
  };
}

/**
 * Failed connections while the certificate is replaced every 100 ms under new-connection load
 * (hsbench new, 64 threads): a native listener is renewed by each replacement (a new socket on
 * the port, the old one closed); the node one is not.
 */
async function swapSection(s: Servers, hsbench: string, seconds: number): Promise<void> {
  if (only !== null && !only.has("swap")) return;
  console.log("\n## REPLACE_CERTIFICATE every 100 ms under new-connection load\n");
  console.log("| target | replacements | conns/s | failed connections |");
  console.log("|---|---|---|---|");
  for (const target of [s.one, s.sni, s.resolver]) {
    const poly = s.polys.find((p) => p.port === target.port)!;
    const writer = poly.child.child.stdin.getWriter();
    let swaps = 0;
    const timer = setInterval(() => {
      swaps++;
      writer.write(new TextEncoder().encode("swap\n")).catch(() => {});
    }, 100);
    const r = await handshakes(hsbench, seconds, "new")(target.port);
    clearInterval(timer);
    if (swaps % 2 === 1) await writer.write(new TextEncoder().encode("swap\n"));
    writer.releaseLock();
    console.log(`| ${target.name} | ${swaps} | ${fmt(r.rate)} | ${r.errors} |`);
  }
}

async function measure(s: Servers, hsbench: string, seconds: number, rounds: number) {
  const ka = keepAlive(seconds);
  const kaWarm = keepAlive(2);
  const full = handshakes(hsbench, seconds, "new");
  const fullWarm = handshakes(hsbench, 2, "new");
  const res = handshakes(hsbench, seconds, "resume");
  const ec: [Server, Server][] = [[s.one, s.ecOff], [s.sni, s.ecOff], [s.resolver, s.ecOff]];
  const keepAliveRows: [Server, Server][] = [[s.floor, s.ecOff], ...ec];
  const rsa: [Server, Server][] = [
    [s.rsaOne, s.rsaOff],
    [s.rsaSni, s.rsaOff],
    [s.rsaResolver, s.rsaOff],
  ];
  const many: [Server, Server][] = [[s.many, s.sni], [s.manyResolver, s.resolver]];
  const resumedRows: [Server, Server][] = [[s.one, s.ecOn], [s.sni, s.ecOn], [s.resolver, s.ecOn]];
  await section(
    "keepalive",
    "Keep-alive, wrk -t2 -c64 (ECDSA P-256)",
    "req/s",
    "nginx",
    keepAliveRows,
    ka,
    kaWarm,
    rounds,
  );
  await section(
    "full",
    "Full handshakes, ECDSA P-256 (hsbench new, 64 threads)",
    "conns/s",
    "nginx",
    ec,
    full,
    fullWarm,
    rounds,
  );
  await section(
    "rsa",
    "Full handshakes, RSA-2048 (hsbench new, 64 threads)",
    "conns/s",
    "nginx RSA",
    rsa,
    full,
    fullWarm,
    rounds,
  );
  await section(
    "resumed",
    "Resumed handshakes (hsbench resume) vs nginx with session cache and tickets",
    "conns/s",
    "nginx (cache)",
    resumedRows,
    res,
    handshakes(hsbench, 2, "resume"),
    rounds,
    true,
  );
  await section(
    "many",
    "1,000 certificates on the listener vs 2, same engine (keep-alive)",
    "req/s",
    "2 certs",
    many,
    ka,
    kaWarm,
    rounds,
  );
  await section(
    "many",
    "1,000 certificates vs 2, same engine (full handshakes)",
    "conns/s",
    "2 certs",
    many,
    full,
    fullWarm,
    rounds,
  );
  await swapSection(s, hsbench, seconds);
  console.log("\n## RSS at the end (MB)\n");
  console.log("| server | RSS MB |");
  console.log("|---|---|");
  for (const p of s.polys) console.log(`| ${p.name} | ${fmt(rssMb(p.child.pid), 1)} |`);
  console.log(`| nginx (master + worker) | ${fmt(rssMb(s.ecOff.pid), 1)} |`);
}

/** Entry point for `deno task bench https`. */
export async function run(args: string[]): Promise<void> {
  const onlyAt = args.indexOf("--only");
  only = onlyAt >= 0 ? new Set(args[onlyAt + 1]!.split(",")) : null;
  const { seconds, rounds } = runOptions(args);
  await requireTools(["wrk", "nginx", "gcc", "openssl"]);
  const { dir, temp } = benchDir("https");
  const ca = await startCa();
  const children: Child[] = [];
  try {
    const hsbench = await buildHsbench(dir);
    const servers = await startServers(dir, temp, ca, children);
    console.log(
      `https benchmark: ${seconds}s runs, ${rounds} interleaved pairs per row, 1 KiB file, ` +
        `TLS 1.3; load average at start: ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}`,
    );
    await measure(servers, hsbench, seconds, rounds);
  } finally {
    for (const c of children.reverse()) await c.stop();
    await ca[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
