// Fabric certificates are read with verify.html's one strict DER reader (src/der.js): an org CA certificate
// captured from the Fabric 2.1.1 network parses, and the same certificate made BER (a BOOLEAN TRUE written
// as 01 instead of FF, which lenient readers accept) or with a byte after it is refused, as the Python
// verifier (cryptography's X.509 parser) refuses it (tests/unit/verifier/test_trust.py has the same cases).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { MalformedInput } from "../src/errors.js";
import { X509 } from "../src/x509.js";

const TRUST = JSON.parse(readFileSync(new URL("../../../tests/vectors/fabric/trust-root.json", import.meta.url), "utf-8"));
const PEM = TRUST.fabric.orgs[0].ca_certificates[0];
const DER = new Uint8Array(Buffer.from(PEM.split("\n").filter((l) => l && !l.startsWith("-----")).join(""), "base64"));

function withBerTrue(der) {
  const out = der.slice();
  const at = out.findIndex((_, i) => out[i] === 0x01 && out[i + 1] === 0x01 && out[i + 2] === 0xff);
  assert.ok(at > 0, "the CA certificate has a critical extension");
  out[at + 2] = 0x01;
  return out;
}

test("the captured org CA certificate parses", () => {
  const cert = X509.fromDer(DER, "ca");
  assert.match(cert.subject, /CN=ca\.org1/);
  assert.equal(cert.key.name, "P-256");
  assert.ok(cert.issuedBy(cert), "self-signed");
});

test("a BER boolean inside the certificate is refused, not read", () => {
  assert.throws(() => X509.fromDer(withBerTrue(DER), "ca"),
    (e) => e instanceof MalformedInput && /ca is not an x\.509 certificate: certificate is not der: boolean not 00 or ff/.test(e.message));
});

test("a byte after the certificate is refused", () => {
  const longer = new Uint8Array(DER.length + 1);
  longer.set(DER);
  assert.throws(() => X509.fromDer(longer, "ca"), (e) => e instanceof MalformedInput && /1 bytes after the value/.test(e.message));
});
