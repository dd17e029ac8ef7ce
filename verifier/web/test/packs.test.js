// The evidence-pack golden vectors (tests/vectors/packs/, written by tests/vectors/generate_packs.py with the
// server's pack builder): the browser verifier's core gives each the reason class, exit code and file the
// Python verifier must give (test_pack_vectors.py reads the same files).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { verifyPack } from "../src/index.js";

const VECTORS = fileURLToPath(new URL("../../../tests/vectors/packs/", import.meta.url));
const present = existsSync(VECTORS);
const cases = present ? readdirSync(VECTORS).filter((f) => f.endsWith(".json") && !f.startsWith("trust-root")).sort() : [];
const bytes = (b64) => new Uint8Array(Buffer.from(b64, "base64"));

test("pack vectors exist, valid and refused both", { skip: !present && "tests/vectors/packs does not exist yet" }, () => {
  assert.ok(cases.length > 0);
  const wants = new Set(cases.map((f) => JSON.parse(readFileSync(join(VECTORS, f), "utf-8")).want_error));
  assert.deepEqual(wants, new Set([true, false]));
});

for (const file of cases) {
  test(`pack ${file}`, async () => {
    const v = JSON.parse(readFileSync(join(VECTORS, file), "utf-8"));
    const report = await verifyPack({ zip: bytes(v.pack) }, new Uint8Array(readFileSync(join(VECTORS, v.trust_root))));
    if (!v.want_error) {
      assert.equal(report.reason, null, report.detail);
      assert.equal(report.valid, true);
      assert.equal(report.assurance, "signed");
      return;
    }
    assert.equal(report.reason, v.want_reason, report.detail);
    assert.equal(report.exit_code, v.want_exit);
    if (v.want_path !== null) assert.equal(report.path, v.want_path);
  });
}
