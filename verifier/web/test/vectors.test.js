// The browser verifier's core against the repository's golden vectors (tests/vectors/, written by ledger
// and ingest) and the standards' known answers: the same files the Python verifier must pass.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { VerificationFailed, VerifierError } from "../src/errors.js";
import { fromHex, toHex, utf8 } from "../src/bytes.js";
import { verifyConsistency, verifyInclusion } from "../src/merkle.js";
import { decryptObject, verifyObject } from "../src/segments.js";
import { sm3 } from "../src/sm.js";

const VECTORS = fileURLToPath(new URL("../../../tests/vectors/", import.meta.url));

function files(kind) {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith(".json")) out.push(path);
    }
  };
  walk(join(VECTORS, kind));
  return out;
}

const load = (path) => JSON.parse(readFileSync(path, "utf-8"));
const hashes = (list) => list.map((h) => fromHex(h, "proof", 32));

function run(kind, check, errorClass = VerificationFailed) {
  const paths = files(kind);
  test(`${kind} vectors exist, valid and want_error both`, () => {
    assert.ok(paths.length > 0, `tests/vectors/${kind} holds no vectors`);
    assert.deepEqual(new Set(paths.map((p) => load(p).want_error)), new Set([true, false]));
  });
  for (const path of paths) {
    test(`${kind} ${relative(VECTORS, path)}`, () => {
      const v = load(path);
      if (v.want_error) assert.throws(() => check(v), errorClass);
      else check(v);
    });
  }
}

run("inclusion", (v) => verifyInclusion(v.leaf_index, v.tree_size, fromHex(v.leaf_hash, "leaf", 32), hashes(v.proof), fromHex(v.root, "root", 32)));
run("consistency", (v) => verifyConsistency(v.size1, v.size2, fromHex(v.root1, "root1", 32), fromHex(v.root2, "root2", 32), hashes(v.proof)));
run("segments", (v) => {
  const key = fromHex(v.data_key, "key", 16), blob = fromHex(v.object, "object", null), id = fromHex(v.object_id, "id", 16);
  verifyObject(key, blob, id, fromHex(v.plaintext_sm3, "sm3", 32), v.plaintext_size);
  assert.equal(toHex(decryptObject(key, blob, id)), v.plaintext);
}, VerifierError);

test("sm3 known answers (GB/T 32905-2016 appendix A)", () => {
  assert.equal(toHex(sm3(utf8("abc"))), "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
  assert.equal(toHex(sm3(utf8("abcd".repeat(16)))), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732");
  assert.equal(toHex(sm3(new Uint8Array(0))), "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b");
});
