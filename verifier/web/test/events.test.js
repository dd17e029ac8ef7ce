// Actor key binding (docs/formats.md, bundle step 5): which key ids name a fingerprint, with the Python
// verifier's rule (?:.*#)?([0-9a-f]{16,64}) where '.' is any character but a newline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KeyMismatch } from "../src/errors.js";
import { actorKeyBinding } from "../src/events.js";
import { PublicKey } from "../src/sm.js";

const KEY = PublicKey.fromPem(`-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAEHSpyIgikMpkOwhK450GG/OMtH6yR
xGRirkS7icJW1h6KoU+7/gDM8NDFpsbJGehalJIx0VByKJkJ6WHvQ7APDw==
-----END PUBLIC KEY-----
`);
const FP = KEY.fingerprint();
const binding = (keyId) => actorKeyBinding({ actor: { key_id: keyId } }, KEY);

test("key ids that name the key's fingerprint", () => {
  for (const id of [FP, `tiezheng#${FP.slice(0, 16)}`, `a#b#${FP.slice(0, 40)}`, `#${FP}`]) assert.equal(binding(id), "fingerprint", id);
});

test("plain names bind by signature only", () => {
  for (const id of ["liu.yang#1", FP.slice(0, 16), `x#${FP.slice(0, 15)}`, `a\nb#${FP.slice(0, 16)}`, `x#${FP}0`, "", `x#${FP.slice(0, 16)}\n`]) {
    assert.equal(binding(id), "signature", JSON.stringify(id));
  }
});

test("a key id naming another fingerprint is a key mismatch", () => {
  const other = FP[0] === "0" ? "1" + FP.slice(1, 16) : "0" + FP.slice(1, 16);
  assert.throws(() => binding(`tiezheng#${other}`), KeyMismatch);
  assert.throws(() => binding("f".repeat(64) === FP ? "e".repeat(64) : "f".repeat(64)), KeyMismatch);
});
