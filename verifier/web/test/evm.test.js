// The browser's EVM receipt check (src/evm.js, src/evmfields.js, src/evmtx.js, src/rlp.js) on a real prague
// block mined by anvil (tests/vectors/evm/): RLP and keccak known answers, the vector verifies, every field
// the Python tests change (tests/integration/test_evm_verify.py, test_evm_fuzz.py, test_evm_tx.py) is refused
// with the same error class and reason, and a hostile value anywhere in the receipt never crashes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ChainMismatch, MalformedInput, VerificationFailed } from "../src/errors.js";
import { TrustRoot } from "../src/trust.js";
import { CHECKPOINT_EVENT, CHECKPOINT_FUNCTION, verifyEvmEvidence } from "../src/evm.js";
import { parseEvidence } from "../src/evmfields.js";
import { decodeTransaction } from "../src/evmtx.js";
import { EMPTY_TRIE_ROOT, decode, encode, encodeInt, keccak256, trieRoot } from "../src/rlp.js";
import { fromHex, toHex, utf8 } from "../src/bytes.js";
import { loads } from "../src/json.js";

const VECTOR = JSON.parse(readFileSync(new URL("../../../tests/vectors/evm/anvil-prague-three-receipts.json", import.meta.url), "utf-8"));
const rootWith = (chain) => TrustRoot.fromBytes(utf8(JSON.stringify({ v: 1, type: "tiezheng.trust-root/v1", logs: [], regulator_chains: [chain] })));
const ROOT = rootWith(VECTOR.chain);
const TOPICS = [keccak256(utf8(CHECKPOINT_EVENT)), fromHex(VECTOR.evidence.log.topics[1].slice(2), "topic")];
const check = (evidence, root = ROOT) => verifyEvmEvidence(parseEvidence(evidence, "evidence"), root, TOPICS, CHECKPOINT_FUNCTION);
const clone = (v) => JSON.parse(JSON.stringify(v));
const raw = (hex) => fromHex(hex.slice(2), "tx", null);

function changed(path, value) {
  const out = clone(VECTOR.evidence);
  let target = out;
  for (const key of path.slice(0, -1)) target = target[key];
  const last = path[path.length - 1];
  if (value === DELETE) delete target[last];
  else target[last] = typeof value === "function" ? value(target[last]) : value;
  return out;
}
const DELETE = Symbol("delete");
const hexFlip = (text) => text.slice(0, -1) + (text.endsWith("0") ? "1" : "0");

test("keccak-256, rlp and the empty trie root: known answers", () => {
  assert.equal(toHex(keccak256(new Uint8Array(0))), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  assert.equal(toHex(keccak256(utf8("Transfer(address,address,uint256)"))), "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
  const d = utf8("dog"), c = utf8("cat");
  for (const [item, want] of [[d, "83646f67"], [[c, d], "c88363617483646f67"], [new Uint8Array(0), "80"], [[], "c0"],
    [encodeInt(0), "80"], [Uint8Array.of(15), "0f"], [encodeInt(1024), "820400"], [[[], [[]], [[], [[]]]], "c7c0c1c0c3c0c1c0"]]) {
    assert.equal(toHex(encode(item)), want);
    assert.equal(toHex(encode(decode(encode(item)))), want);
  }
  assert.equal(toHex(EMPTY_TRIE_ROOT), "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");
  assert.equal(trieRoot([]), EMPTY_TRIE_ROOT);
});

test("rlp decode accepts only the canonical encoding", () => {
  for (const [hex, reason] of [["8100", /single byte below 0x80/], ["b800", /long length used for fewer than 56|truncated/],
    ["8264", /longer than the data/], ["8080", /1 bytes after its item/], ["", /ends before/], ["b90000", /leading zeros/]]) {
    assert.throws(() => decode(fromHex(hex, "x", null)), reason, hex);
  }
  let deep = [];
  for (let i = 0; i < 16; i++) deep = [deep];
  assert.throws(() => decode(encode(deep)), /nest deeper than 16/);
  assert.equal(decode(encode(deep[0])).length, 1);
});

test("the anvil block verifies: header hash, receipts and transactions tries, the operator's signed call", () => {
  assert.equal(check(VECTOR.evidence).contract, VECTOR.chain.contract);
  const tx = decodeTransaction(raw(VECTOR.evidence.transactions[1]));
  assert.equal(tx.sender, VECTOR.evidence.from);
  assert.equal(tx.to, VECTOR.chain.contract);
});

const TAMPERED = [
  [["chain_id"], 1, /the trust root names no registry 0x[0-9a-f]{40} on chain 1/],
  [["contract"], "0x" + "ab".repeat(20), /the trust root names no registry 0xabab/],
  [["from"], "0x" + "cd".repeat(20), /evm transaction sender 0xcdcd.* is not an operator/],
  [["block_hash"], hexFlip, /evm block header hashes to [0-9a-f]{64}, not the block hash/],
  [["block_number"], (v) => v + 1, /evm block header number is [0-9]+, want block_number/],
  [["block_header", "stateRoot"], hexFlip, /evm block header hashes to/],
  [["block_header", "receiptsRoot"], hexFlip, /evm block header hashes to/],
  [["transaction_index"], 7, /evm transaction_index 7 is not in the block \(3 receipts\)/],
  [["transaction_index"], 0, /evm log_index 1 is not a log of transaction 0/],
  [["log_index"], 0, /evm log_index 0 is not a log of transaction 1 \(its logs are 1..1\)/],
  [["log", "data"], hexFlip, /evm log differs from log 1 of the block's receipts/],
  [["log", "topics", 1], hexFlip, /evm log differs from log 1/],
  [["log", "address"], hexFlip, /evm log differs from log 1/],
  [["receipts", 1, "status"], "0x0", /evm block receipts rebuild receiptsRoot [0-9a-f]{64}, the header/],
  [["receipts", 1, "logs", 0, "data"], hexFlip, /evm block receipts rebuild receiptsRoot/],
  [["receipts", 0, "cumulativeGasUsed"], "0x1", /evm block receipts rebuild receiptsRoot/],
  [["tx_hash"], "0x" + "11".repeat(32), /evm tx_hash 1111.* is not transaction 1 of the block, which/],
  [["transactions", 1], (v) => v.slice(0, -2) + "00", /evm block transactions rebuild transactionsRoot/],
  [["transactions"], (v) => v.slice(0, 2), /evm block transactions rebuild transactionsRoot/],
];

for (const [path, value, reason] of TAMPERED) {
  test(`evidence ${path.join(".")} changed is refused`, () => {
    assert.throws(() => check(changed(path, value)), (e) => e instanceof ChainMismatch && reason.test(e.message) || assert.fail(`${e.name}: ${e.message}`));
  });
}

test("malformed fields are MalformedInput", () => {
  for (const [path, value, reason] of [
    [["block_header", "extra"], "0x", /block_header must have the header fields/],
    [["block_header", "number"], "0x01", /block_header.number must be a minimal 0x hex quantity/],
    [["block_header", "number"], "0x1_0", /minimal 0x hex quantity/],
    [["log", "data"], "0xABCD", /log.data must be 0x and lower-case hex bytes/],
    [["log", "data"], "0xab cd", /log.data must be 0x and lower-case hex bytes/],
    [["receipts", 0, "status"], "0x2", /status 0 or 1/],
    [["tx_hash"], "0x1234", /tx_hash must be 32 bytes, got 2/],
    [["receipts"], {}, /receipts must be a list/],
  ]) {
    assert.throws(() => check(changed(path, value)), (e) => e instanceof MalformedInput && reason.test(e.message), path.join("."));
  }
});

test("the sender is the signer of the transaction, not just any operator", () => {
  const other = "0x" + "cd".repeat(20);
  const root = rootWith({ ...VECTOR.chain, operators: [...VECTOR.chain.operators, other] });
  assert.throws(() => check(changed(["from"], other), root), new RegExp(`evm transaction 1 is signed by 0x[0-9a-f]{40}, not by from ${other}`));
});

test("without raw transactions the transaction's hash and signer are not checked offline", () => {
  const bare = changed(["transactions"], null);
  check(bare);
  check({ ...bare, tx_hash: "0x" + "11".repeat(32) });
});

test("signed transactions: a changed, cut, high-s or replayable one is refused", () => {
  const tx = raw(VECTOR.evidence.transactions[1]);
  assert.equal(tx[0], 2);
  const fields = decode(tx.subarray(1));
  const typed = (list) => Uint8Array.from([2, ...encode(list)]);
  const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  for (const [list, reason] of [
    [fields.slice(0, -1), /type 0x2 transaction must be an rlp list of 12 fields/],
    [[...fields.slice(0, -1), encodeInt(N - 1n)], /recovers no secp256k1 key/],
    [[...fields.slice(0, -3), encodeInt(2), ...fields.slice(-2)], /recovers no secp256k1 key/],
    [[...fields.slice(0, 5), new Uint8Array(19).fill(1), ...fields.slice(6)], /destination must be 20 bytes/],
    [[...fields.slice(0, 8), new Uint8Array(0), ...fields.slice(9)], /access list must be an rlp list/],
    [[Uint8Array.of(0, 1), ...fields.slice(1)], /chain id is not a minimal rlp integer/],
  ]) {
    assert.throws(() => decodeTransaction(typed(list)), reason);
  }
  assert.notEqual(decodeTransaction(typed([...fields.slice(0, 2), encodeInt(2), ...fields.slice(3)])).sender, VECTOR.evidence.from);
  assert.throws(() => decodeTransaction(Uint8Array.of(3, 0xc0)), /transaction type 0x3 is not one/);
  assert.throws(() => decodeTransaction(new Uint8Array(0)), /raw transaction is 0 bytes/);
  assert.throws(() => decodeTransaction(Uint8Array.from([...tx, 0])), /rlp has 1 bytes after its item/);
  const legacy = encode([encodeInt(0), encodeInt(1), encodeInt(21000), new Uint8Array(20), new Uint8Array(0), new Uint8Array(0), encodeInt(27), encodeInt(1), encodeInt(1)]);
  assert.throws(() => decodeTransaction(legacy), /v 27 has no eip-155 chain id/);
});

// Every value path of the receipt, each replaced by each hostile value (or deleted): refused, never a crash.
const HOSTILE = [null, true, false, -1, 0, 1.5, 2 ** 53, "", "0x", "0x0", "0x00", "0xzz", "\ud800", "A".repeat(300), [], {}, [[[]]], DELETE];

function paths(value, prefix = []) {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((v, i) => paths(v, [...prefix, i]))];
  if (value !== null && typeof value === "object") return [prefix, ...Object.entries(value).flatMap(([k, v]) => paths(v, [...prefix, k]))];
  return [prefix];
}

test("hostile values anywhere in the receipt are refused, never crash", () => {
  const accepted = [];
  for (const path of paths(VECTOR.evidence).filter((p) => p.length)) {
    const original = path.reduce((v, k) => v[k], VECTOR.evidence);
    for (const value of HOSTILE.filter((v) => v !== original)) {
      try {
        check(loads(utf8(JSON.stringify(changed(path, value))), "receipt")); // as a pack's json reads it
      } catch (exc) {
        if (!(exc instanceof MalformedInput || exc instanceof VerificationFailed)) throw new Error(`${path.join(".")} = ${String(value)}: ${exc.stack}`);
        continue;
      }
      accepted.push(`${path.join(".")}=${String(value)}`);
    }
  }
  assert.ok(accepted.every((a) => a === "transactions=null"), accepted.slice(0, 5).join("; "));
});
