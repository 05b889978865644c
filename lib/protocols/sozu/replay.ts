/**
 * LOAD_STATE's replay of a record stream. Records go through the control plane in file order;
 * an ADD order refused because what it needs is missing (a backend, front or certificate before
 * its application or listener — sozu itself keeps such a backend) is deferred and tried again
 * once the rest has been applied, as long as each pass applies something. So a state file in any
 * order of its additions loads whole, and the state never holds a dangling reference.
 */
import { errorText, InvalidError, NotFoundError } from "../../core/mod.ts";
import type { ControlPlane } from "./control_plane.ts";
import { canonicalOrderName, STATE_ORDER_TYPES } from "./schemas.ts";
import { type ConfigState, parseStateOrder, type StateRecord } from "./state/mod.ts";

/** What a replay did. */
export interface ReplayOutcome {
  /** Records that changed the state. */
  applied: number;
  /** Records deferred at least once (applied after their dependency). */
  deferred: number;
  /** One message per refused record, naming it. */
  errors: string[];
}

/** Parses one record inside the queue (its listener defaults see the earlier records). */
function parseRecord(state: ConfigState, record: StateRecord) {
  const name = canonicalOrderName(record.order);
  if (!STATE_ORDER_TYPES.has(name)) {
    throw new InvalidError(`"${record.order}" is not a state order`);
  }
  return parseStateOrder(name, record.payload, state);
}

function mayWait(record: StateRecord, error: unknown): boolean {
  return error instanceof NotFoundError &&
    canonicalOrderName(record.order).startsWith("ADD_");
}

/** Replays `records`, deferring additions whose dependency comes later in the file. */
export async function replayRecords(
  control: ControlPlane,
  records: readonly StateRecord[],
): Promise<ReplayOutcome> {
  let pending: readonly StateRecord[] = records;
  const waited = new Set<number>();
  const out: ReplayOutcome = { applied: 0, deferred: 0, errors: [] };
  while (pending.length > 0) {
    const outcomes = await Promise.allSettled(
      pending.map((record) => control.execute(() => parseRecord(control.state, record))),
    );
    const later: { record: StateRecord; error: unknown }[] = [];
    outcomes.forEach((outcome, i) => {
      const record = pending[i]!;
      if (outcome.status === "fulfilled") {
        if (outcome.value.changed) out.applied++;
      } else if (mayWait(record, outcome.reason)) {
        later.push({ record, error: outcome.reason });
      } else {
        out.errors.push(`record ${record.index}: ${errorText(outcome.reason)}`);
      }
    });
    if (later.length === pending.length) {
      for (const { record, error } of later) {
        out.errors.push(`record ${record.index}: ${errorText(error)}`);
      }
      break;
    }
    for (const { record } of later) waited.add(record.index);
    pending = later.map((l) => l.record);
  }
  out.deferred = waited.size;
  return out;
}
