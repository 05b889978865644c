/** The sections the Intervirt and MASQ services give the status page, from fakes of their state. */
import assert from "node:assert/strict";
import type { StatusSection } from "../../lib/core/mod.ts";
import type { ContainerManager } from "../../lib/protocols/intervirt/containers/mod.ts";
import { intervirtStatusPage } from "../../lib/protocols/intervirt/status_page.ts";
import type { Daemon } from "../../lib/protocols/masq/daemon/daemon.ts";
import { masqStatusPage } from "../../lib/protocols/masq/status_page.ts";

function rowsOf(section: StatusSection, id: string) {
  return section.tables.find((t) => t.id === id)!.rows;
}

Deno.test("intervirtStatusPage() lists containers with addresses, peers, forwards and internet", async () => {
  const manager = {
    unavailable: null,
    drift: ["bridge was missing"],
    state: {
      containers: {
        web: {
          id: "web",
          ipv4: "10.0.3.2",
          ipv6: "",
          mac: "00:16:3e:00:00:02",
          internet: true,
          image: "debian/13",
          running: true,
        },
        db: {
          id: "db",
          ipv4: "10.0.3.3",
          ipv6: "fd00::3",
          mac: "",
          internet: false,
          image: "",
          running: false,
        },
      },
      connections: [["db", "web"]],
      forwards: [{ protocol: "tcp", externalPort: 8080, id: "web", internalPort: 80 }],
    },
  } as unknown as ContainerManager;
  const section = await intervirtStatusPage({
    manager: () => manager,
    runtime: "lxc",
    listener: () => "ws://127.0.0.1:55436/containerManagement",
    clients: () => 1,
  }).snapshot();
  const [web, db] = rowsOf(section, "containers");
  assert.deepEqual(web, [
    "web",
    { text: "running", tone: "ok" },
    "10.0.3.2",
    "00:16:3e:00:00:02",
    "db",
    "tcp 8080 → 80",
    { text: "on", tone: "ok" },
    "debian/13",
  ]);
  assert.equal(db![2], "10.0.3.3\nfd00::3");
  assert.deepEqual(db![6], { text: "off", tone: "idle" });
  assert.ok(section.facts!.some(([k]) => k === "Drift repaired at start"));
});

Deno.test("masqStatusPage() shows the Node, its last crash in words, and the clients", async () => {
  const daemon = {
    node: null,
    lastCrash: { pid: 41, reason: { Unrecognized: "panic at main.rs" }, at: 0 },
  } as unknown as Daemon;
  const section = await masqStatusPage({
    daemon: () => daemon,
    clients: () => [1, 2],
    uiPort: () => 5333,
  }).snapshot();
  const [node] = rowsOf(section, "node");
  assert.deepEqual(node![0], { text: "not running", tone: "idle" });
  assert.match((node![3] as { text: string }).text, /pid 41: unrecognized: panic at main\.rs/);
  assert.equal(rowsOf(section, "clients").length, 2);
});
