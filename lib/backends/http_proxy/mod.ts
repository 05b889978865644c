/**
 * The HTTP reverse proxy that the sozu service drives: raw TCP (Deno.listen / Deno.connect), an
 * incremental strict HTTP/1.1 parser, per-worker keep-alive backend pools, streamed bodies.
 *
 * PLACEHOLDER: the engine and worker pool land with the data-plane work; the contract is model.ts.
 *
 * @module
 */
export * from "./model.ts";
