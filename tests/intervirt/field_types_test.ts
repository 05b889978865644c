/**
 * Every field of every request type, over the real WebSocket: a missing field is reported as
 * missing, a wrong-typed one (a string for a port, a number for an id, null for a command) as
 * invalid with the expected and the received type, never as missing; all code 8, the connection
 * stays open.
 */
import assert from "node:assert/strict";
import { tempDir } from "../_helpers/mod.ts";
import { IntervirtClient } from "../../lib/protocols/intervirt/mod.ts";
import { startOnFakes } from "./_fakes.ts";

type Kind = "string" | "number" | "boolean";

/** One request type: a body that parses, and the JSON type of each of its fields. */
interface RequestCase {
  body: Record<string, unknown>;
  fields: Record<string, Kind>;
  /** Fields that may be left out (a default applies, or another field stands in). */
  optional?: string[];
}

const CASES: RequestCase[] = [
  {
    body: {
      type: "AddContainer",
      id: "c1",
      ipv4: "10.93.0.11",
      ipv6: "fd93::11",
      mac: "02:00:0a:5d:00:11",
      internet: false,
      image: "local",
    },
    fields: {
      id: "string",
      ipv4: "string",
      ipv6: "string",
      mac: "string",
      internet: "boolean",
      image: "string",
    },
    optional: ["internet"],
  },
  { body: { type: "RemoveContainer", id: "c1" }, fields: { id: "string" } },
  { body: { type: "StartContainer", id: "c1" }, fields: { id: "string" } },
  { body: { type: "StopContainer", id: "c1" }, fields: { id: "string" } },
  {
    body: { type: "IDWithNewIpv4", id: "c1", newIpv4: "10.93.0.12" },
    fields: { id: "string", newIpv4: "string" },
  },
  {
    body: { type: "IDWithNewIpv4", id: "c1", newIP: "10.93.0.12" },
    fields: { newIP: "string" },
    optional: ["newIP"],
  },
  {
    body: { type: "IDWithNewIpv6", id: "c1", newIpv6: "fd93::12" },
    fields: { id: "string", newIpv6: "string" },
  },
  {
    body: { type: "IDWithNewIpv6", id: "c1", newIP: "fd93::12" },
    fields: { newIP: "string" },
    optional: ["newIP"],
  },
  { body: { type: "Connect", id1: "c1", id2: "c2" }, fields: { id1: "string", id2: "string" } },
  { body: { type: "Disconnect", id1: "c1", id2: "c2" }, fields: { id1: "string", id2: "string" } },
  {
    body: { type: "SetInternetAccess", id: "c1", enabled: true },
    fields: { id: "string", enabled: "boolean" },
  },
  {
    body: {
      type: "AddPortForwarding",
      id: "c1",
      internalPort: 80,
      externalPort: 8080,
      protocol: "tcp",
    },
    fields: { id: "string", internalPort: "number", externalPort: "number", protocol: "string" },
  },
  {
    body: { type: "RemovePortForwarding", externalPort: 8080, protocol: "tcp" },
    fields: { externalPort: "number", protocol: "string" },
  },
  { body: { type: "Command", command: "version" }, fields: { command: "string" } },
];

/** Values of every other JSON type than `kind`, with the name the error must give each. */
const WRONG: Record<Kind, [unknown, string][]> = {
  string: [[5, "a number"], [null, "null"], [true, "a boolean"], [{}, "an object"], [[
    "a",
  ], "an array"]],
  number: [["80", "a string"], [null, "null"], [true, "a boolean"], [[80], "an array"]],
  boolean: [["yes", "a string"], [1, "a number"], [null, "null"]],
};

Deno.test("intervirt names the field and both types of a wrong-typed field; missing only when missing", async () => {
  await using dir = await tempDir("piv");
  await using agent = await startOnFakes(dir.path);
  const client = await IntervirtClient.connect(agent.url);
  const error = async (body: Record<string, unknown>) => {
    const f = await client.call(body);
    assert.equal(f.code, 8, `${JSON.stringify(body)} -> ${JSON.stringify(f)}`);
    return f.error!;
  };
  let checked = 0;
  try {
    for (const { body, fields, optional = [] } of CASES) {
      for (const [field, kind] of Object.entries(fields)) {
        const { [field]: _, ...without } = body;
        if (!optional.includes(field)) {
          assert.equal(await error(without), `Missing field "${field}"`, JSON.stringify(without));
          checked++;
        }
        for (const [value, got] of WRONG[kind]) {
          const message = await error({ ...body, [field]: value });
          const expected = new RegExp(`^Invalid field "${field}": expected .+, got ${got}$`);
          assert.match(message, expected, `${body.type}.${field} = ${JSON.stringify(value)}`);
          checked++;
        }
      }
    }
    // The examples of the issue, word for word.
    const examples: [Record<string, unknown>, string][] = [
      [
        { type: "SetInternetAccess", id: "c1", enabled: "yes" },
        'Invalid field "enabled": expected true or false, got a string',
      ],
      [
        {
          type: "AddPortForwarding",
          id: "c1",
          internalPort: "80",
          externalPort: 8080,
          protocol: "tcp",
        },
        'Invalid field "internalPort": expected a port number, got a string',
      ],
      [
        { type: "StartContainer", id: 5 },
        'Invalid field "id": expected a container id (a string), got a number',
      ],
      [
        { type: "Command", command: null },
        'Invalid field "command": expected a command name (one of wipe, update, shutdown, reboot, version), got null',
      ],
      [{ type: "IDWithNewIpv4", id: "c1" }, 'Missing field "newIpv4"'],
      [
        { type: "IDWithNewIpv6", id: "c1", newIP: "10.0.0.1" },
        'Invalid field "newIP": expected an IPv6 address',
      ],
    ];
    for (const [body, message] of examples) assert.equal(await error(body), message);
    // The envelope: `type` and `uuid` (a non-string uuid cannot be a refID: the reply has null).
    assert.equal(await error({ command: "wipe" }), 'Missing field "type"');
    assert.equal(
      await error({ type: 42 }),
      'Invalid field "type": expected a request type string, got a number',
    );
    client.sendRaw(JSON.stringify({ type: "Command", command: "version", uuid: 7 }));
    assert.equal((await client.call({ type: "Command", command: "version" })).type, "Version");
    assert.deepEqual(client.takeOrphans().map((f) => [f.refID, f.code, f.error]), [
      [null, 8, 'Invalid field "uuid": expected a string, got a number'],
    ]);
  } finally {
    await client.close();
  }
  assert.ok(checked > 90, `checked ${checked} cases`);
});
