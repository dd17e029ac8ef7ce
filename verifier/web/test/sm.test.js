// SM2 keys and signatures: a fixed OpenSSL 3 vector, live cross-verification with the openssl command
// (when it is installed), and the strictness of keys and DER signatures.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BadSignature, MalformedInput } from "../src/errors.js";
import { fromHex, utf8 } from "../src/bytes.js";
import { PublicKey, verifySm2 } from "../src/sm.js";

// Made with: openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:SM2; openssl pkeyutl -sign -rawin
// -digest sm3 -pkeyopt distid:1234567812345678 (OpenSSL 3.0.19), message "checkpoint body\n".
const PEM = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEHSpyIgikMpkOwhK450GG/OMtH6yR
xGRirkS7icJW1h6KoU+7/gDM8NDFpsbJGehalJIx0VByKJkJ6WHvQ7APDw==
-----END PUBLIC KEY-----
`;
const SIG = fromHex("30460221009ddffce484020ecfc4fb23426d095789953cc904310f199aff419fb24d6dee77022100b775a0ea8a5cb6ef7854ad1ca53cda149ea49332da2008235efeffb0bb245a66", "sig", null);
const MSG = utf8("checkpoint body\n");

test("sm2 verifies the fixed openssl signature", () => {
  verifySm2(PublicKey.fromPem(PEM), MSG, SIG);
});

test("sm2 refuses another message", () => {
  assert.throws(() => verifySm2(PublicKey.fromPem(PEM), utf8("checkpoint bodY\n"), SIG), BadSignature);
});

test("sm2 refuses a signature with a padded integer (not der)", () => {
  const bad = Uint8Array.from([0x30, 0x47, 0x02, 0x22, 0x00, ...SIG.subarray(4, 37), ...SIG.subarray(37)]);
  assert.throws(() => verifySm2(PublicKey.fromPem(PEM), MSG, bad), BadSignature);
});

test("sm2 refuses trailing bytes and truncation of a signature", () => {
  const key = PublicKey.fromPem(PEM);
  assert.throws(() => verifySm2(key, MSG, Uint8Array.from([...SIG, 0])), BadSignature);
  assert.throws(() => verifySm2(key, MSG, SIG.subarray(0, SIG.length - 1)), BadSignature);
  assert.throws(() => verifySm2(key, MSG, new Uint8Array(0)), BadSignature);
});

test("sm2 refuses every single-bit flip of the signature", () => {
  const key = PublicKey.fromPem(PEM);
  for (let bit = 0; bit < SIG.length * 8; bit += 7) {
    const bad = SIG.slice();
    bad[bit >> 3] ^= 1 << (bit & 7);
    assert.throws(() => verifySm2(key, MSG, bad), BadSignature, `bit ${bit}`);
  }
});

test("public key: other curve, off-curve point, other block type are malformed", () => {
  const der = PublicKey.fromPem(PEM).spkiDer;
  const offCurve = der.slice();
  offCurve[offCurve.length - 1] ^= 1;
  assert.throws(() => PublicKey.fromDer(offCurve), MalformedInput);
  const p256 = der.slice();
  p256.set([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07], 17);
  assert.throws(() => PublicKey.fromDer(p256), MalformedInput);
  assert.throws(() => PublicKey.fromPem(PEM.replaceAll("PUBLIC KEY", "PRIVATE KEY")), MalformedInput);
  assert.throws(() => PublicKey.fromPem(PEM + "garbage"), MalformedInput);
  assert.equal(PublicKey.fromPem("\n  " + PEM + "\n").fingerprint(), PublicKey.fromPem(PEM).fingerprint());
});

function openssl(...args) {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

let haveOpenssl = true;
try {
  openssl("version");
} catch {
  haveOpenssl = false;
}

test("sm2 cross-verifies fresh openssl keys and signatures", { skip: !haveOpenssl && "openssl not installed" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tz-sm2-"));
  for (let i = 0; i < 5; i++) {
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", join(dir, "k.pem"));
    openssl("pkey", "-in", join(dir, "k.pem"), "-pubout", "-out", join(dir, "pub.pem"));
    const message = utf8(`permit HW-${i} signed ✓`);
    writeFileSync(join(dir, "msg"), message);
    openssl("pkeyutl", "-sign", "-inkey", join(dir, "k.pem"), "-rawin", "-digest", "sm3", "-in", join(dir, "msg"),
      "-out", join(dir, "sig"), "-pkeyopt", "distid:1234567812345678");
    verifySm2(PublicKey.fromPem(readFileSync(join(dir, "pub.pem"), "utf-8")), message, new Uint8Array(readFileSync(join(dir, "sig"))));
  }
});
