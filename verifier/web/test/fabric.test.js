// The browser's Fabric receipt check (src/fabric.js, src/fabricblock.js) on the real block captured from the
// Fabric 2.1.1 network (tests/vectors/fabric/, written by tests/e2e/test_demo_fabric.py): it verifies, and
// every receipt field and every region of the block changed is refused with the error class and reason the
// Python verifier gives (tests/unit/verifier/test_fabric.py has the same cases). Checks beneath the
// orderer's signature (endorsements, write set) are exercised directly, as there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { sha256 } from "@noble/hashes/sha2.js";
import { AnchorMismatch, BadSignature, KeyMismatch, MalformedInput, VerifierError } from "../src/errors.js";
import { TrustRoot } from "../src/trust.js";
import { checkEndorsements, checkpointKey, parseFabricReceipt, storedRecord, verifyFabricReceipt } from "../src/fabric.js";
import { blockHeaderBytes, parse } from "../src/fabricblock.js";
import { fields } from "../src/protowire.js";
import * as pb from "../src/fabricpb.js";
import { toHex, utf8 } from "../src/bytes.js";
import { edit, editField, field, flip } from "./protoedit.js";

const VECTORS = new URL("../../../tests/vectors/fabric/", import.meta.url);
const BUNDLE = JSON.parse(readFileSync(new URL("bundle.json", VECTORS), "utf-8"));
const TRUST = TrustRoot.fromBytes(new Uint8Array(readFileSync(new URL("trust-root.json", VECTORS))));
const { backend: _b, consistency_proof: _p, ...RECEIPT } = BUNDLE.anchors.find((a) => a.backend === "fabric");
const RAW = new Uint8Array(Buffer.from(RECEIPT.block, "base64"));
const b64 = (bytes) => Buffer.from(bytes).toString("base64");

const verify = (changes = {}, network = TRUST.fabric) => verifyFabricReceipt(parseFabricReceipt({ ...RECEIPT, ...changes }), network);
const refused = (fn, kind, reason) => assert.throws(fn, (e) => {
  assert.ok(e instanceof kind, `${e.name}: ${e.message}`);
  assert.match(e.message, reason);
  return true;
});

test("the captured block verifies: endorsed by both orgs, signed by the orderer org, storing the checkpoint", () => {
  const found = verify();
  assert.deepEqual(found.endorsedBy, ["Org1MSP", "Org2MSP"]);
  assert.equal(found.orderer.mspId, "OrdererMSP");
  assert.match(found.orderer.subject, /OU=orderer/);
  assert.match(found.checkpointText, new RegExp(`^${found.origin}\n${RECEIPT.tree_size}\n`));
});

test("block header bytes are the DER fabric signs; the checkpoint key is the chaincode's composite key", () => {
  assert.equal(toHex(blockHeaderBytes({ number: 128n, previousHash: Uint8Array.of(1), dataHash: new Uint8Array(0) })), "3009020200800401010400");
  assert.equal(toHex(checkpointKey("o/x", 7)), toHex(utf8("\x00tiezheng.checkpoint\x00o/x\x0000000000000000000007\x00")));
});

const RECEIPT_CASES = [
  ["tx_id", "0".repeat(64), AnchorMismatch, /is not the receipt's: got .*want \[3,"evidence","0000/],
  ["channel", "other", AnchorMismatch, /is not the receipt's: .*receipt channel "other"/],
  ["chaincode", "other", AnchorMismatch, /ran chaincode "checkpoints" \(receipt says "other"\)/],
  ["block_number", 1, AnchorMismatch, /fabric block number mismatch: block is \d+, receipt says 1$/],
  ["tx_index", 9, AnchorMismatch, /tx_index 9 is not in block \d+ of 1 transactions/],
  ["validation_code", "MVCC_READ_CONFLICT", AnchorMismatch, /is not valid: block validation code 0, receipt says "MVCC_READ_CONFLICT"/],
  ["tree_size", RECEIPT.tree_size + 1, AnchorMismatch, /write set does not store the receipt's checkpoint/],
  ["root_hash", "ab".repeat(32), AnchorMismatch, /write set does not store the receipt's checkpoint: .*"abab/],
  ["block", b64(Uint8Array.of(0xff, 0xff, 0xff)), MalformedInput, /fabric block does not parse/],
  ["block", "not base64!", MalformedInput, /block/],
  ["tree_size", -1, MalformedInput, /tree_size/],
  ["tx_id", "", MalformedInput, /fabric anchor.tx_id must be 1 to 128 characters/],
];

for (const [key, value, kind, reason] of RECEIPT_CASES) {
  test(`receipt ${key} = ${String(value).slice(0, 12)} is refused`, () => refused(() => verify({ [key]: value }), kind, reason));
}

test("a receipt field missing or unknown is malformed; hostile values never crash", () => {
  const { block: _, ...missing } = RECEIPT;
  refused(() => parseFabricReceipt(missing), MalformedInput, /fabric anchor is missing field 'block'/);
  refused(() => parseFabricReceipt({ ...RECEIPT, extra: 1 }), MalformedInput, /fabric anchor has unknown field "extra"/);
  refused(() => parseFabricReceipt({ ...RECEIPT, backend: "fabric" }), MalformedInput, /unknown field "backend"/);
  for (const key of Object.keys(RECEIPT)) {
    for (const value of [null, true, -1, 0, 2 ** 53, 1e308, "", "\ud800", "A".repeat(200), "=".repeat(8), [], {}, [[[]]]]) {
      if (value === RECEIPT[key]) continue;
      assert.throws(() => verify({ [key]: value }), VerifierError, `${key} = ${JSON.stringify(value)}`);
    }
  }
});

// -- every region of the block ------------------------------------------------------------------------
const header = (fn) => (raw) => editField(raw, 1, (h) => edit(h, fn));
const setHeader = (number, value) => header((list) => list.map((f) => (f.number === number ? { ...f, value } : f)));
const data = (fn) => (raw) => editField(raw, 2, (d) => editField(d, 1, fn));
const metadata = (fn) => (raw) => editField(raw, 3, (m) => edit(m, fn));
const entry = (index, fn) => metadata((list) => list.map((f, i) => (i === index ? { ...f, value: fn(f.value) } : f)));
const rehash = (raw) => {
  const envelopes = fields(fields(raw, "b").find((f) => f.number === 2).value, "d").map((f) => f.value);
  return setHeader(3, sha256(Buffer.concat(envelopes)))(raw);
};

const BLOCK_CASES = [
  ["header number", header((list) => list.map((f) => (f.number === 1 ? { ...f, value: f.value + 1n } : f))), AnchorMismatch, /fabric block number mismatch/],
  ["header previous hash", setHeader(2, new Uint8Array(32)), BadSignature, /has no valid orderer signature: orderer signature/],
  ["header data hash", setHeader(3, new Uint8Array(32)), AnchorMismatch, /data hash mismatch: calculated [0-9a-f]{64}, header/],
  ["transaction bytes", data((d) => flip(d, Math.floor(d.length / 2))), AnchorMismatch, /data hash mismatch/],
  ["transaction bytes, data hash recomputed", (raw) => rehash(data((d) => flip(d, Math.floor(d.length / 2)))(raw)), BadSignature, /no valid orderer signature/],
  ["signature metadata value", entry(0, (v) => flip(v, 3)), VerifierError, /orderer signature|parse/],
  ["orderer signature bytes", entry(0, (v) => flip(v, -3)), VerifierError, /orderer signature|parse/],
  ["validation code", entry(2, (v) => flip(v, 0)), AnchorMismatch, /is not valid: block validation code 1, receipt says "VALID"/],
  ["validation codes cut", entry(2, () => new Uint8Array(0)), AnchorMismatch, /validation codes cover 0 transactions, the block has 1/],
  ["no signature metadata", metadata(() => []), BadSignature, /has no orderer signature metadata/],
  ["last config metadata", entry(1, () => Uint8Array.of(0x0a, 0x02, 0x08, 0x07)), AnchorMismatch, /LAST_CONFIG metadata differs from the signed last config index \d+/],
  ["orderer metadata", entry(3, () => Uint8Array.of(0x0a, 0x00)), AnchorMismatch, /ORDERER metadata must be empty in fabric 2.x, got 2 bytes/],
  ["commit hash metadata", entry(4, () => Uint8Array.of(0x0a, 0x01, 0x00)), AnchorMismatch, /COMMIT_HASH metadata is not one 32-byte hash/],
  ["sixth metadata entry", metadata((list) => [...list, { number: 1, wire: 2, value: new Uint8Array(0) }]), AnchorMismatch, /has 6 metadata entries, want 5/],
  ["unknown field appended", (raw) => Buffer.concat([raw, Uint8Array.of(0xa0, 0x06, 0x01)]), AnchorMismatch, /is not in canonical protobuf form/],
  ["block number written as an over-long varint", (raw) => editField(raw, 1, (h) => Buffer.concat([field(1, 0, 0n).subarray(0, 1), Uint8Array.of(0x9e, 0x00), h.subarray(2)])), AnchorMismatch, /is not in canonical protobuf form/],
  ["header written twice", (raw) => Buffer.concat([raw.subarray(0, 0), field(1, 2, fields(raw, "b")[0].value), raw]), AnchorMismatch, /is not in canonical protobuf form|data hash|orderer/],
];

for (const [name, change, kind, reason] of BLOCK_CASES) {
  test(`block ${name} changed is refused`, () => refused(() => verify({ block: b64(change(RAW)) }), kind, reason));
}

test("every changed byte of the block is refused, but the peer's commit hash", () => {
  const commit = parse(parse(RAW, pb.Block, "block").metadata.metadata[4], pb.Metadata, "m").value;
  const start = Buffer.from(RAW).lastIndexOf(Buffer.from(commit));
  const accepted = [];
  for (let at = 0; at < RAW.length; at += 5) {
    try {
      verify({ block: b64(flip(RAW, at, 0x10)) });
    } catch (exc) {
      assert.ok(exc instanceof VerifierError, `byte ${at}: ${exc.stack}`);
      continue;
    }
    if (!(start <= at && at < start + 32)) accepted.push(at);
  }
  assert.deepEqual(accepted, []);
});

// -- the trust root's fabric section ------------------------------------------------------------------
const orgs = Object.fromEntries(TRUST.fabric.orgs.map((o) => [o.mspId, o]));
const network = (changes) => ({ ...TRUST.fabric, ...changes });

test("an org's CA not in the trust root is refused", () => {
  const swapped = { ...orgs.Org2MSP, caCertificates: orgs.Org1MSP.caCertificates };
  refused(() => verify({}, network({ orgs: [orgs.Org1MSP, swapped, orgs.OrdererMSP] })), KeyMismatch, /peer certificate .* is not issued by a ca of Org2MSP in the trust root/);
  const orderer = { ...orgs.OrdererMSP, caCertificates: orgs.Org1MSP.caCertificates };
  refused(() => verify({}, network({ orgs: [orgs.Org1MSP, orgs.Org2MSP, orderer] })), BadSignature, /no valid orderer signature: orderer certificate .* not issued by a ca of OrdererMSP/);
  refused(() => verify({}, network({ orderers: ["Org1MSP"] })), BadSignature, /identity of msp "OrdererMSP" is not one the trust root names/);
});

test("the trust root's channel or chaincode differs: refused", () => {
  refused(() => verify({}, network({ channel: "other" })), AnchorMismatch, /is not the receipt's: .*trust root channel "other"/);
  refused(() => verify({}, network({ chaincode: "other" })), AnchorMismatch, /ran chaincode "checkpoints" \(receipt says "checkpoints"\), want "other"/);
});

// -- beneath the orderer's signature ------------------------------------------------------------------
function action() {
  const block = parse(RAW, pb.Block, "block");
  const payload = parse(parse(block.data.data[RECEIPT.tx_index], pb.Envelope, "e").payload, pb.Payload, "p");
  const tx = parse(payload.data, pb.Transaction, "t");
  return parse(tx.actions[0].payload, pb.ChaincodeActionPayload, "a").action;
}

test("endorsements: both orgs verify; a changed signature, one org only or another payload is refused", () => {
  assert.deepEqual(checkEndorsements(action(), TRUST.fabric, "t"), ["Org1MSP", "Org2MSP"]);
  const a = action();
  a.endorsements[1] = { ...a.endorsements[1], signature: flip(a.endorsements[1].signature, -2) };
  refused(() => checkEndorsements(a, TRUST.fabric, "t"), BadSignature, /endorsement 1: peer signature by Org\dMSP .* does not verify/);
  const one = action();
  one.endorsements.pop();
  refused(() => checkEndorsements(one, TRUST.fabric, "t"), BadSignature, /is not endorsed by Org\dMSP \(endorsed by: Org\dMSP\); the trust root requires Org1MSP, Org2MSP/);
  const other = action();
  other.proposalResponsePayload = Buffer.concat([other.proposalResponsePayload, Uint8Array.of(0)]);
  refused(() => checkEndorsements(other, TRUST.fabric, "t"), BadSignature, /endorsement 0: peer signature by Org\dMSP .* does not verify/);
});

// The response payload with the chaincode namespace's writes changed by fn(writes as field lists).
function rewriteWrites(fn) {
  const kv = (rwset) => edit(rwset, (list) => fn(list.filter((f) => f.number === 3).map((w) => fields(w.value, "w")), list.filter((f) => f.number !== 3)));
  const ns = (results) => edit(results, (list) => list.map((f) => (f.number !== 2 ? f : { ...f, value: editField(f.value, 2, kv) })));
  return editField(action().proposalResponsePayload, 2, (ext) => editField(ext, 1, ns));
}

const keyOf = (w) => new TextDecoder().decode(w.find((f) => f.number === 1).value);
const withValue = (w, value) => w.map((f) => (f.number === 3 ? { ...f, value } : f));
const asField = (w) => ({ number: 3, wire: 2, value: Buffer.concat(w.map((f) => field(f.number, f.wire, f.value))) });

const WRITE_CASES = [
  ["record root", (w) => (keyOf(w).startsWith("\x00tiezheng.checkpoint") ? withValue(w, utf8(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(w.find((f) => f.number === 3).value)), root_hash: "ee".repeat(32) }))) : w), /write set does not store the receipt's checkpoint: got key, size, root .*"eeee/],
  ["latest pointer", (w) => (keyOf(w).startsWith("\x00tiezheng.latest") ? withValue(w, utf8("1")) : w), /write set does not make tree size \d+ the latest of/],
  ["no record", (w) => (keyOf(w).startsWith("\x00tiezheng.checkpoint") ? null : w), /writes 0 checkpoint records, want 1/],
  ["record not json", (w) => (keyOf(w).startsWith("\x00tiezheng.checkpoint") ? withValue(w, utf8("{")) : w), /stores a checkpoint record that is not the chaincode's json/],
];

test("the stored record is the receipt's checkpoint; a changed write set is refused", () => {
  const receipt = parseFabricReceipt(RECEIPT);
  const record = storedRecord(action().proposalResponsePayload, receipt, TRUST.fabric);
  assert.equal(record.tree_size, RECEIPT.tree_size);
  assert.equal(record.root_hash, RECEIPT.root_hash);
  for (const [name, change, reason] of WRITE_CASES) {
    const payload = rewriteWrites((writes, rest) => [...rest, ...writes.map(change).filter((w) => w !== null).map(asField)]);
    assert.throws(() => storedRecord(payload, receipt, TRUST.fabric), (e) => e instanceof VerifierError && reason.test(e.message), name);
  }
});
