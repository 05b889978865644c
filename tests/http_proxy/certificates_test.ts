/** The choice of a certificate by server name (pure logic of certificates.ts). */
import assert from "node:assert/strict";
import { type CertificateSpec, CertificateStore } from "../../lib/backends/http_proxy/mod.ts";

function cert(fingerprint: string, names: string[]): CertificateSpec {
  return { fingerprint, certificate: "", chain: [], key: "", names };
}

Deno.test("exact beats a one-label wildcard; unknown and no SNI get the first added", () => {
  const store = new CertificateStore();
  assert.equal(store.resolve("a.example.com"), null, "no certificate at all");
  store.add(cert("first", ["first.test"]));
  store.add(cert("wild", ["*.example.com"]));
  store.add(cert("exact", ["a.example.com"]));
  const fp = (name: string) => store.resolve(name)?.fingerprint;
  assert.equal(fp("a.example.com"), "exact");
  assert.equal(fp("A.Example.COM."), "exact", "case and a trailing dot do not matter");
  assert.equal(fp("b.example.com"), "wild");
  assert.equal(fp("x.b.example.com"), "first", "a wildcard covers one label only");
  assert.equal(fp("example.com"), "first");
  assert.equal(fp(""), "first", "no SNI");
  assert.equal(store.soleCertificate(), null);
  store.remove("exact");
  assert.equal(fp("a.example.com"), "wild");
});

Deno.test("the listener's own default wins; the last certificate for a name serves it", () => {
  const own = cert("own", ["own.test"]);
  const store = new CertificateStore(own);
  assert.equal(store.soleCertificate(), own);
  store.add(cert("one", ["shared.test"]));
  store.add(cert("two", ["shared.test"]));
  assert.equal(store.resolve("shared.test")?.fingerprint, "two");
  assert.equal(store.resolve("nobody.test")?.fingerprint, "own");
  store.remove("two");
  assert.equal(store.resolve("shared.test")?.fingerprint, "one", "the previous one takes over");
  store.setListenerDefault(null);
  assert.equal(store.soleCertificate()?.fingerprint, "one");
  assert.equal(store.resolve("nobody.test")?.fingerprint, "one");
});
