/**
 * Planning of the TCP front orders: a TCP listener has one front (as in sozu), which names an
 * existing application; checked against the tables without changing them, like `planner.ts`.
 */
import { ConflictError, NotFoundError } from "../../../core/mod.ts";
import type { TcpFront } from "../order_schemas.ts";
import { listenerOf, NOTHING, type Plan } from "./planner.ts";
import { tcpFrontOrder } from "./proxy_orders.ts";
import type { ConfigTables } from "./tables.ts";

/** ADD_TCP_FRONT: on a TCP listener without a front, to an existing application. */
export function planAddTcpFront(t: ConfigTables, front: TcpFront): Plan {
  const order = "ADD_TCP_FRONT";
  listenerOf(t, { front: front.address, proxy: "tcp" }, order);
  if (!t.apps.has(front.app_id)) {
    throw new NotFoundError(`${order}: application "${front.app_id}" does not exist`);
  }
  const existing = t.tcpFronts.get(front.address);
  if (existing) {
    if (existing.app_id === front.app_id) return NOTHING;
    throw new ConflictError(
      `${order}: TCP listener ${front.address} already forwards to application "${existing.app_id}": remove that front first`,
    );
  }
  return {
    changed: true,
    message: "",
    proxy: [tcpFrontOrder("add_tcp_front", front)],
    commit: () => t.addTcpFront(front),
  };
}

/** REMOVE_TCP_FRONT. */
export function planRemoveTcpFront(t: ConfigTables, front: TcpFront): Plan {
  const existing = t.tcpFronts.get(front.address);
  if (!existing || existing.app_id !== front.app_id) {
    throw new NotFoundError(
      `REMOVE_TCP_FRONT: no TCP front for application "${front.app_id}" on ${front.address}`,
    );
  }
  return {
    changed: true,
    message: "",
    proxy: [tcpFrontOrder("remove_tcp_front", existing)],
    commit: () => t.deleteTcpFront(existing),
  };
}
