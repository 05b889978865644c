/**
 * The sozu section of the status page from the in-process sozu service (memory data plane):
 * listeners, applications, backends, certificates with their expiry highlighted, and the
 * take-out-of-rotation action running REMOVE_BACKEND through the command-socket handler.
 */
import assert from "node:assert/strict";
import type { StatusCell, StatusSection } from "../../lib/core/mod.ts";
import type { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { backendTest } from "../_helpers/mod.ts";
import { makeCertificate } from "../sozu/_certs.ts";
import { startHarness } from "../sozu/_harness.ts";

let n = 0;
async function order(c: SozuClient, type: string, data: unknown): Promise<void> {
  const r = await c.send({ id: `p-${++n}`, version: 0, type: "PROXY", data: { type, data } }, {
    timeoutMs: 5000,
  });
  assert.equal(r.status, "OK", JSON.stringify(r));
}

function rows(section: StatusSection, id: string): StatusCell[][] {
  return section.tables.find((t) => t.id === id)?.rows ?? [];
}

backendTest("sozu's status section: state, expiring certificate, backend out of rotation", {
  tools: ["openssl"],
}, async () => {
  const cert = await makeCertificate("shop.example.com");
  await using h = await startHarness();
  const c = await h.client();
  await order(c, "ADD_HTTP_LISTENER", { front: "127.0.0.1:18080" });
  await order(c, "ADD_HTTPS_LISTENER", { front: "127.0.0.1:18443" });
  await order(c, "ADD_APPLICATION", { app_id: "shop" });
  await order(c, "ADD_HTTP_FRONT", {
    app_id: "shop",
    address: "127.0.0.1:18080",
    hostname: "shop.example.com",
    path_begin: "",
  });
  await order(c, "ADD_BACKEND", { app_id: "shop", backend_id: "b1", address: "127.0.0.1:9001" });
  await order(c, "ADD_CERTIFICATE", {
    front: "127.0.0.1:18443",
    certificate: { certificate: cert.certificate, certificate_chain: [], key: cert.key },
    names: ["shop.example.com"],
  });
  const page = h.service.statusPage();
  const section = await page.snapshot();
  assert.deepEqual(rows(section, "listeners").map((r) => r.slice(0, 2)), [
    ["127.0.0.1:18080", "HTTP"],
    ["127.0.0.1:18443", "HTTPS"],
  ]);
  assert.deepEqual(rows(section, "applications")[0]!.slice(0, 3), [
    "shop",
    "http://shop.example.com on 127.0.0.1:18080",
    1,
  ]);
  const [backend] = rows(section, "backends");
  assert.deepEqual(backend!.slice(0, 4), ["shop", "b1", "127.0.0.1:9001", {
    text: "not tried yet",
    tone: "idle",
  }]);
  const [certificate] = rows(section, "certificates");
  assert.equal(certificate![1], "shop.example.com");
  const expiry = certificate![3] as { text: string; tone: string };
  assert.equal(expiry.tone, "warn", "expires in under 14 days");
  assert.match(expiry.text, /\(in [01] days\)/);

  const action = backend!.at(-1) as { action: { name: string; target: string } };
  assert.equal(action.action.name, "remove-backend");
  const outcome = await page.act!(action.action.name, action.action.target);
  assert.match(outcome, /b1 .* removed from rotation/);
  assert.deepEqual(rows(await page.snapshot(), "backends"), []);
  await assert.rejects(page.act!("remove-backend", action.action.target), /not found|no backend/i);
  await assert.rejects(page.act!("explode", "x"), /unknown action/);
});
