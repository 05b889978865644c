/**
 * The HTTP data-plane fuzz: routes http.fuzz.test on the agent's proxy listener to a recording
 * backend (orders over the sozu socket), starts nginx in front of a second recording backend,
 * and sends every corpus connection to both, 32 at a time. After each batch: the proxy's
 * violations (failures), the agent's health (the sozu service up, no restart) and figures, and the
 * requests where nginx and the proxy disagree (listed, not failures; all of them are written to
 * `http-disagreements.txt` in the run directory).
 *
 * @module
 */
import { join } from "node:path";
import { SozuClient } from "../../../lib/protocols/sozu/mod.ts";
import { which } from "../../../tests/_helpers/mod.ts";
import type { FuzzAgent } from "../agent.ts";
import { type RecordingBackend, startRecordingBackend } from "./backend.ts";
import { exchange, type ExchangeResult } from "./client.ts";
import { type CorpusConnection, corpusConnection, FUZZ_HOST } from "./corpus.ts";
import { type NginxFront, startNginx } from "./nginx.ts";
import { outcomes, proxyViolations } from "./verdict.ts";

/** Options for {@linkcode fuzzHttp}. */
export interface HttpFuzzOptions {
  seed: number;
  /** Client requests to send (connections carry one to four). */
  requests: number;
  /** First connection index. */
  from: number;
  deadline: number | null;
  nginx: boolean;
  print(line: string): void;
}

/** What the HTTP fuzz showed. */
export interface HttpReport {
  connections: number;
  requests: number;
  seconds: number;
  /** Proxy outcomes by kind (forwarded, refused NNN, no response). */
  outcomes: Record<string, number>;
  failures: string[];
  /** nginx compared: disagreeing requests, grouped by (mutation, proxy, nginx) with counts. */
  disagreements: { key: string; count: number; examples: number[] }[];
  disagreeingRequests: number;
  nginxCompared: boolean;
  /** Forwarded heads nginx's backend found ambiguous (nginx's, for information). */
  nginxBackendViolations: number;
  /** The same, by kind of problem. */
  nginxViolationKinds: Record<string, number>;
  rss: { start: number; max: number; end: number };
}

const LANES = 32;
const BATCH = 256;

/** Routes the fuzz front on the agent's proxy listener to `backend`, over the sozu socket. */
export async function routeProxy(agent: FuzzAgent, backend: string): Promise<void> {
  const client = await SozuClient.connect(agent.endpoints.sozuSocket, 10_000);
  try {
    const address = `127.0.0.1:${agent.endpoints.httpPort}`;
    const orders = [
      { type: "ADD_APPLICATION", data: { app_id: "fzhttp" } },
      { type: "ADD_BACKEND", data: { app_id: "fzhttp", backend_id: "rec", address: backend } },
      {
        type: "ADD_HTTP_FRONT",
        data: { app_id: "fzhttp", address, hostname: FUZZ_HOST, path_begin: "" },
      },
    ];
    for (const data of orders) {
      const r = await client.request({ type: "PROXY", data } as never, { timeoutMs: 10_000 });
      if (r.status !== "OK") throw new Error(`${data.type} refused: ${r.message}`);
    }
  } finally {
    client.close();
  }
}

/** Runs connections through `port`, LANES at a time. */
async function runBatch(port: number, batch: CorpusConnection[]) {
  const results = new Array(batch.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < batch.length; i = next++) results[i] = await exchange(port, batch[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(LANES, batch.length) }, lane));
  return results as Awaited<ReturnType<typeof exchange>>[];
}

function kindOf(label: string): string {
  return label.split(", ").map((l) => l.replace(/ ".*$|\d+/g, "").trim()).sort().join(" + ");
}

interface Fronts {
  proxy: RecordingBackend;
  nginxBackend: RecordingBackend | null;
  nginx: NginxFront | null;
}

async function startFronts(agent: FuzzAgent, o: HttpFuzzOptions): Promise<Fronts> {
  const proxy = startRecordingBackend();
  await routeProxy(agent, proxy.address);
  if (!o.nginx || !which("nginx")) {
    if (o.nginx) o.print("nginx is not installed: the comparison is skipped");
    return { proxy, nginxBackend: null, nginx: null };
  }
  const nginxBackend = startRecordingBackend();
  const nginx = await startNginx(nginxBackend.address, agent.dir);
  return { proxy, nginxBackend, nginx };
}

const digestTail = / [0-9a-f]+:[0-9a-f]+$/;

/** One HTTP fuzz run: its report, the disagreement groups and the full listing. */
class HttpRun {
  readonly report: HttpReport;
  readonly groups = new Map<string, { count: number; examples: number[] }>();
  readonly listing: string[] = [];
  readonly #o: HttpFuzzOptions;
  readonly #fronts: Fronts;

  constructor(o: HttpFuzzOptions, fronts: Fronts, rssMb: number) {
    this.#o = o;
    this.#fronts = fronts;
    this.report = {
      connections: 0,
      requests: 0,
      seconds: 0,
      outcomes: {},
      failures: [],
      disagreements: [],
      disagreeingRequests: 0,
      nginxCompared: fronts.nginx !== null,
      nginxBackendViolations: 0,
      nginxViolationKinds: {},
      rss: { start: rssMb, max: rssMb, end: rssMb },
    };
  }

  /** The next batch of connections, starting at `index`. */
  batch(index: number): CorpusConnection[] {
    const batch: CorpusConnection[] = [];
    let requests = 0;
    while (batch.length < BATCH && this.report.requests + requests < this.#o.requests) {
      const c = corpusConnection(this.#o.seed, index + batch.length);
      if (this.#o.requests === 1) {
        const text = new TextDecoder("latin1").decode(c.bytes).slice(0, 4000);
        this.#o.print(`connection ${c.index} (${c.label}): ${JSON.stringify(text)}`);
      }
      batch.push(c);
      requests += c.requests.length;
    }
    return batch;
  }

  fail(line: string): void {
    if (this.report.failures.length < 50) this.report.failures.push(line);
    this.#o.print(`FAIL http seed=${this.#o.seed} ${line}`);
  }

  /** Judges one connection at the proxy and compares it with nginx. */
  judge(c: CorpusConnection, viaProxy: ExchangeResult, viaNginx: ExchangeResult | null): void {
    const { proxy, nginxBackend } = this.#fronts;
    for (const p of proxyViolations(c, viaProxy, proxy.log).slice(0, 3)) {
      this.fail(
        `connection=${c.index} (${c.label}): ${p}\n  replay: deno task fuzz http --seed ${this.#o.seed} --replay ${c.index}`,
      );
    }
    const mine = outcomes(c, viaProxy, proxy.log);
    for (const out of mine) {
      const kind = out.replace(digestTail, "").replace(/ \?$/, "");
      this.report.outcomes[kind] = (this.report.outcomes[kind] ?? 0) + 1;
    }
    if (viaNginx && nginxBackend) this.#compare(c, mine, outcomes(c, viaNginx, nginxBackend.log));
    this.report.connections++;
    this.report.requests += c.requests.length;
  }

  #compare(c: CorpusConnection, mine: string[], theirs: string[]): void {
    mine.forEach((m, k) => {
      if (m === theirs[k]) return;
      this.report.disagreeingRequests++;
      const q = c.requests[k]!;
      const key = `${kindOf(q.label)} | proxy: ${m.replace(digestTail, "")} | nginx: ${
        theirs[k]!.replace(digestTail, "")
      }`;
      const g = this.groups.get(key) ?? { count: 0, examples: [] };
      g.count++;
      if (g.examples.length < 3) g.examples.push(c.index);
      this.groups.set(key, g);
      this.listing.push(
        `${q.id}\t${q.label}\tconnection: ${c.label}\tproxy: ${m}\tnginx: ${theirs[k]}`,
      );
    });
  }

  /** Forgets what the backends recorded for connections before `index`. */
  sweep(index: number): void {
    const { proxy, nginxBackend } = this.#fronts;
    for (const b of [proxy, nginxBackend]) {
      if (!b) continue;
      if (b === nginxBackend) {
        this.report.nginxBackendViolations += b.log.violations.length;
        for (const v of b.log.violations) {
          const kind = v.problem.replace(/ ".*$/, "");
          this.report.nginxViolationKinds[kind] = (this.report.nginxViolationKinds[kind] ?? 0) + 1;
        }
      }
      b.forgetBelow(index);
      b.log.violations.length = 0;
      b.log.aborted.length = 0;
    }
  }
}

/** Runs the HTTP data-plane fuzz against the agent's proxy (and nginx). */
export async function fuzzHttp(agent: FuzzAgent, o: HttpFuzzOptions): Promise<HttpReport> {
  const t0 = performance.now();
  const fronts = await startFronts(agent, o);
  const run = new HttpRun(o, fronts, (await agent.figures()).rssMb);
  const report = run.report;
  let index = o.from;
  let lastPrint = performance.now();
  try {
    while (report.requests < o.requests && (o.deadline === null || Date.now() < o.deadline)) {
      const batch = run.batch(index);
      index += batch.length;
      const [viaProxy, viaNginx] = await Promise.all([
        runBatch(agent.endpoints.httpPort, batch),
        fronts.nginx ? runBatch(fronts.nginx.port, batch) : Promise.resolve(null),
      ]);
      await new Promise((r) => setTimeout(r, 20));
      batch.forEach((c, i) => run.judge(c, viaProxy[i]!, viaNginx?.[i] ?? null));
      run.sweep(index);
      const health = await agent.health();
      const fig = await agent.figures();
      report.rss.max = Math.max(report.rss.max, fig.rssMb);
      report.rss.end = fig.rssMb;
      if (health) {
        run.fail(`after connection ${index - 1}: ${health}`);
        break;
      }
      if (performance.now() - lastPrint > 10_000) {
        lastPrint = performance.now();
        o.print(
          `  http: ${report.requests} requests, ${report.disagreeingRequests} disagree with nginx, RSS ${
            fig.rssMb.toFixed(0)
          } MB`,
        );
      }
    }
  } finally {
    await fronts.nginx?.[Symbol.asyncDispose]();
    await fronts.nginxBackend?.[Symbol.asyncDispose]();
    await fronts.proxy[Symbol.asyncDispose]();
  }
  report.disagreements = [...run.groups.entries()].map(([key, g]) => ({ key, ...g }))
    .sort((a, b) => b.count - a.count);
  if (run.listing.length > 0) {
    await Deno.writeTextFile(
      join(agent.dir, "http-disagreements.txt"),
      run.listing.join("\n") + "\n",
    );
  }
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}
