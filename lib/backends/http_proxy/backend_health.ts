/**
 * Whether a backend may be tried now. This is a minimal stand-in (a backend whose last connection
 * attempt failed is not usable); the backend health helper (back-off and circuit breaking)
 * replaces this file with the real rules.
 */
import type { RoutedBackend } from "./routing.ts";

/**
 * Whether a new connection to `backend` may be attempted at `now` (the engine's clock, ms).
 * Stub: the health helper's version (back-off state) replaces it.
 */
export function canOpen(backend: RoutedBackend, now: number): boolean {
  void now;
  return !backend.counters.down;
}
