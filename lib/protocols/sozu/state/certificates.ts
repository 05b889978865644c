/**
 * Certificate facts the control plane needs without serving TLS: the SHA-256 fingerprint of the
 * leaf DER (sozu's `calculate_fingerprint`) and the DNS names it covers.
 */
import { X509Certificate } from "node:crypto";
import { InvalidError } from "../../../core/mod.ts";

/** What a PEM certificate says about itself. */
export interface CertificateFacts {
  /** Lower-case hex SHA-256 of the DER. */
  fingerprint: string;
  /** Subject CN and SAN DNS names, lower case. */
  names: string[];
}

/** Reads a PEM certificate, or throws an {@linkcode InvalidError}. */
export function certificateFacts(pem: string): CertificateFacts {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (error) {
    throw new InvalidError("invalid certificate: could not parse the PEM certificate", {
      cause: error,
    });
  }
  const fingerprint = cert.fingerprint256.replaceAll(":", "").toLowerCase();
  const names = new Set<string>();
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  if (cn) names.add(cn.trim().toLowerCase());
  for (const part of (cert.subjectAltName ?? "").split(",")) {
    const m = /^\s*DNS:(.+)$/.exec(part);
    if (m) names.add(m[1]!.trim().toLowerCase());
  }
  return { fingerprint, names: [...names] };
}
