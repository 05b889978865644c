/**
 * The HTTP reverse proxy that the sozu service drives: raw TCP (Deno.listen / Deno.connect), an
 * incremental strict HTTP/1.1 parser, per-worker keep-alive backend pools, streamed bodies, and
 * `workerCount` Web Workers sharing each port; HTTPS listeners terminate TLS (certificates chosen
 * by SNI) on `Deno.listenTls` or `node:tls` and run the same HTTP loop. TCP listeners proxy bytes
 * (tcp_session.ts); any listener may expect a PROXY protocol header (proxy_protocol.ts,
 * proxied_conn.ts, tls_proxied.ts) and clusters may send one to backends. The contract with the
 * control plane is model.ts; the entry point is {@linkcode createDataPlane}.
 *
 * @module
 */
export * from "./model.ts";
export { createDataPlane, type CreateDataPlaneOptions, WorkerDataPlane } from "./data_plane.ts";
export { type EngineStats, ProxyEngine, type ProxyEngineOptions } from "./engine.ts";
export type { WorkerEngineOptions } from "./worker_protocol.ts";
export type { ByteConn } from "./backend_pool.ts";
export { CertificateStore } from "./certificates.ts";
export { nativeResolverSymbol } from "./tls_native.ts";
export { directReadSupport, type Reader, readerOf } from "./direct_read.ts";
