/**
 * Both dialects write the bytes the original daemons wrote: every expected string below is copied
 * from the transcripts in ../shared/clients/cryptode/original-daemon-transcripts (cryptoded v1.3.1
 * and rvd 8094ffc), plus json-c's text form, the EDIT parameter, and the settings files.
 */
import assert from "node:assert/strict";
import {
  type ConnectionView,
  documentDialect,
  jsoncText,
  v1Dialect,
} from "../../lib/protocols/cryptoded/mod.ts";
import { parseEdit } from "../../lib/protocols/cryptoded/schemas.ts";
import { DomainError } from "../../lib/core/mod.ts";
import { parseEndpoint, parseSettings } from "../../lib/backends/openvpn/mod.ts";

function view(name: string, dir: string, extra: Partial<ConnectionView> = {}): ConnectionView {
  return {
    name,
    profile: `${dir}/${name}.ovpn`,
    status: "DISCONNECTED",
    ovpnStatus: "DISCONNECTED",
    timestamp: 1796468647,
    totalIn: 0,
    totalOut: 0,
    currentIn: 0,
    currentOut: 0,
    connectedTime: null,
    tunIp: "",
    autoConnect: false,
    preExecCmd: "",
    preExecStatus: 0,
    preExecRan: false,
    preExecInterval: 0,
    preExecUid: 65534,
    hasNoc: false,
    endpoint: { address: "10.91.0.1", port: 1194, protocol: "udp", ipVersion: 4 },
    lastError: null,
    ...extra,
  };
}

const V1_DIR = "/tmp/cryptode-client/work/orig-vpn.d";
const DOC_DIR = "/tmp/cryptode-client/work/rvd-vpn.d";
const statusReply = (list: ConnectionView[], single: boolean, profileDir = V1_DIR) => ({
  kind: "status" as const,
  list,
  single,
  profileDir,
});

/** What the v1.3.1 client's edit and remove read inside a status object (status_v1.ts). */
const V1_COMPAT = (status: string, profile: string) =>
  `, "code": 0, "data": { "status": "${status}", "profile": "${profile.replaceAll("/", "\\/")}", ` +
  `"auto-connect": "Disabled", "pre-exec-cmd": "" }`;

Deno.test("json-c text: spacing, empty containers, escaped slashes and controls", () => {
  assert.equal(jsoncText({ code: 14, data: {} }), '{ "code": 14, "data": { } }');
  assert.equal(jsoncText([]), "[ ]");
  assert.equal(
    jsoncText({ a: [1, true, null], b: 'x/y\n\t"\u0001', c: { d: [], e: {} } }),
    String.raw`{ "a": [ 1, true, null ], "b": "x\/y\n\t\"\u0001", "c": { "d": [ ], "e": { } } }`,
  );
  // what looks like structure inside a string stays as it is
  assert.equal(jsoncText({ s: "{} [] a,b:c\n  x" }), String.raw`{ "s": "{} [] a,b:c\n  x" }`);
  assert.equal(jsoncText("/"), String.raw`"\/"`);
});

Deno.test("v1.x STATUS, text and JSON, byte for byte as cryptoded v1.3.1 (A04, A05)", () => {
  const alpha = view("alpha", V1_DIR);
  const text = v1Dialect.encode(statusReply([alpha], true), false);
  assert.equal(
    text,
    String
      .raw`{ "code": 0, "data": "name: alpha\n\tconfig-status: No NOC configuration exists\n\tprofile: \/tmp\/cryptode-client\/work\/orig-vpn.d\/alpha.ovpn\n\tstatus: DISCONNECTED\n\topenvpn-status: DISCONNECTED\n\tin-total: 0\n\tout-total: 0\n\ttimestamp: 1796468647\n\tauto-connect: Disabled\n\tpre-exec-cmd: \n\tpre-exec-status: \n\tpre-exec-interval: \n" }`,
  );
  const json = v1Dialect.encode(statusReply([alpha], true), true);
  const original = String
    .raw`{ "code": 0, "data": { "name": "alpha", "profile": "\/tmp\/cryptode-client\/work\/orig-vpn.d\/alpha.ovpn", "autoConnect": false, "endpointIp": { "address": "10.91.0.1", "netmask": 32 }, "assignedIp": { "address": "", "netmask": 32 }, "port": 1194, "protocol": "udp", "ipVersion": 4, "CryptodedConnectionStatus": { "state": "DISCONNECTED", "ovpnState": "DISCONNECTED", "connectionTime": "", "netIn": 0, "netOut": 0 }, "CryptodedPreExec": { "command": "", "interval": 0, "userId": 65534, "returnCode": 0 } } }`;
  assert.equal(json, original.slice(0, -4) + V1_COMPAT("DISCONNECTED", alpha.profile) + " } }");
});

Deno.test("v1.x errors, GET_CONFDIR and the empty list (A06, A12, A13, A24)", () => {
  const failure = (resp: "CONN_ALREADY_DISCONNECTED" | "CONN_NOT_FOUND") => ({
    kind: "failure" as const,
    failure: { resp, message: "why" },
  });
  assert.equal(
    v1Dialect.encode(failure("CONN_ALREADY_DISCONNECTED"), false),
    '{ "code": 16, "data": "Already disconnected" }',
  );
  assert.equal(v1Dialect.encode(failure("CONN_NOT_FOUND"), true), '{ "code": 14, "data": { } }');
  const confdir = { kind: "value" as const, data: V1_DIR, text: V1_DIR };
  assert.equal(
    v1Dialect.encode(confdir, false),
    String.raw`{ "code": 0, "data": "\/tmp\/cryptode-client\/work\/orig-vpn.d" }`,
  );
  assert.equal(
    v1Dialect.encode(statusReply([], false), false),
    String
      .raw`{ "code": 0, "data": "no VPNs found in '\/tmp\/cryptode-client\/work\/orig-vpn.d'" }`,
  );
  assert.equal(v1Dialect.encode(statusReply([], false), true), '{ "code": 0, "data": [ ] }');
  assert.equal(v1Dialect.encode({ kind: "value" }, true), '{ "code": 0, "data": { } }');
  assert.equal(v1Dialect.encode({ kind: "value" }, false), '{ "code": 0, "data": "Success" }');
});

Deno.test("v1.x text of a connected tunnel with a pre-connect command", () => {
  const v = view("beta", V1_DIR, {
    status: "CONNECTED",
    ovpnStatus: "CONNECTED",
    totalIn: 10,
    totalOut: 20,
    currentIn: 10,
    currentOut: 20,
    connectedTime: 1796468600,
    preExecCmd: "/bin/true",
    preExecRan: true,
    hasNoc: true,
  });
  const block = (v1Dialect.encode(statusReply([v], true), false).match(/"data": "(.*)" }$/))![1]!;
  assert.match(block, /^name: beta\\n\\tconfig-status: NOC configuration exists\\n/);
  assert.match(
    block,
    /\\tout-total: 20\\n\\tconnected-time: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*\\n\\tin-current: 10\\n\\tout-current: 20\\n\\ttimestamp: /,
  );
  assert.match(block, /pre-exec-status: SUCCESSFUL \[0\]\\n\\tpre-exec-interval: none\\n$/);
});

Deno.test("document STATUS, text and JSON, byte for byte as rvd 8094ffc (B04, B05, B06)", () => {
  const alpha = view("alpha", DOC_DIR, { timestamp: 1796469957 });
  assert.equal(
    documentDialect.encode(statusReply([alpha], true, DOC_DIR), false),
    `name: alpha\n\tprofile: ${DOC_DIR}/alpha.ovpn\n\tstatus: DISCONNECTED\n\topenvpn-status: DISCONNECTED\n\tin-total: 0\n\tout-total: 0\n\ttimestamp: 1796469957\n\tauto-connect: Disabled\n\tpre-exec-cmd: \n\tpre-exec-status: SUCCESSFUL [0]\n`,
  );
  assert.equal(
    documentDialect.encode(statusReply([{ ...alpha, timestamp: 1796469958 }], true, DOC_DIR), true),
    String
      .raw`{ "code": 0, "data": { "name": "alpha", "profile": "\/tmp\/cryptode-client\/work\/rvd-vpn.d\/alpha.ovpn", "status": "DISCONNECTED", "ovpn-status": "DISCONNECTED", "in-total": 0, "out-total": 0, "timestamp": 1796469958, "auto-connect": false, "pre-exec-cmd": "", "pre-exec-status": 0 } }`,
  );
  const notFound = { kind: "failure" as const, failure: { resp: "CONN_NOT_FOUND", message: "x" } };
  assert.equal(documentDialect.encode(notFound as never, false), "Connection not found");
  assert.equal(documentDialect.encode(notFound as never, true), '{ "code": 14, "data": { } }');
  // rvc copies this reply into the path it writes the imported profile to (B15)
  assert.equal(
    documentDialect.encode({ kind: "value", data: DOC_DIR, text: DOC_DIR }, false),
    DOC_DIR,
  );
  assert.equal(documentDialect.encode(statusReply([], false), false), "Success");
  assert.equal(documentDialect.encode(statusReply([], false), true), '{ "code": 0, "data": [ ] }');
});

Deno.test("EDIT parameters: the CLI's words or an object, refused with the v1.x codes", () => {
  assert.deepEqual(parseEdit("beta auto-connect enable"), {
    name: "beta",
    option: "auto-connect",
    value: "enable",
  });
  assert.deepEqual(parseEdit("beta pre-exec-cmd /bin/echo hi there"), {
    name: "beta",
    option: "pre-exec-cmd",
    value: "/bin/echo hi there",
  });
  assert.deepEqual(parseEdit({ name: "b", option: "pre-exec-cmd", value: "" }), {
    name: "b",
    option: "pre-exec-cmd",
    value: "",
  });
  const reason = (param: unknown) => {
    try {
      parseEdit(param as string);
    } catch (error) {
      return error instanceof DomainError ? `${error.kind}/${error.reason}` : String(error);
    }
    return "ok";
  };
  assert.equal(reason("beta profile /x.ovpn"), "invalid/edit-option");
  assert.equal(reason("beta auto-connect maybe"), "invalid/edit-value");
  assert.equal(reason("../x auto-connect enable"), "not_found/undefined");
  assert.equal(reason("beta"), "invalid/param");
  assert.equal(reason({ name: "b" }), "invalid/json");
});

Deno.test("settings files: .noc over .json, trailing bytes of a shorter rewrite, the endpoint", () => {
  const json = parseSettings('{"name":"b","auto-connect":true,"pre-connect-exec":"/bin/true"}');
  assert.deepEqual(json, { autoConnect: true, preConnectExec: "/bin/true", preExecInterval: 0 });
  // cryptode's edit opens .noc without O_TRUNC: a shorter text leaves the old tail behind
  const noc = parseSettings(
    '{ "name": "b", "pre-connect-exec": "", "pre-connect-exec-interval": 5 }e" }',
    json as never,
  );
  assert.deepEqual(noc, { autoConnect: true, preConnectExec: "", preExecInterval: 5 });
  assert.equal(parseSettings('{"auto-connect":"yes"}'), `"auto-connect" must be true or false`);
  assert.deepEqual(parseEndpoint("client\nproto udp6\nremote vpn.example 1195\n"), {
    address: "vpn.example",
    port: 1195,
    protocol: "udp6",
    ipVersion: 6,
  });
  assert.deepEqual(parseEndpoint("client\n"), {
    address: "",
    port: 1194,
    protocol: "udp",
    ipVersion: 4,
  });
});
