/**
 * The configuration state of the sozu control plane, the domain model behind the command socket:
 * `orders.ts` turns order payloads into canonical orders, `planner.ts` checks each against the
 * tables (`tables.ts`, storage and indexes) and returns a plan to commit, `views.ts` shows the
 * state (DUMP_STATE, the automatic document, SAVE_STATE's orders, a worker's orders),
 * `config_state.ts` puts them together as {@linkcode ConfigState}, and `saved_state.ts` reads and
 * writes sozu's record stream. Refusals are core's neutral errors; nothing here touches the system.
 *
 * @module
 */
export { ConfigState, type ConfigStateOptions } from "./config_state.ts";
export { certificateFacts } from "./certificates.ts";
export { frontText } from "./frontends.ts";
export { type ListenerDefaults, orderPayload, parseStateOrder, type StateOrder } from "./orders.ts";
export type { Plan } from "./planner.ts";
export {
  decodeRecords,
  encodeRecords,
  ordersFromDocument,
  ordersFromDump,
  type StateRecord,
} from "./saved_state.ts";
export type { ConfigStateJson, StateDocument } from "./views.ts";
