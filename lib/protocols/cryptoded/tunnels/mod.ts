/**
 * The cryptoded domain: the connections (one per profile) and their tunnels. It touches the
 * system only through the `CryptodedBackends` (../backends.ts) it is given and throws neutral errors.
 *
 * - `connections.ts` — {@linkcode CryptodedConnections}, the facade the handlers call;
 * - `registry.ts` — the entries by name, the refused profiles, the scan of the profile directory;
 * - `launcher.ts` — pre-connect-exec, launching, watching, re-adopting and stopping tunnels;
 * - `restore.ts` — what happens at start: scan, re-adopt, resume interrupted connects;
 * - `importer.ts` — IMPORT: read the source, check, write the profiles;
 * - `status.ts` — an entry and its STATUS object; `saved_state.ts` — the state document.
 *
 * @module
 */
export * from "./connections.ts";
export * from "./importer.ts";
export * from "./launcher.ts";
export * from "./registry.ts";
export * from "./restore.ts";
export * from "./saved_state.ts";
export * from "./status.ts";
