/** Pure logic: the nft ruleset renderer, address arithmetic, locks and state helpers. */
import assert from "node:assert/strict";
import {
  canonicalIpv6,
  elementDiff,
  type NetfilterState,
  parseLiveTable,
  renderRuleset,
} from "../../lib/backends/netfilter/mod.ts";
import { networkConfig, withNetworkConfig } from "../../lib/backends/lxc/mod.ts";
import { listenersCommand, parseListeners } from "../../lib/backends/intervirt_host/mod.ts";
import {
  broadcastOf,
  Gate,
  inSubnet,
  KeyedLock,
  listenerPort,
  pairOf,
  parseCidr,
  sameAddress,
  unusableAddress,
  vethName,
} from "../../lib/protocols/intervirt/containers/mod.ts";

const a = { ipv4: "10.93.0.11", ipv6: "fd93::11" };
const b = { ipv4: "10.93.0.12", ipv6: "fd93::12" };
const base: NetfilterState = {
  table: "polyagent_piv",
  bridge: "pivbr0",
  pairs: [[a, b]],
  internet: [a],
  forwards: [{ protocol: "tcp", externalPort: 8080, internalPort: 80, ...b }],
};

Deno.test("renderRuleset() replaces the whole table atomically and is deterministic", () => {
  const one = renderRuleset(base);
  const two = renderRuleset(structuredClone(base));
  assert.equal(one.script, two.script);
  assert.equal(one.fingerprint, two.fingerprint);
  assert.match(one.script, /^add table inet polyagent_piv\ndelete table inet polyagent_piv\n/);
  assert.deepEqual(one.elements.pairs4, ["10.93.0.11 . 10.93.0.12", "10.93.0.12 . 10.93.0.11"]);
  assert.deepEqual(one.elements.inet6, ["fd93::11"]);
  assert.match(one.script, /ip saddr \. ip daddr @pairs4 accept/);
  assert.match(one.script, /oifname != "pivbr0" ip saddr @inet4 masquerade/);
  assert.match(one.script, /tcp dport 8080 dnat ip to 10\.93\.0\.12:80/);
  assert.match(one.script, /tcp dport 8080 dnat ip6 to \[fd93::12\]:80/);
  // Pairs and internet are elements: the structure fingerprint does not change with them.
  const off = renderRuleset({ ...base, internet: [], pairs: [] });
  assert.equal(off.fingerprint, one.fingerprint);
  assert.equal(
    elementDiff("t", one.elements, off.elements),
    "delete element inet t pairs4 { 10.93.0.11 . 10.93.0.12, 10.93.0.12 . 10.93.0.11 }\n" +
      "delete element inet t pairs6 { fd93::11 . fd93::12, fd93::12 . fd93::11 }\n" +
      "delete element inet t inet4 { 10.93.0.11 }\n" +
      "delete element inet t inet6 { fd93::11 }\n",
  );
  assert.equal(elementDiff("t", one.elements, one.elements), "");
  assert.notEqual(renderRuleset({ ...base, forwards: [] }).fingerprint, one.fingerprint);
  assert.throws(() => renderRuleset({ ...base, table: "bad table" }), TypeError);
  assert.throws(() => renderRuleset({ ...base, bridge: 'x"; flush ruleset' }), TypeError);
  assert.throws(() =>
    renderRuleset({ ...base, internet: [{ ipv4: "1.2.3.4; drop", ipv6: "::1" }] })
  );
});

Deno.test("parseLiveTable() reads the fingerprint and elements of an nft listing", () => {
  const listing = `table inet polyagent_piv {
\tcomment "polyagent:0123abcd1f"
\tset pairs4 {
\t\ttype ipv4_addr . ipv4_addr
\t\telements = { 10.93.0.11 . 10.93.0.12,
\t\t\t     10.93.0.12 . 10.93.0.11 }
\t}

\tset pairs6 {
\t\ttype ipv6_addr . ipv6_addr
\t}

\tset inet4 {
\t\ttype ipv4_addr
\t\telements = { 10.93.0.11 }
\t}
}`;
  const live = parseLiveTable(listing);
  assert.equal(live.fingerprint, "0123abcd1f");
  assert.deepEqual(live.elements, {
    pairs4: ["10.93.0.11 . 10.93.0.12", "10.93.0.12 . 10.93.0.11"],
    pairs6: [],
    inet4: ["10.93.0.11"],
    inet6: [],
  });
  assert.equal(canonicalIpv6("FD93:0:0:0:0:0:0:11"), "fd93::11");
  assert.equal(canonicalIpv6("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
  assert.equal(canonicalIpv6("fd93:1:2:3:4:5:6:7"), "fd93:1:2:3:4:5:6:7");
  assert.equal(canonicalIpv6("::"), "::");
});

Deno.test("address helpers handle subnets, broadcast and IPv6 forms", () => {
  assert.ok(inSubnet("10.93.0.200", parseCidr("10.93.0.1/24")));
  assert.ok(!inSubnet("10.93.1.2", parseCidr("10.93.0.1/24")));
  assert.ok(inSubnet("fd93::abcd", parseCidr("fd93::1/64")));
  assert.ok(!inSubnet("fd94::1", parseCidr("fd93::1/64")));
  assert.ok(!inSubnet("10.93.0.2", parseCidr("fd93::1/64")));
  assert.equal(broadcastOf("10.93.0.7", 24), "10.93.0.255");
  assert.equal(broadcastOf("10.93.0.7", 16), "10.93.255.255");
  assert.ok(sameAddress("fd93:0:0::11", "FD93::11"));
  assert.throws(() => parseCidr("10.0.0.1"), TypeError);
});

Deno.test("LXC network config carries MAC, veth, addresses and is replaced on change", () => {
  const spec = {
    name: "piv-a",
    hostname: "a",
    bridge: "pivbr0",
    hostVeth: "piv0000abcd",
    mac: "02:00:0a:5d:00:11",
    ipv4: { address: "10.93.0.11", prefix: 24, gateway: "10.93.0.1", broadcast: "10.93.0.255" },
    ipv6: { address: "fd93::11", prefix: 64, gateway: "fd93::1" },
  };
  const lines = networkConfig(spec);
  assert.ok(lines.includes("lxc.net.0.ipv4.address = 10.93.0.11/24 10.93.0.255"));
  assert.ok(lines.includes("lxc.net.0.hwaddr = 02:00:0a:5d:00:11"));
  const text = "lxc.uts.name = a\n" + lines.join("\n") + "\nlxc.apparmor.profile = unconfined\n";
  const next = withNetworkConfig(text, { ...spec, ipv4: { ...spec.ipv4, address: "10.93.0.22" } });
  assert.match(next, /ipv4\.address = 10\.93\.0\.22\/24/);
  assert.doesNotMatch(next, /10\.93\.0\.11\//);
  assert.match(next, /lxc\.apparmor\.profile = unconfined/);
  assert.equal(next.match(/lxc\.net\.0\.type/g)?.length, 1);
});

Deno.test("KeyedLock serialises one key and Gate runs exclusive holders alone", async () => {
  const lock = new KeyedLock();
  const order: string[] = [];
  const r1 = await lock.acquire(["a", "b"]);
  const second = lock.acquire(["b"]).then((r) => {
    order.push("second");
    r();
  });
  const other = lock.acquire(["c"]).then((r) => {
    order.push("other");
    r();
  });
  await other;
  order.push("release");
  r1();
  await second;
  assert.deepEqual(order, ["other", "release", "second"]);

  const gate = new Gate();
  const s1 = await gate.acquire(false);
  let exclusiveRan = false;
  const ex = gate.acquire(true).then((r) => {
    exclusiveRan = true;
    r();
  });
  await Promise.resolve();
  assert.equal(exclusiveRan, false);
  s1();
  await ex;
  assert.equal(exclusiveRan, true);
});

Deno.test("pairs are sorted and veth names fit IFNAMSIZ", () => {
  assert.deepEqual(pairOf("b", "a"), ["a", "b"]);
  const name = vethName("pivt", "computer-93281-with-a-long-name");
  assert.ok(name.length <= 15);
  assert.equal(name, vethName("pivt", "computer-93281-with-a-long-name"));
  assert.notEqual(name, vethName("pivt", "computer-93282-with-a-long-name"));
});

Deno.test("ss listings become one description per listening socket", () => {
  assert.deepEqual(listenersCommand("udp", 53), [
    "ss",
    "-H",
    "-l",
    "-n",
    "-p",
    "-u",
    "sport",
    "=",
    ":53",
  ]);
  assert.throws(() => listenersCommand("tcp", 0), RangeError);
  const text = [
    'LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    users:(("sshd",pid=812,fd=3))',
    'LISTEN 0      128             [::]:22           [::]:*    users:(("sshd",pid=812,fd=4))',
    "UNCONN 0      0      127.0.0.53%lo:53        0.0.0.0:*",
    "",
  ].join("\n");
  assert.deepEqual(parseListeners(text), [
    "0.0.0.0:22 (sshd, pid 812)",
    "[::]:22 (sshd, pid 812)",
    "127.0.0.53%lo:53",
  ]);
  assert.deepEqual(parseListeners(""), []);
  assert.equal(listenerPort("ws://127.0.0.1:55436/containerManagement"), 55436);
  assert.equal(listenerPort("http://[::1]:9150"), 9150);
  assert.equal(listenerPort("unix:/run/polyagent/quix.sock"), null);
  assert.equal(listenerPort("/var/run/cryptoded.sock"), null);
});

Deno.test("unusableAddress() names what an address is, from the bridge subnet it is checked against", () => {
  const v4 = parseCidr("192.168.50.1/23");
  assert.match(unusableAddress("192.168.50.1", v4, "br")!, /^is the gateway address of bridge br/);
  assert.match(unusableAddress("192.168.50.0", v4, "br")!, /^is the network address/);
  assert.match(unusableAddress("192.168.51.255", v4, "br")!, /^is the broadcast address/);
  assert.equal(unusableAddress("192.168.50.255", v4, "br"), null);
  assert.equal(unusableAddress("10.1.2.3", v4, "br"), null);
  assert.match(unusableAddress("10.1.2.255", v4, "br")!, /broadcast address of its \/24/);
  assert.equal(unusableAddress("10.0.0.2", parseCidr("10.0.0.1/31"), "br"), null);
  const v6 = parseCidr("2001:db8:1::1/48");
  assert.match(unusableAddress("2001:db8:1::", v6, "br")!, /^is the network address/);
  assert.equal(unusableAddress("2001:db8:1:ffff:ffff:ffff:ffff:ffff", v6, "br"), null);
  assert.match(unusableAddress("::1", v6, "br")!, /loopback/);
  assert.match(unusableAddress("ff05::2", v6, "br")!, /multicast/);
  assert.match(unusableAddress("240.1.2.3", v4, "br")!, /reserved/);
});
