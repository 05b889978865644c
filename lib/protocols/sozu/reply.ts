/** The reply envelope (`CommandResponse`, code shape) and its statuses. */

/** Reply status, upper case as on the real wire. */
export type Status = "OK" | "PROCESSING" | "ERROR";

/** A reply (`CommandResponse`, code shape). */
export interface CommandResponse {
  id: string;
  version: 0;
  status: Status;
  message: string;
  data: { type: string; data: unknown } | null;
}

/** Builds a reply. */
export function response(
  id: string,
  status: Status,
  message = "",
  data: { type: string; data: unknown } | null = null,
): CommandResponse {
  return { id, version: 0, status, message, data };
}
