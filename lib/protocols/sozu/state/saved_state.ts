/**
 * sozu's saved-state format: a stream of records, each a full request
 * `{"id":"SAVE-<n>","version":0,"type":"PROXY","data":<order>}` followed by `"\n\0"`, in an order
 * that replays safely (listeners, applications, HTTP fronts, certificates, HTTPS fronts, backends).
 * Also the conversion of a DUMP_STATE document back into orders (automatic state save).
 */
import { InvalidError } from "../../../core/mod.ts";
import { decodeRequest } from "../schemas.ts";
import { wireFront } from "./frontends.ts";
import { type ListenerDefaults, orderPayload, parseStateOrder, type StateOrder } from "./orders.ts";
import type { ConfigStateJson, StateDocument } from "./views.ts";

/** Renders orders as a saved-state file. */
export function encodeRecords(orders: readonly StateOrder[]): string {
  let out = "";
  orders.forEach((order, n) => {
    out += JSON.stringify({
      id: `SAVE-${n}`,
      version: 0,
      type: "PROXY",
      data: orderPayload(order),
    });
    out += "\n\0";
  });
  return out;
}

/** One record of a saved-state file, not yet checked against the state. */
export interface StateRecord {
  index: number;
  order: string;
  payload: unknown;
}

/**
 * Splits a saved-state file into records. Throws an {@linkcode InvalidError} naming the first record
 * that is not a valid request, so a damaged file is refused before anything is applied.
 */
export function decodeRecords(text: string): StateRecord[] {
  const out: StateRecord[] = [];
  let index = 0;
  for (const piece of text.split("\0")) {
    const trimmed = piece.trim();
    if (trimmed === "") continue;
    index++;
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch {
      throw new InvalidError(`record ${index} is not valid JSON`);
    }
    let request;
    try {
      request = decodeRequest(value);
    } catch (error) {
      throw new InvalidError(`record ${index}: ${(error as Error).message}`);
    }
    if (request.type !== "PROXY" || request.order === null) continue;
    out.push({ index, order: request.order, payload: request.payload });
  }
  return out;
}

/** The orders that rebuild a DUMP_STATE document (throws when it is malformed). */
export function ordersFromDump(data: unknown, defaults: ListenerDefaults): StateOrder[] {
  if (typeof data !== "object" || data === null) throw new TypeError("state is not an object");
  const s = data as Partial<ConfigStateJson>;
  const orders: StateOrder[] = [];
  const add = (type: string, payload: unknown) =>
    orders.push(parseStateOrder(type, payload, defaults));
  for (const [listener, active] of Object.values(s.http_listeners ?? {})) {
    add("ADD_HTTP_LISTENER", listener);
    if (active) add("ACTIVATE_LISTENER", { front: listener.front, proxy: "http" });
  }
  for (const [listener, active] of Object.values(s.https_listeners ?? {})) {
    add("ADD_HTTPS_LISTENER", listener);
    if (active) add("ACTIVATE_LISTENER", { front: listener.front, proxy: "https" });
  }
  for (const [listener, active] of Object.values(s.tcp_listeners ?? {})) {
    add("ADD_TCP_LISTENER", listener);
    if (active) add("ACTIVATE_LISTENER", { front: listener.front, proxy: "tcp" });
  }
  for (const app of Object.values(s.applications ?? {})) add("ADD_APPLICATION", app);
  for (const list of Object.values(s.http_fronts ?? {})) {
    for (const f of list) add("ADD_HTTP_FRONT", f);
  }
  for (const [front, map] of Object.entries(s.certificates ?? {})) {
    for (const [certificate, names] of Object.values(map)) {
      add("ADD_CERTIFICATE", { front, certificate, names });
    }
  }
  for (const list of Object.values(s.https_fronts ?? {})) {
    for (const f of list) add("ADD_HTTPS_FRONT", f);
  }
  for (const list of Object.values(s.tcp_fronts ?? {})) {
    for (const f of list) add("ADD_TCP_FRONT", f);
  }
  for (const list of Object.values(s.backends ?? {})) for (const b of list) add("ADD_BACKEND", b);
  return orders;
}

/** The orders that rebuild an automatic state document (version 2; throws when malformed). */
export function ordersFromDocument(data: unknown, defaults: ListenerDefaults): StateOrder[] {
  if (typeof data !== "object" || data === null) throw new TypeError("state is not an object");
  const d = data as StateDocument;
  const orders: StateOrder[] = [];
  const add = (type: string, payload: unknown) =>
    orders.push(parseStateOrder(type, payload, defaults));
  const listenerOrder = {
    http: "ADD_HTTP_LISTENER",
    https: "ADD_HTTPS_LISTENER",
    tcp: "ADD_TCP_LISTENER",
  };
  for (const proxy of ["http", "https", "tcp"] as const) {
    for (const [kind, listener, active] of d.listeners) {
      if (kind !== proxy) continue;
      add(listenerOrder[proxy], listener);
      if (active) add("ACTIVATE_LISTENER", { front: listener.front, proxy });
    }
  }
  for (const app of d.applications) add("ADD_APPLICATION", app);
  const front = (f: StateDocument["fronts"][number]) =>
    wireFront({ app_id: f[1], address: f[2], hostname: f[3], path_begin: f[4], ...f[5] });
  for (const f of d.fronts) if (f[0] === "http") add("ADD_HTTP_FRONT", front(f));
  for (const [address, certificate, names] of d.certificates) {
    add("ADD_CERTIFICATE", { front: address, certificate, names });
  }
  for (const f of d.fronts) if (f[0] === "https") add("ADD_HTTPS_FRONT", front(f));
  for (const [app_id, address] of d.tcp_fronts ?? []) add("ADD_TCP_FRONT", { app_id, address });
  for (const [app_id, backend_id, address, sticky_id, weight, backup] of d.backends) {
    add("ADD_BACKEND", {
      app_id,
      backend_id,
      address,
      sticky_id,
      load_balancing_parameters: weight === null ? null : { weight },
      backup,
    });
  }
  return orders;
}
