/** Reconnect delays: exponential with "equal jitter" (half fixed, half random). */

/** The delay before attempt `attempt` (0-based): `min(max, base·2^attempt)`, jittered to 50–100 %. */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * ceiling / 2);
}
