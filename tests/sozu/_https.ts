/** Shared pieces of the HTTPS tests through the real agent: orders, a named echo backend. */
import assert from "node:assert/strict";
import type { CommandResponse, SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { freePort } from "../_helpers/mod.ts";
import type { IssuedCertificate } from "./_certs.ts";

/** Sends a PROXY order; returns the final reply. */
export function order(c: SozuClient, type: string, data?: unknown): Promise<CommandResponse> {
  return c.request(
    { type: "PROXY", data: data === undefined ? { type } : { type, data } },
    { timeoutMs: 20_000 },
  );
}

/** Sends a PROXY order that must answer OK. */
export async function ok(c: SozuClient, type: string, data?: unknown): Promise<CommandResponse> {
  const r = await order(c, type, data);
  assert.equal(r.status, "OK", `${type}: ${r.message}`);
  return r;
}

/** The code-shape certificate of an issued one. */
export function certificateOf(c: IssuedCertificate, chain = false) {
  return { certificate: c.certificate, certificate_chain: chain ? c.chain : [], key: c.key };
}

/** A backend answering `<name> <x-forwarded-proto>` and counting requests. */
export function namedBackend(name: string) {
  const port = freePort();
  const seen = { requests: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (req) => {
    seen.requests++;
    return new Response(`${name} ${req.headers.get("x-forwarded-proto")}`);
  });
  return {
    address: `127.0.0.1:${port}`,
    seen,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}
