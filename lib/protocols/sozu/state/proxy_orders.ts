/** The data-plane orders (lib/backends/http_proxy's model) that match state entries. */
import type {
  CertificateSpec,
  FrontSpec,
  ListenerSpec,
  ProxyOrder,
  TlsVersion,
} from "../../../backends/http_proxy/mod.ts";
import type {
  Application,
  Backend,
  CertificateAndKey,
  HttpFront,
  TcpFront,
} from "../order_schemas.ts";
import { checkCertificate } from "./certificates.ts";
import type { ListenerEntry } from "./tables.ts";

/** The versions both TLS engines can offer, out of a listener's `versions`. */
export function servedVersions(versions: readonly string[]): TlsVersion[] {
  return versions.filter((v): v is TlsVersion => v === "TLSv1.2" || v === "TLSv1.3");
}

/**
 * Checks a certificate (throws a core `InvalidError` naming `field`) and gives the data plane's
 * form of it, with the expiry warning, if any.
 */
export function certificateSpec(
  certificate: CertificateAndKey,
  names: readonly string[],
  field = "data.certificate",
): { spec: CertificateSpec; warning: string | null } {
  const checked = checkCertificate(certificate, field);
  const spec = {
    fingerprint: checked.fingerprint,
    certificate: checked.certificate,
    chain: checked.chain,
    key: certificate.key,
    names: [...names],
  };
  return { spec, warning: checked.warning };
}

/** The listener spec the data plane gets for a listener. */
export function listenerSpec(entry: ListenerEntry): ListenerSpec {
  const spec: ListenerSpec = {
    address: entry.config.front,
    protocol: entry.proxy,
    frontTimeoutMs: entry.config.front_timeout * 1000,
    backTimeoutMs: entry.config.back_timeout * 1000,
    connectTimeoutMs: entry.config.connect_timeout * 1000,
  };
  if (entry.config.public_address) spec.publicAddress = entry.config.public_address;
  if (entry.config.expect_proxy) spec.expectProxy = true;
  if (entry.proxy === "tcp") return spec;
  const c = entry.config;
  spec.stickyName = c.sticky_name;
  spec.requestTimeoutMs = c.request_timeout * 1000;
  if (c.answer_404) spec.answer404 = c.answer_404;
  if (c.answer_503) spec.answer503 = c.answer_503;
  if (entry.proxy === "https") {
    const own = entry.config.certificate && entry.config.key
      ? {
        certificate: entry.config.certificate,
        certificate_chain: entry.config.certificate_chain,
        key: entry.config.key,
      }
      : null;
    spec.tls = {
      versions: servedVersions(entry.config.versions),
      defaultCertificate: own ? certificateSpec(own, [], "data").spec : null,
    };
  }
  return spec;
}

/** The cluster of an application. */
export function clusterOrder(app: Application): ProxyOrder {
  const cluster: ProxyOrder & { op: "add_cluster" } = {
    op: "add_cluster",
    cluster: {
      id: app.app_id,
      stickySession: app.sticky_session,
      httpsRedirect: app.https_redirect,
      loadBalancing: app.load_balancing,
    },
  };
  if (app.load_metric) cluster.cluster.loadMetric = app.load_metric;
  if (app.answer_503) cluster.cluster.answer503 = app.answer_503;
  if (app.proxy_protocol) cluster.cluster.proxyProtocol = app.proxy_protocol;
  return cluster;
}

/** Adds or removes a front (HTTP and HTTPS fronts route alike; v0.14 rule fields carried). */
export function frontOrder(op: "add_front" | "remove_front", f: HttpFront): ProxyOrder {
  const front: FrontSpec = {
    listener: f.address,
    clusterId: f.app_id ?? "",
    hostname: f.hostname,
    pathBegin: f.path_begin,
  };
  if (f.app_id === null) front.deny = true;
  if (f.path_rule !== undefined) front.pathRule = f.path_rule === "EQUALS" ? "equals" : "regex";
  if (f.method !== undefined) front.method = f.method;
  if (f.position !== undefined) front.position = f.position === "PRE" ? "pre" : "post";
  return { op, front };
}

/** Sets or removes the front of a TCP listener. */
export function tcpFrontOrder(op: "add_tcp_front" | "remove_tcp_front", f: TcpFront): ProxyOrder {
  return { op, front: { listener: f.address, clusterId: f.app_id } };
}

/** Adds a backend. */
export function backendOrder(b: Backend): ProxyOrder {
  const backend: ProxyOrder & { op: "add_backend" } = {
    op: "add_backend",
    backend: { clusterId: b.app_id, backendId: b.backend_id, address: b.address },
  };
  if (b.load_balancing_parameters) backend.backend.weight = b.load_balancing_parameters.weight;
  if (b.backup !== null) backend.backend.backup = b.backup;
  if (b.sticky_id !== null) backend.backend.stickyId = b.sticky_id;
  return backend;
}
