// The core never throws and never reports its own failure (internal-error) on hostile bytes: random edits,
// truncations and junk around a real pack (tests/vectors/packs/valid-permit.json); every answer is a reason
// class of docs/formats.md with its exit code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { exitCodeOf, REASONS, verifyPack } from "../src/index.js";

const VECTORS = fileURLToPath(new URL("../../../tests/vectors/packs/", import.meta.url));
const present = existsSync(VECTORS + "valid-permit.json");

function rng(seed) {
  let x = seed >>> 0;
  return (n) => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x % n;
  };
}

test("hostile bytes get a reason class, never an internal error", { skip: !present && "no pack vectors yet" }, async () => {
  const v = JSON.parse(readFileSync(VECTORS + "valid-permit.json", "utf-8"));
  const pack = new Uint8Array(Buffer.from(v.pack, "base64"));
  const trust = new Uint8Array(readFileSync(VECTORS + v.trust_root));
  const next = rng(20261201);
  const inputs = [new Uint8Array(0), pack.subarray(0, 22), pack.subarray(pack.length - 22)];
  for (let i = 0; i < 400; i++) {
    const data = Uint8Array.from(pack);
    for (let k = 0, n = 1 + next(8); k < n; k++) data[next(data.length)] = next(256);
    inputs.push(i % 5 === 0 ? data.subarray(0, next(data.length)) : data);
  }
  for (const data of inputs) {
    for (const root of [trust, null, trust.subarray(0, 10)]) {
      const report = await verifyPack({ zip: data }, root);
      assert.ok(report.reason === null || report.reason in REASONS || report.reason.startsWith("anchor-"), report.detail);
      assert.equal(report.exit_code, report.reason === null ? 0 : exitCodeOf(report.reason));
    }
  }
  const folder = new Map([["manifest.json", new Uint8Array([0x7b])], ["../x", new Uint8Array(3)]]);
  assert.equal((await verifyPack({ folder }, trust)).reason, "manifest");
});
