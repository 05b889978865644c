/**
 * What the control plane checks and learns from a certificate before it accepts it: the PEM
 * parses, the key (RSA PKCS#1, PKCS#8, EC SEC1) matches the leaf, every chain certificate
 * parses; the SHA-256 fingerprint of the leaf DER (sozu's `calculate_fingerprint`); the DNS names
 * it covers (subject CN and SAN DNS names); whether it has expired (accepted, with a warning, as
 * sozu does). Pure computation with node:crypto.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { InvalidError } from "../../../core/mod.ts";
import type { CertificateAndKey } from "../order_schemas.ts";
import { normalizeHostname } from "../schemas.ts";

/** What a PEM certificate says about itself. */
export interface CertificateFacts {
  /** Lower-case hex SHA-256 of the DER. */
  fingerprint: string;
  /** Subject CN and SAN DNS names that are host names, lower case. */
  names: string[];
  /** The end of its validity. */
  notAfter: Date;
}

/** A checked certificate with its key. */
export interface CheckedCertificate extends CertificateFacts {
  /** The leaf alone (a `certificate` holding several PEM blocks gives the rest to the chain). */
  certificate: string;
  chain: string[];
  /** Set when the certificate has expired: it is accepted, and the reply says so. */
  warning: string | null;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function parseCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new InvalidError(`invalid certificate: ${what}: could not parse the PEM certificate`, {
      cause: error,
    });
  }
}

function factsOf(cert: X509Certificate): CertificateFacts {
  const fingerprint = cert.fingerprint256.replaceAll(":", "").toLowerCase();
  const names = new Set<string>();
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  const add = (raw: string) => {
    const name = normalizeHostname(raw.trim());
    if (name !== null) names.add(name);
  };
  if (cn) add(cn);
  for (const part of (cert.subjectAltName ?? "").split(",")) {
    const m = /^\s*DNS:(.+)$/.exec(part);
    if (m) add(m[1]!);
  }
  return { fingerprint, names: [...names], notAfter: cert.validToDate };
}

/** Reads a PEM certificate, or throws an {@linkcode InvalidError}. */
export function certificateFacts(pem: string): CertificateFacts {
  return factsOf(parseCertificate(pem, "data.certificate"));
}

/**
 * Checks a certificate, its key and its chain (as an order's `field` carries them); throws an
 * {@linkcode InvalidError} naming what is wrong. `now` is the time expiry is judged against.
 */
export function checkCertificate(
  ck: CertificateAndKey,
  field: string,
  now: Date = new Date(),
): CheckedCertificate {
  const blocks = ck.certificate.match(PEM_BLOCK) ?? [ck.certificate];
  const leafPem = blocks[0]!;
  const leaf = parseCertificate(leafPem, `${field}.certificate`);
  let key: KeyObject;
  try {
    key = createPrivateKey(ck.key);
  } catch (error) {
    throw new InvalidError(
      `invalid certificate: ${field}.key: could not parse the private key ` +
        `(expected PEM: RSA PKCS#1, PKCS#8 or EC)`,
      { cause: error },
    );
  }
  const type = key.asymmetricKeyType ?? "unknown";
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (
    !(type === "rsa" || type === "ed25519" ||
      (type === "ec" && (curve === "prime256v1" || curve === "secp384r1")))
  ) {
    throw new InvalidError(
      `invalid certificate: ${field}.key: a ${type}${curve ? ` ${curve}` : ""} key cannot be ` +
        `served (RSA, ECDSA P-256/P-384 or Ed25519)`,
    );
  }
  let matches = false;
  try {
    matches = leaf.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) {
    throw new InvalidError(
      `invalid certificate: ${field}.key: the private key does not match the certificate`,
    );
  }
  const chain = [...blocks.slice(1), ...ck.certificate_chain];
  chain.forEach((pem, i) => parseCertificate(pem, `${field}.certificate_chain[${i}]`));
  const facts = factsOf(leaf);
  const expired = facts.notAfter.getTime() < now.getTime();
  return {
    ...facts,
    certificate: leafPem,
    chain,
    warning: expired
      ? `warning: certificate ${facts.fingerprint} expired on ${facts.notAfter.toISOString()}; ` +
        `it is served anyway`
      : null,
  };
}
