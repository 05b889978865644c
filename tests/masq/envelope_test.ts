/** The envelope codec, crash reasons and the setup model as pure logic. */
import assert from "node:assert/strict";
import { decodeMessage, encodeMessage, stringifyExact } from "../../lib/protocols/masq/codec.ts";
import { crashReason } from "../../lib/protocols/masq/daemon/crash_reason.ts";
import { MasqErrorCode } from "../../lib/protocols/masq/codes.ts";
import {
  applySetup,
  censor,
  launchArguments,
  reportSetup,
  type SetupState,
} from "../../lib/protocols/masq/setup_model.ts";

const host = { dataRoot: "/data", dnsServers: ["1.1.1.1"], realUser: "0:0:/root" };

Deno.test("decodeMessage() follows the real converter's rules", () => {
  assert.deepEqual(decodeMessage(`{"opcode":"x","payload":{}}`), {
    kind: "ok",
    message: { opcode: "x", contextId: null, body: { payload: {} } },
  });
  const conv = decodeMessage(`{"opcode":"x","contextId":0,"payload":{"a":1}}`);
  assert.equal(conv.kind === "ok" && conv.message.contextId, 0n);
  assert.equal(decodeMessage("nope").kind, "critical");
  assert.deepEqual(decodeMessage(`{"payload":{}}`), {
    kind: "critical",
    message: "Required field was missing: opcode",
  });
  assert.equal(decodeMessage(`{"opcode":5,"payload":{}}`).kind, "critical");
  assert.equal(decodeMessage(`{"opcode":"x","contextId":-1,"payload":{}}`).kind, "critical");
  assert.equal(decodeMessage(`{"opcode":"x","contextId":"1","payload":{}}`).kind, "critical");
  assert.deepEqual(decodeMessage(`{"opcode":"x","contextId":4}`), {
    kind: "noncritical",
    opcode: "x",
    contextId: 4n,
    message: "Required field was missing: payload, error",
  });
  assert.equal(decodeMessage(`{"opcode":"x","payload":[]}`).kind, "noncritical");
  const err = decodeMessage(
    `{"opcode":"x","contextId":18446744073709551615,"error":{"code":9223372036854775812,"message":"m"}}`,
  );
  assert.deepEqual(err, {
    kind: "ok",
    message: {
      opcode: "x",
      contextId: 18446744073709551615n,
      body: { error: { code: 9223372036854775812n, message: "m" } },
    },
  });
  assert.equal(
    decodeMessage(`{"opcode":"x","contextId":18446744073709551616,"payload":{}}`).kind,
    "critical",
  );
});

Deno.test("encodeMessage() writes exact u64 digits and no contextId for one-way messages", () => {
  assert.equal(
    encodeMessage({
      opcode: "start",
      contextId: 7n,
      body: { error: { code: MasqErrorCode.NODE_LAUNCH_ERROR, message: 'a"b' } },
    }),
    `{"opcode":"start","contextId":7,"error":{"code":9223372036854775809,"message":"a\\"b"}}`,
  );
  assert.equal(
    encodeMessage({ opcode: "crashed", contextId: null, body: { payload: { processId: 1 } } }),
    `{"opcode":"crashed","payload":{"processId":1}}`,
  );
  assert.equal(stringifyExact({ n: 18446744073709551615n }), `{"n":18446744073709551615}`);
  assert.equal(MasqErrorCode.NODE_NOT_RUNNING_ERROR.toString(), "9223372036854775810");
  assert.equal(MasqErrorCode.NODE_ALREADY_RUNNING_ERROR.toString(), "9223372036854775811");
  assert.equal(MasqErrorCode.UNMARSHAL_ERROR.toString(), "9223372036854775812");
  assert.equal(MasqErrorCode.UNKNOWN_ERROR.toString(), "281474976710670");
});

Deno.test("crashReason() classifies exits like crash_notification.rs", () => {
  assert.deepEqual(crashReason(null, "Child wait failure: gone"), { ChildWaitFailure: "gone" });
  assert.equal(crashReason(null, "  \n"), "NoInformation");
  assert.equal(crashReason(null, null), "NoInformation");
  assert.deepEqual(crashReason(0, ""), { Unrecognized: "" });
  assert.deepEqual(crashReason(null, "panic"), { Unrecognized: "panic" });
  assert.deepEqual(crashReason(101, "thread 'x' panicked"), {
    Unrecognized: "thread 'x' panicked",
  });
});

Deno.test("reportSetup() applies defaults and requirement rules from the mode and chain", () => {
  const empty: SetupState = { set: {}, configured: {} };
  const values = new Map(reportSetup(empty, host).map((v) => [v.name, v]));
  assert.equal(values.get("data-directory")?.value, "/data/base-mainnet");
  assert.equal(values.get("dns-servers")?.value, "1.1.1.1");
  assert.equal(values.get("rate-pack")?.status, "Default");
  assert.equal(values.get("blockchain-service-url")?.status, "Required");
  assert.equal(values.get("clandestine-port")?.status, "Required");
  const consume = new Map(
    reportSetup({
      set: { "neighborhood-mode": "consume-only", chain: "polygon-mainnet" },
      configured: {},
    }, host)
      .map((v) => [v.name, v]),
  );
  assert.equal(consume.get("data-directory")?.value, "/data/polygon-mainnet");
  assert.equal(consume.get("neighbors")?.status, "Required");
  assert.equal(consume.get("rate-pack")?.status, "Blank");
});

Deno.test("applySetup() sets, clears, reports errors and detects changes by value only", () => {
  const state: SetupState = {
    set: { "gas-price": "3" },
    configured: { "clandestine-port": "4000" },
  };
  const same = applySetup(state, [{ name: "gas-price", value: "3" }], host);
  assert.equal(same.changed, false);
  const changed = applySetup(state, [{ name: "gas-price", value: null }], host);
  assert.equal(changed.changed, true);
  assert.deepEqual(changed.state.set, {});
  assert.equal(changed.values.find((v) => v.name === "gas-price")?.status, "Default");
  const bad = applySetup(
    state,
    [{ name: "gas-price", value: null }, { name: "ip", value: "x" }],
    host,
  );
  assert.deepEqual(bad.state.set, { "gas-price": "3" });
  assert.equal(bad.errors[0]?.[0], "ip");
  // Setting the default's own value changes the status but not the value: no change.
  const status = applySetup(
    { set: {}, configured: {} },
    [{ name: "chain", value: "base-mainnet" }],
    host,
  );
  assert.equal(status.changed, false);
  assert.equal(status.values.find((v) => v.name === "chain")?.status, "Set");
});

Deno.test("censor() and launchArguments()", () => {
  const values = reportSetup({
    set: { "db-password": "x", "consuming-private-key": "cd".repeat(32), chain: "dev" },
    configured: { "clandestine-port": "4000" },
  }, host);
  const shown = new Map(censor(values).map((v) => [v.name, v.value]));
  assert.equal(shown.get("db-password"), "*".repeat(16));
  assert.equal(shown.get("consuming-private-key"), "*".repeat(64));
  assert.deepEqual(launchArguments(values, 5555), [
    "--chain",
    "dev",
    "--clandestine-port",
    "4000",
    "--consuming-private-key",
    "cd".repeat(32),
    "--db-password",
    "x",
    "--ui-port",
    "5555",
  ]);
});
