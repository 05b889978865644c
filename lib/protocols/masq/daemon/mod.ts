/**
 * The MASQ Daemon's model: the actor that handles `setup` and `start`, redirects everything else
 * to a running Node, and broadcasts `crashed` when it exits (`daemon.ts`); starting the Node
 * (`launch.ts`); and the crash reason of a `crashed` broadcast (`crash_reason.ts`). It throws
 * core's neutral errors (`errors.ts` maps them) and touches the system only through the
 * `MasqNodeControl` it is given.
 *
 * @module
 */
export * from "./crash_reason.ts";
export * from "./daemon.ts";
export * from "./launch.ts";
