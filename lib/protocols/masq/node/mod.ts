/**
 * The built-in MASQ Node, `polyagent masq-node` (a second program of this executable, run by
 * `lib/services.ts` through `main.ts` → `runMasqNode`): its command line (`args.ts`), the actor
 * that serves the opcodes it provides over the same transport as the Daemon (`node_actor.ts`,
 * table in `../handlers.ts`), the `configuration` payload (`configuration.ts`) and its settings
 * (`node_store.ts`, a core state-store document in the data directory). Life of a message: the
 * server (`../server.ts`) → one connection (`../connection.ts`, codec) → `NodeActor.dispatch` →
 * the handler checks the payload and calls the actor → reply; neutral errors become wire errors
 * in `../errors.ts`. Its file and process needs (log file, document, stdout, SIGTERM) come from
 * `backends/masq_node`.
 *
 * @module
 */
export * from "./args.ts";
export * from "./configuration.ts";
export * from "./main.ts";
export * from "./node_actor.ts";
export * from "./node_store.ts";
