/**
 * `ctl sozu import`: a sozu 0.13 configuration file (TOML, already parsed; 0.14's `[clusters]`
 * too) turned into the orders that build the same proxy — listeners (activated unless
 * `activate_listeners = false`), applications, certificates of HTTPS frontends (named by the
 * frontend's hostname), fronts and backends — plus notes on every key that is not applied: the
 * process-level settings (polyagent's own `[sozu]` section has those) and unknown keys. Pure: the
 * certificate files are read through the `read` callback the command-line client gives.
 */
import { parse as parseToml } from "smol-toml";
import { z } from "zod";
import { InvalidError } from "../../core/mod.ts";
import { describeIssues, identifier, socketAddress } from "./schemas.ts";

/** One order to send, with what to print for it. */
export interface ImportOrder {
  label: string;
  order: { type: string; data: unknown };
}

/** What an import sends and what it leaves out. */
export interface ImportPlan {
  orders: ImportOrder[];
  /** Keys not applied, one line each (`unknown key …`, `not applied: …`). */
  notes: string[];
}

const tlsVersions = z.array(z.string()).optional();
const seconds = z.number().int().min(1).max(86_400).optional();

const listenerSchema = z.object({
  address: socketAddress,
  protocol: z.enum(["http", "https", "tcp"]),
  public_address: socketAddress.optional(),
  answer_404: z.string().optional(),
  answer_503: z.string().optional(),
  cipher_list: z.string().optional(),
  rustls_cipher_list: z.array(z.string()).optional(),
  tls_versions: tlsVersions,
  expect_proxy: z.boolean().optional(),
  sticky_name: z.string().optional(),
  certificate: z.string().optional(),
  certificate_chain: z.string().optional(),
  key: z.string().optional(),
  front_timeout: seconds,
  back_timeout: seconds,
  connect_timeout: seconds,
  request_timeout: seconds,
});

const frontendSchema = z.object({
  address: socketAddress,
  hostname: z.string().optional(),
  path_begin: z.string().optional(),
  certificate: z.string().optional(),
  key: z.string().optional(),
  certificate_chain: z.string().optional(),
  tls_versions: tlsVersions,
});

const backendSchema = z.object({
  address: socketAddress,
  weight: z.number().int().min(0).max(255).optional(),
  sticky_id: z.string().optional(),
  backup: z.boolean().optional(),
  backend_id: identifier.optional(),
});

const appSchema = z.object({
  protocol: z.enum(["http", "tcp"]),
  frontends: z.array(z.unknown()).default([]),
  backends: z.array(z.unknown()).default([]),
  sticky_session: z.boolean().optional(),
  https_redirect: z.boolean().optional(),
  send_proxy: z.boolean().optional(),
  load_balancing: z.string().optional(),
  load_metric: z.string().optional(),
  answer_503: z.string().optional(),
});

/** sozu's process-level settings: reported, not applied (polyagent's `[sozu]` section has its own). */
const PROCESS_KEYS = new Set([
  "saved_state",
  "automatic_state_save",
  "log_level",
  "log_target",
  "log_access_target",
  "command_socket",
  "command_buffer_size",
  "max_command_buffer_size",
  "worker_count",
  "worker_automatic_restart",
  "handle_process_affinity",
  "max_connections",
  "max_buffers",
  "min_buffers",
  "buffer_size",
  "tls_provider",
  "ctl_command_timeout",
  "pid_file_path",
  "front_timeout",
  "back_timeout",
  "connect_timeout",
  "zombie_check_interval",
  "accept_queue_timeout",
  "metrics",
]);

function object(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidError(`${where}: expected a table`);
  }
  return value as Record<string, unknown>;
}

/** Parses `value` with `schema`, noting the keys it does not know. */
function parseTable<T extends z.ZodRawShape>(
  schema: z.ZodObject<T>,
  value: unknown,
  where: string,
  notes: string[],
): z.output<z.ZodObject<T>> {
  const table = object(value, where);
  for (const key of Object.keys(table)) {
    if (!(key in schema.shape)) notes.push(`unknown key ${where}.${key} (not applied)`);
  }
  const parsed = schema.safeParse(table);
  if (!parsed.success) throw new InvalidError(`${where}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The PEM certificates of a chain file. */
function pemList(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
}

type Read = (path: string) => string;

function listenerOrders(l: z.output<typeof listenerSchema>, read: Read, notes: string[]) {
  const where = `listener ${l.address}`;
  const data: Record<string, unknown> = { address: l.address };
  for (
    const key of [
      "public_address",
      "answer_404",
      "answer_503",
      "expect_proxy",
      "sticky_name",
      "front_timeout",
      "back_timeout",
      "connect_timeout",
      "request_timeout",
    ] as const
  ) {
    if (l[key] !== undefined) data[key] = l[key];
  }
  if (l.protocol === "https") {
    if (l.tls_versions) data.versions = l.tls_versions;
    if (l.cipher_list !== undefined) data.cipher_list = l.cipher_list;
    if (l.rustls_cipher_list) data.rustls_cipher_list = l.rustls_cipher_list;
    if (l.certificate !== undefined) data.certificate = read(l.certificate);
    if (l.key !== undefined) data.key = read(l.key);
    if (l.certificate_chain !== undefined) {
      data.certificate_chain = pemList(read(l.certificate_chain));
    }
  } else if (l.tls_versions || l.certificate || l.key || l.cipher_list) {
    notes.push(`${where}: TLS keys of a ${l.protocol} listener are not applied`);
  }
  const type = `ADD_${l.protocol.toUpperCase()}_LISTENER`;
  return { label: `${type} ${l.address}`, order: { type, data } };
}

/**
 * Declares a listener a frontend names that no `[[listeners]]` entry has, as sozu does: HTTPS when
 * the frontend has a certificate, HTTP otherwise, TCP for a TCP application (default timeouts).
 */
type ImplicitListener = (address: string, protocol: "http" | "https" | "tcp") => string;

function appOrders(
  where: string,
  id: string,
  value: unknown,
  listeners: Map<string, string>,
  read: Read,
  implicit: ImplicitListener,
) {
  const notes: string[] = [];
  const a = parseTable(appSchema, value, where, notes);
  const app: Record<string, unknown> = { app_id: id };
  if (a.sticky_session !== undefined) app.sticky_session = a.sticky_session;
  if (a.https_redirect !== undefined) app.https_redirect = a.https_redirect;
  if (a.send_proxy) app.proxy_protocol = "SEND_HEADER";
  if (a.load_balancing !== undefined) app.load_balancing = a.load_balancing;
  if (a.load_metric !== undefined) app.load_metric = a.load_metric;
  if (a.answer_503 !== undefined) app.answer_503 = a.answer_503;
  const orders: ImportOrder[] = [
    { label: `ADD_APPLICATION ${id}`, order: { type: "ADD_APPLICATION", data: app } },
  ];
  a.frontends.forEach((raw, i) => {
    const f = parseTable(frontendSchema, raw, `${where}.frontends[${i}]`, notes);
    const listener = listeners.get(f.address) ??
      implicit(
        f.address,
        a.protocol === "tcp" ? "tcp" : f.certificate !== undefined ? "https" : "http",
      );
    orders.push(...frontOrders(id, a.protocol, f, listener, read));
  });
  a.backends.forEach((raw, i) => {
    const b = parseTable(backendSchema, raw, `${where}.backends[${i}]`, notes);
    const data: Record<string, unknown> = {
      app_id: id,
      backend_id: b.backend_id ?? `${id}-${i}-${b.address}`,
      address: b.address,
    };
    if (b.weight !== undefined) data.load_balancing_parameters = { weight: b.weight };
    if (b.sticky_id !== undefined) data.sticky_id = b.sticky_id;
    if (b.backup !== undefined) data.backup = b.backup;
    orders.push({
      label: `ADD_BACKEND ${id} ${data.backend_id} ${b.address}`,
      order: { type: "ADD_BACKEND", data },
    });
  });
  return { orders, notes };
}

function frontOrders(
  id: string,
  protocol: "http" | "tcp",
  f: z.output<typeof frontendSchema>,
  listener: string | undefined,
  read: Read,
): ImportOrder[] {
  if (protocol === "tcp") {
    return [{
      label: `ADD_TCP_FRONT ${id} ${f.address}`,
      order: { type: "ADD_TCP_FRONT", data: { app_id: id, address: f.address } },
    }];
  }
  const hostname = f.hostname ?? "";
  const front = { app_id: id, address: f.address, hostname, path_begin: f.path_begin ?? "" };
  const https = listener === "https" || f.certificate !== undefined;
  const out: ImportOrder[] = [];
  if (https && f.certificate !== undefined && f.key !== undefined) {
    const certificate: Record<string, unknown> = {
      certificate: read(f.certificate),
      certificate_chain: f.certificate_chain ? pemList(read(f.certificate_chain)) : [],
      key: read(f.key),
    };
    if (f.tls_versions?.length) certificate.versions = f.tls_versions;
    out.push({
      label: `ADD_CERTIFICATE ${f.address} ${hostname} (${f.certificate})`,
      order: {
        type: "ADD_CERTIFICATE",
        data: { front: f.address, certificate, names: hostname ? [hostname] : [] },
      },
    });
  }
  const type = https ? "ADD_HTTPS_FRONT" : "ADD_HTTP_FRONT";
  out.push({
    label: `${type} ${id} ${hostname}${front.path_begin} on ${f.address}`,
    order: { type, data: front },
  });
  return out;
}

/**
 * The orders of a parsed sozu configuration file, in dependency order. `read` gives the text of
 * a certificate, key or chain file named in it. Throws an `InvalidError` naming the first entry
 * that cannot be converted.
 */
export function importOrders(doc: unknown, read: Read): ImportPlan {
  const top = object(doc, "configuration");
  const notes: string[] = [];
  const orders: ImportOrder[] = [];
  const listeners = new Map<string, string>();
  const activations: ImportOrder[] = [];
  const activate = top.activate_listeners !== false;
  const rawListeners = top.listeners ?? [];
  if (!Array.isArray(rawListeners)) throw new InvalidError("listeners: expected [[listeners]]");
  const declare = (l: z.output<typeof listenerSchema>) => {
    listeners.set(l.address, l.protocol);
    orders.push(listenerOrders(l, read, notes));
    if (activate) {
      activations.push({
        label: `ACTIVATE_LISTENER ${l.address}`,
        order: {
          type: "ACTIVATE_LISTENER",
          data: { front: l.address, proxy: l.protocol, from_scm: false },
        },
      });
    }
  };
  rawListeners.forEach((raw, i) =>
    declare(parseTable(listenerSchema, raw, `listeners[${i}]`, notes))
  );
  const implicit: ImplicitListener = (address, protocol) => {
    notes.push(
      `listener ${address} (${protocol}) created for a frontend that names it, as sozu does`,
    );
    declare(parseTable(listenerSchema, { address, protocol }, `listener ${address}`, notes));
    return protocol;
  };
  for (const section of ["applications", "clusters"] as const) {
    if (top[section] === undefined) continue;
    for (const [id, value] of Object.entries(object(top[section], section))) {
      if (!identifier.safeParse(id).success) throw new InvalidError(`${section}.${id}: bad id`);
      const app = appOrders(`${section}.${id}`, id, value, listeners, read, implicit);
      orders.push(...app.orders);
      notes.push(...app.notes);
    }
  }
  orders.push(...activations);
  for (const key of Object.keys(top)) {
    if (["listeners", "applications", "clusters", "activate_listeners"].includes(key)) continue;
    notes.push(
      PROCESS_KEYS.has(key)
        ? `not applied: ${key} (a process setting: see polyagent's [sozu] section)`
        : `unknown key ${key} (not applied)`,
    );
  }
  return { orders: sortForReplay(orders), notes };
}

/** {@linkcode importOrders} of a TOML text (`file` names it in a parse error). */
export function importToml(text: string, file: string, read: Read): ImportPlan {
  let doc: unknown;
  try {
    doc = parseToml(text);
  } catch (error) {
    throw new InvalidError(`${file}: ${(error as Error).message}`);
  }
  return importOrders(doc, read);
}

/** Listeners, activations, applications, certificates, fronts, backends (stable within each). */
function sortForReplay(orders: ImportOrder[]): ImportOrder[] {
  const rank = (type: string) =>
    type.endsWith("_LISTENER")
      ? (type === "ACTIVATE_LISTENER" ? 1 : 0)
      : type === "ADD_APPLICATION"
      ? 2
      : type === "ADD_CERTIFICATE"
      ? 3
      : type === "ADD_BACKEND"
      ? 5
      : 4;
  return orders.map((o, i) => ({ o, i })).sort((a, b) =>
    rank(a.o.order.type) - rank(b.o.order.type) || a.i - b.i
  ).map(({ o }) => o);
}

/** How {@linkcode applyImport} sends and prints. */
export interface ImportIo {
  /** Print the orders instead of sending them. */
  dryRun: boolean;
  print(line: string): void;
  /** Sends an order; resolves with the OK reply's message, throws on ERROR or no reply. */
  send(order: { type: string; data: unknown }): Promise<string>;
  /** The message of a refusal `send` threw, or null for an error that must propagate. */
  failure(error: unknown): string | null;
}

/** Prints the notes, then sends every order (each tried), one line each; the failure count. */
export async function applyImport(plan: ImportPlan, io: ImportIo): Promise<number> {
  for (const note of plan.notes) io.print(`note: ${note}`);
  let failed = 0;
  for (const { label, order } of plan.orders) {
    if (io.dryRun) {
      io.print(JSON.stringify(order));
      continue;
    }
    try {
      const message = await io.send(order);
      io.print(`OK\t${label}${message ? ` (${message})` : ""}`);
    } catch (error) {
      const text = io.failure(error);
      if (text === null) throw error;
      failed++;
      io.print(`ERROR\t${label}: ${text.replace(/^error: /, "")}`);
    }
  }
  if (!io.dryRun) {
    io.print(`${plan.orders.length - failed} of ${plan.orders.length} orders applied`);
  }
  return failed;
}
