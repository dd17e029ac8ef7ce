// A real two-chain pack (tests/vectors/chainpack/, captured by tests/vectors/generate_chain_pack.py from the
// Fabric network and an anvil registry): the browser verifier reaches dual-chain with a trust root naming
// both chains, fabric with the Fabric orgs alone, signed with neither, as `tiezheng verify` does; each
// chain receipt changed is refused by its checker (the pack-level agreement with the Python verifier,
// manifest re-signed, is tests/unit/verifier/test_web_agreement.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { verifyPack } from "../src/index.js";
import { TrustRoot } from "../src/trust.js";
import { Checkpoint } from "../src/checkpoint.js";
import { readPackZip } from "../src/zip.js";
import { checkEvm, checkFabric } from "../src/chainanchors.js";
import { VerifierError } from "../src/errors.js";
import { utf8 } from "../src/bytes.js";

const VECTOR = JSON.parse(readFileSync(new URL("../../../tests/vectors/chainpack/two-chain.json", import.meta.url), "utf-8"));
const PACK = new Uint8Array(Buffer.from(VECTOR.pack, "base64"));
const rootBytes = (changes) => utf8(JSON.stringify({ ...VECTOR.trust_root, ...changes }));
const FILES = new Map(readPackZip(PACK).map((e) => [e.path, e.data]));
const envelope = (kind) => JSON.parse(new TextDecoder().decode(FILES.get(`anchors/${kind}.json`)));

function context(changes = {}) {
  const trustRoot = TrustRoot.fromBytes(rootBytes(changes));
  const size = envelope("fabric").receipts[0].tree_size;
  const checkpoint = Checkpoint.fromText(new TextDecoder().decode(FILES.get(`checkpoints/${size}.txt`)));
  return {
    trustRoot, logKeys: trustRoot.logKeys(checkpoint.origin),
    content: { manifest: { origin: checkpoint.origin }, checkpoints: new Map([[BigInt(size), checkpoint]]) },
  };
}

test("the two-chain pack is dual-chain with both chains trusted, as the CLI says", () => {
  const report = verifyPack({ zip: PACK }, rootBytes({}));
  assert.equal(report.reason, null, report.detail);
  assert.equal(report.assurance, "dual-chain");
  const kinds = Object.fromEntries(report.anchors.map((a) => [a.kind, a]));
  assert.equal(kinds.fabric.status, "verified");
  assert.equal(kinds.evm.status, "verified");
  assert.match(kinds.fabric.detail, /endorsed by Org1MSP, Org2MSP, block signed by OrdererMSP \(not checked offline: that the block is on the channel's ledger/);
  assert.match(kinds.evm.detail, /not checked offline: that the block is on the regulator chain and final/);
  assert.equal(kinds.fabric.receipts[0].endorsed_by, "Org1MSP, Org2MSP");
});

test("fabric alone is fabric; the regulator chain alone, or neither, is signed", () => {
  const fabricOnly = verifyPack({ zip: PACK }, rootBytes({ regulator_chains: [] }));
  assert.equal(fabricOnly.assurance, "fabric");
  assert.equal(fabricOnly.anchors.find((a) => a.kind === "evm").status, "not checked");
  assert.equal(verifyPack({ zip: PACK }, rootBytes({ fabric: null })).assurance, "signed");
  assert.equal(verifyPack({ zip: PACK }, rootBytes({ fabric: null, regulator_chains: [] })).assurance, "signed");
});

test("a trust root naming other Fabric CAs or another registry refuses the pack as anchor-<kind>", () => {
  const [org1, org2, orderer] = VECTOR.trust_root.fabric.orgs;
  const otherCa = { ...VECTOR.trust_root.fabric, orgs: [org1, { ...org2, ca_certificates: org1.ca_certificates }, orderer] };
  const report = verifyPack({ zip: PACK }, rootBytes({ fabric: otherCa }));
  assert.equal(report.reason, "anchor-fabric", report.detail);
  assert.match(report.detail, /not issued by a ca of Org2MSP/);
  const chain = { ...VECTOR.trust_root.regulator_chains[0], operators: ["0x" + "cd".repeat(20)] };
  const evm = verifyPack({ zip: PACK }, rootBytes({ regulator_chains: [chain] }));
  assert.equal(evm.reason, "anchor-evm", evm.detail);
  assert.match(evm.detail, /is not an operator of the registry/);
});

test("a changed chain receipt is refused by its checker, never a crash", () => {
  const ctx = context();
  const fabric = envelope("fabric"), evm = envelope("evm");
  assert.equal(checkFabric(fabric, ctx).status, "verified");
  assert.equal(checkEvm(evm, ctx).status, "verified");
  const fabricChanges = [["tx_id", "0".repeat(64)], ["block_number", 1], ["validation_code", "INVALID"], ["root_hash", "00".repeat(32)],
    ["block", Buffer.from(Buffer.from(fabric.receipts[0].block, "base64").subarray(10)).toString("base64")], ["backend", "fabric"]];
  for (const [key, value] of fabricChanges) {
    assert.throws(() => checkFabric({ receipts: [{ ...fabric.receipts[0], [key]: value }] }, ctx), VerifierError, key);
  }
  const evmChanges = [["block_hash", "0x" + "00".repeat(32)], ["origin", "other/log"], ["tree_size", fabric.receipts[0].tree_size + 1],
    ["origin_hash", "00".repeat(32)], ["consistency_proof", []], ["transactions", []]];
  for (const [key, value] of evmChanges) {
    assert.throws(() => checkEvm({ receipts: [{ ...evm.receipts[0], [key]: value }] }, ctx), VerifierError, key);
  }
});
