/**
 * Setup of `deno task bench https`: certificates (ECDSA P-256 and RSA-2048 for "localhost",
 * which resolves to 127.0.0.1 without touching /etc/hosts, a default one, and 999 more names for
 * the 1,000-certificate listener), the hsbench client compiled from bench/_hsbench.c, the nginx
 * backend and the nginx TLS proxy (1 worker, ssl_protocols TLSv1.2 TLSv1.3, upstream keep-alive;
 * three ports: ECDSA without session cache, ECDSA with cache and tickets, RSA without cache), and
 * the polyagent servers (bench/_https_server.ts), each a separate Deno process.
 *
 * @module
 */
import { join } from "node:path";
import { freePort, sh } from "../tests/_helpers/mod.ts";
import { type IssuedCertificate, selfSigned, startCa, type TestCa } from "../tests/sozu/_certs.ts";
import { type Child, denoRun, ROOT, spawn, waitPort } from "./_load.ts";

/** Certificates of the run. */
export interface BenchCertificates {
  ec: IssuedCertificate;
  /** A second ECDSA certificate for localhost (what "swap" replaces `ec` with). */
  ec2: IssuedCertificate;
  rsa: IssuedCertificate;
  fallback: IssuedCertificate;
  /** 999 self-signed certificates for host<i>.test (one shared key). */
  many: { certificate: string; key: string; names: string[] }[];
}

/** Makes the certificates (the 999 extra ones two at a time). */
export async function makeCertificates(ca: TestCa, dir: string): Promise<BenchCertificates> {
  const ec = await ca.issue({ cn: "localhost" });
  const ec2 = await ca.issue({ cn: "localhost" });
  const rsa = await ca.issue({ cn: "localhost", kind: "rsa" });
  const fallback = await ca.issue({ cn: "default.test" });
  const many: BenchCertificates["many"] = [];
  for (let i = 0; i < 999; i += 2) {
    const batch = [i, i + 1].filter((k) => k < 999).map(async (k) => {
      const out = join(dir, `many${k}.crt`);
      const name = `host${k}.test`;
      await selfSigned(ec.keyFile, name, out);
      return { certificate: await Deno.readTextFile(out), key: ec.key, names: [name] };
    });
    many.push(...await Promise.all(batch));
  }
  return { ec, ec2, rsa, fallback, many };
}

/** Compiles hsbench; returns its path. */
export async function buildHsbench(dir: string): Promise<string> {
  const out = join(dir, "hsbench");
  await sh([
    "gcc",
    "-O2",
    "-o",
    out,
    join(ROOT, "bench", "_hsbench.c"),
    "-lssl",
    "-lcrypto",
    "-lpthread",
  ]);
  return out;
}

/** Ports of the nginx servers. */
export interface NginxPorts {
  backend: number;
  ecOff: number;
  ecOn: number;
  rsaOff: number;
}

function tlsServer(
  port: number,
  cert: IssuedCertificate,
  fallback: IssuedCertificate,
  cache: boolean,
): string {
  const session = cache
    ? "ssl_session_cache shared:SSL:10m; ssl_session_tickets on;"
    : "ssl_session_cache off; ssl_session_tickets off;";
  const proxy =
    `location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }`;
  return `
  server { listen 127.0.0.1:${port} ssl default_server; ${session}
    ssl_certificate ${fallback.certFile}; ssl_certificate_key ${fallback.keyFile}; ${proxy} }
  server { listen 127.0.0.1:${port} ssl; server_name localhost; ${session}
    ssl_certificate ${cert.certFile}; ssl_certificate_key ${cert.keyFile}; ${proxy} }`;
}

/** Writes the nginx configs and starts the backend and the TLS proxy. */
export async function startNginx(
  dir: string,
  temp: string,
  certs: BenchCertificates,
): Promise<{ ports: NginxPorts; backend: Child; proxy: Child }> {
  const ports: NginxPorts = {
    backend: freePort(),
    ecOff: freePort(),
    ecOn: freePort(),
    rsaOff: freePort(),
  };
  Deno.writeTextFileSync(
    join(dir, "backend.conf"),
    `worker_processes 1; pid ${dir}/be.pid; error_log ${dir}/be.err;
events { worker_connections 4096; }
http { access_log off; sendfile on; keepalive_requests 1000000; ${temp}
  server { listen 127.0.0.1:${ports.backend}; root ${dir}; } }
`,
  );
  Deno.writeTextFileSync(
    join(dir, "tls.conf"),
    `worker_processes 1; pid ${dir}/tls.pid; error_log ${dir}/tls.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; ssl_protocols TLSv1.2 TLSv1.3; ${temp}
  upstream be { server 127.0.0.1:${ports.backend}; keepalive 128; }
${tlsServer(ports.ecOff, certs.ec, certs.fallback, false)}
${tlsServer(ports.ecOn, certs.ec, certs.fallback, true)}
${tlsServer(ports.rsaOff, certs.rsa, certs.fallback, false)}
}
`,
  );
  const args = (conf: string) => [
    "-c",
    join(dir, conf),
    "-e",
    join(dir, "nginx.err"),
    "-g",
    "daemon off;",
  ];
  const backend = spawn("backend", "nginx", args("backend.conf"));
  const proxy = spawn("nginx", "nginx", args("tls.conf"));
  for (const port of Object.values(ports)) await waitPort(port, "nginx");
  return { ports, backend, proxy };
}

/** A polyagent HTTPS server process. */
export interface PolyServer {
  name: string;
  port: number;
  child: Child;
}

/** A certificate as bench/_https_server.ts reads it. */
export type Pem = { certificate: string; key: string; names: string[] };

/**
 * Starts bench/_https_server.ts with these certificates (the first is the default); "swap" on its
 * stdin replaces the last one with `alternate`.
 */
export async function startPoly(
  dir: string,
  name: string,
  engine: string,
  backendPort: number,
  certificates: Pem[],
  alternate?: Pem,
): Promise<PolyServer> {
  const port = freePort();
  const file = join(dir, `${name.replaceAll(/[^a-z0-9]+/gi, "-")}.json`);
  await Deno.writeTextFile(file, JSON.stringify({ certificates, alternate }));
  const child = spawn(
    name,
    Deno.execPath(),
    denoRun("_https_server.ts", [`127.0.0.1:${port}`, `127.0.0.1:${backendPort}`, engine, file]),
    "piped",
  );
  await waitPort(port, name);
  return { name, port, child };
}

/** A certificate for localhost. */
export function pem(c: IssuedCertificate, names = ["localhost"]): Pem {
  return { certificate: c.certificate, key: c.key, names };
}

/**
 * The certificates of a polyagent server: the default one (when given), `extra`, then `main`
 * for localhost.
 */
export function certList(
  fallback: IssuedCertificate | null,
  main: IssuedCertificate,
  extra: BenchCertificates["many"] = [],
): Pem[] {
  return [...(fallback ? [pem(fallback, ["default.test"])] : []), ...extra, pem(main)];
}

export { startCa };
