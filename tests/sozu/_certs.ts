/**
 * Test certificates made with the openssl command (test setup only): self-signed ones, and a
 * private CA issuing ECDSA P-256 or RSA-2048 leaves with chosen names, key formats and validity.
 */
import { join } from "node:path";
import { sh, tempDir } from "../_helpers/mod.ts";

/** A PEM certificate, its key and its SHA-256 fingerprint. */
export interface TestCertificate {
  certificate: string;
  key: string;
  fingerprint: string;
}

/** A certificate issued by a {@linkcode TestCa}, with its files. */
export interface IssuedCertificate extends TestCertificate {
  certFile: string;
  keyFile: string;
  /** The CA certificate (for `certificate_chain`). */
  chain: string[];
}

/** What to issue. */
export interface IssueOptions {
  /** Subject CN. */
  cn: string;
  /** DNS names for subjectAltName (default: the CN). Empty list: no SAN. */
  dns?: string[];
  /** Key type. @default {"ec"} */
  kind?: "ec" | "rsa";
  /** PEM form of the key: PKCS#8, or the traditional one (PKCS#1 RSA / SEC1 EC). */
  keyFormat?: "pkcs8" | "traditional";
  /** Validity in the past (expired). */
  expired?: boolean;
}

/** A private CA in a temporary directory. */
export interface TestCa extends AsyncDisposable {
  /** The CA certificate PEM (clients trust it). */
  caCertificate: string;
  /** Its file, for `curl --cacert`. */
  caFile: string;
  issue(options: IssueOptions): Promise<IssuedCertificate>;
}

const caConfig = (dir: string) =>
  `[ca]
default_ca = d
[d]
database = ${dir}/index.txt
serial = ${dir}/serial
new_certs_dir = ${dir}
default_md = sha256
policy = p
copy_extensions = copy
unique_subject = no
[p]
commonName = supplied
`;

async function fingerprintOf(certFile: string): Promise<string> {
  const out = await sh(["openssl", "x509", "-in", certFile, "-noout", "-fingerprint", "-sha256"]);
  return out.stdout.trim().split("=")[1]!.replaceAll(":", "").toLowerCase();
}

async function newKey(file: string, kind: "ec" | "rsa", format: "pkcs8" | "traditional") {
  const algo = kind === "ec"
    ? ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    : ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
  await sh(["openssl", "genpkey", ...algo, "-out", file]);
  if (format === "traditional") {
    // SEC1 ("EC PRIVATE KEY") is `openssl ec`'s default output; RSA needs -traditional (PKCS#1).
    const args = kind === "ec" ? ["ec"] : ["rsa", "-traditional"];
    await sh(["openssl", ...args, "-in", file, "-out", file]);
  }
}

/** Starts a private CA (ECDSA P-256, valid 2 days). */
export async function startCa(): Promise<TestCa> {
  const dir = await tempDir("test-ca");
  const at = (name: string) => join(dir.path, name);
  await Deno.writeTextFile(at("ca.cnf"), caConfig(dir.path));
  await Deno.writeTextFile(at("index.txt"), "");
  await Deno.writeTextFile(at("serial"), "1000\n");
  await newKey(at("ca.key"), "ec", "pkcs8");
  await sh([
    "openssl",
    "req",
    "-x509",
    "-key",
    at("ca.key"),
    "-subj",
    "/CN=polyagent test CA",
    "-days",
    "2",
    "-out",
    at("ca.crt"),
  ]);
  const caCertificate = await Deno.readTextFile(at("ca.crt"));
  let n = 0;
  return {
    caCertificate,
    caFile: at("ca.crt"),
    async issue(o: IssueOptions): Promise<IssuedCertificate> {
      const id = `leaf${++n}`;
      const keyFile = at(`${id}.key`);
      const certFile = at(`${id}.crt`);
      await newKey(keyFile, o.kind ?? "ec", o.keyFormat ?? "pkcs8");
      const dns = o.dns ?? [o.cn];
      const san = dns.length > 0
        ? ["-addext", `subjectAltName=${dns.map((d) => `DNS:${d}`).join(",")}`]
        : [];
      await sh([
        "openssl",
        "req",
        "-new",
        "-key",
        keyFile,
        "-subj",
        `/CN=${o.cn}`,
        ...san,
        "-out",
        at(`${id}.csr`),
      ]);
      const dates = o.expired
        ? ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"]
        : ["-days", "2"];
      await sh([
        "openssl",
        "ca",
        "-batch",
        "-notext",
        "-config",
        at("ca.cnf"),
        "-cert",
        at("ca.crt"),
        "-keyfile",
        at("ca.key"),
        "-in",
        at(`${id}.csr`),
        ...dates,
        "-out",
        certFile,
      ]);
      return {
        certificate: await Deno.readTextFile(certFile),
        key: await Deno.readTextFile(keyFile),
        fingerprint: await fingerprintOf(certFile),
        certFile,
        keyFile,
        chain: [caCertificate],
      };
    },
    [Symbol.asyncDispose]: () => dir[Symbol.asyncDispose](),
  };
}

/** Writes to `out` a self-signed certificate for `name` (CN and SAN) with the key in `keyFile`. */
export async function selfSigned(keyFile: string, name: string, out: string): Promise<void> {
  await sh([
    "openssl",
    "req",
    "-x509",
    "-key",
    keyFile,
    "-subj",
    `/CN=${name}`,
    "-addext",
    `subjectAltName=DNS:${name}`,
    "-days",
    "2",
    "-out",
    out,
  ]);
}

/** Makes a self-signed EC certificate for `name`. */
export async function makeCertificate(name: string): Promise<TestCertificate> {
  await using dir = await tempDir("cert");
  const key = join(dir.path, "key.pem");
  const cert = join(dir.path, "cert.pem");
  await newKey(key, "ec", "pkcs8");
  await selfSigned(key, name, cert);
  return {
    certificate: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
    fingerprint: await fingerprintOf(cert),
  };
}
