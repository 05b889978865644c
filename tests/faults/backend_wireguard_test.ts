/**
 * wg-quick that hangs or fails, for real: fake `wg-quick` and `wg` first on the agent's PATH, and
 * the Quix control server hands out a valid WireGuard config. Applying it must end within
 * `quix.vpn_timeout_ms` (hang) or at once (fail) with `vpnError` naming the cause, the link stays
 * up, `/healthz` shows Quix's backend degraded (hang) or its last error (fail), and nothing a
 * hanging wg-quick started survives.
 */
import assert from "node:assert/strict";
import { backendTest, waitFor } from "../_helpers/mod.ts";
import { startFaultAgent } from "./fault_agent.ts";
import { type FakeMode, fakeTools } from "./fake_tools.ts";

const key = (fill: number) => btoa(String.fromCharCode(...new Uint8Array(32).fill(fill)));

/** A config the validator accepts (nothing is sent anywhere: wg-quick is a fake). */
const CONF = `[Interface]
PrivateKey = ${key(1)}
Address = 10.99.0.2/32

[Peer]
PublicKey = ${key(2)}
Endpoint = 127.0.0.1:51820
AllowedIPs = 10.99.0.0/24
`;

async function wireguardFault(mode: FakeMode, expect: RegExp): Promise<void> {
  await using tools = await fakeTools(["wg-quick", "wg"], mode);
  await using fault = await startFaultAgent({
    label: "wg",
    toolsDir: tools.dir,
    overrides: ["quix.vpn=true", "quix.vpn_timeout_ms=500"],
  }, (quix) => quix.vpnConf = CONF);
  const detail = await waitFor(async () => {
    const d = await fault.detail("quix");
    return typeof d.vpnError === "string" ? d : null;
  }, { timeoutMs: 20_000, what: "the VPN config to fail" });
  assert.match(String(detail.vpnError), expect, JSON.stringify(detail));
  const backend = detail.backend as { state: string; lastError?: string };
  assert.match(backend.lastError ?? "", expect, JSON.stringify(detail));
  if (mode === "hang") assert.equal(backend.state, "degraded");
  assert.equal(detail.link, "online", JSON.stringify(detail));
  assert.equal(await fault.agent.health(), null);
  assert.deepEqual(await tools.settled(), [], "a timed-out wg-quick left processes");
  if (mode === "hang") assert.ok(tools.started().length > 0, "wg-quick never ran");
}

backendTest(
  "faults: a hanging wg-quick times out, Quix reports the VPN error and a degraded backend, and no child survives",
  { root: true },
  () => wireguardFault("hang", /timed out after 500 ms/),
);

backendTest(
  "faults: a failing wg-quick gives Quix a VPN error naming the failure, and the link stays up",
  { root: true },
  () => wireguardFault("fail", /status 1|garbage/),
);
