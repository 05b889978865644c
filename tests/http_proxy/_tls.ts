/**
 * TLS clients for the HTTPS tests: openssl s_client (which certificate a name gets), curl (with
 * hostname verification against the test CA), and raw bytes over `Deno.startTls` (keep-alive,
 * pipelining, upgrades), all to 127.0.0.1 with the server name of the test's choice.
 */
import type { CertificateSpec } from "../../lib/backends/http_proxy/mod.ts";
import { sh } from "../_helpers/mod.ts";
import type { IssuedCertificate } from "../sozu/_certs.ts";
import { bytesOf, latin1 } from "./_helpers.ts";

/** The data plane's form of an issued certificate. */
export function specOf(c: IssuedCertificate, names: string[]): CertificateSpec {
  return { fingerprint: c.fingerprint, certificate: c.certificate, chain: [], key: c.key, names };
}

/**
 * What openssl s_client saw: the subject CN served (null: no handshake) and its output. `stdin`
 * is sent once connected.
 */
export async function servedCertificate(
  port: number,
  name: string | null,
  extra: string[] = [],
  stdin = "",
): Promise<{ cn: string | null; code: number; text: string }> {
  const out = await sh([
    "timeout",
    "10",
    "openssl",
    "s_client",
    "-connect",
    `127.0.0.1:${port}`,
    ...(name === null ? ["-noservername"] : ["-servername", name]),
    ...extra,
  ], { check: false, stdin });
  const cn = /subject=.*CN\s*=\s*([^\s,/]+)/.exec(out.stdout)?.[1] ?? null;
  return { cn, code: out.code, text: out.stdout + out.stderr };
}

/** curl https://name:port/path against 127.0.0.1, verifying against `caFile`. */
export async function curlTls(
  port: number,
  name: string,
  path: string,
  caFile: string,
  extra: string[] = [],
): Promise<{ code: number; status: number; body: string; stderr: string }> {
  const out = await sh([
    "curl",
    "-sS",
    "--max-time",
    "10",
    "--cacert",
    caFile,
    "--resolve",
    `${name}:${port}:127.0.0.1`,
    "-w",
    "\n%{http_code}",
    ...extra,
    `https://${name}:${port}${path}`,
  ], { check: false });
  const cut = out.stdout.lastIndexOf("\n");
  return {
    code: out.code,
    status: Number(out.stdout.slice(cut + 1)),
    body: out.stdout.slice(0, cut),
    stderr: out.stderr,
  };
}

/** A TLS connection to 127.0.0.1:port with SNI `name`, trusting `caCert`. */
export async function tlsConnect(
  port: number,
  name: string,
  caCert: string,
): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  return await Deno.startTls(tcp, { hostname: name, caCerts: [caCert] });
}

/** Reads from `conn` until `until` matches what was read, the end, or `timeoutMs`. */
export async function readUntil(
  conn: Deno.Conn,
  until: (text: string) => boolean,
  timeoutMs = 5000,
): Promise<string> {
  let text = "";
  const buf = new Uint8Array(65536);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // closed
    }
  }, timeoutMs);
  try {
    while (!until(text)) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += latin1(buf.subarray(0, n));
    }
  } catch {
    // closed (by the timer or the peer)
  } finally {
    clearTimeout(timer);
  }
  return text;
}

/** Writes latin-1 text. */
export async function send(conn: Deno.Conn, text: string): Promise<void> {
  const bytes = bytesOf(text);
  let off = 0;
  while (off < bytes.byteLength) off += await conn.write(bytes.subarray(off));
}

/** A complete response with a Content-Length body, `count` times, is in `text`. */
export function responses(count: number): (text: string) => boolean {
  return (text) => {
    let seen = 0;
    let at = 0;
    while (true) {
      const head = text.indexOf("\r\n\r\n", at);
      if (head < 0) return false;
      const len = Number(/content-length: *(\d+)/i.exec(text.slice(at, head))?.[1] ?? 0);
      if (text.length < head + 4 + len) return false;
      at = head + 4 + len;
      if (++seen >= count) return true;
    }
  };
}

/**
 * `count` clients that each open a connection, make one request and close it, again and again
 * until `stop()`, which resolves with the requests served and the failures seen.
 */
export function newConnectionLoad(
  count: number,
  connect: () => Promise<Deno.Conn>,
  request: (conn: Deno.Conn) => Promise<boolean>,
): { stop(): Promise<{ served: number; failures: string[] }> } {
  let running = true;
  let served = 0;
  const failures: string[] = [];
  const client = async () => {
    while (running) {
      try {
        const conn = await connect();
        try {
          if (await request(conn)) served++;
          else failures.push("a request on a new connection failed");
        } finally {
          conn.close();
        }
      } catch (error) {
        failures.push(`new connection: ${error}`);
      }
    }
  };
  const clients = Array.from({ length: count }, client);
  return {
    async stop() {
      running = false;
      await Promise.all(clients);
      return { served, failures };
    },
  };
}

/** One GET of `path` for `host` on an open connection; the response read (head and body). */
export async function getOn(conn: Deno.Conn, host: string, path = "/"): Promise<string> {
  await send(conn, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  return await readUntil(conn, responses(1));
}
