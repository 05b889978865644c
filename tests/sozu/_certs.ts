/** Self-signed test certificates made with the openssl command (test setup only). */
import { join } from "node:path";
import { sh, tempDir } from "../_helpers/mod.ts";

/** A PEM certificate, its key and its SHA-256 fingerprint. */
export interface TestCertificate {
  certificate: string;
  key: string;
  fingerprint: string;
}

/** Makes a self-signed EC certificate for `name`. */
export async function makeCertificate(name: string): Promise<TestCertificate> {
  await using dir = await tempDir("cert");
  const key = join(dir.path, "key.pem");
  const cert = join(dir.path, "cert.pem");
  await sh([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    `/CN=${name}`,
    "-addext",
    `subjectAltName=DNS:${name}`,
    "-days",
    "2",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  const der = await sh([
    "openssl",
    "x509",
    "-in",
    cert,
    "-outform",
    "DER",
    "-noout",
    "-fingerprint",
    "-sha256",
  ]);
  const fingerprint = der.stdout.trim().split("=")[1]!.replaceAll(":", "").toLowerCase();
  return {
    certificate: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
    fingerprint,
  };
}
