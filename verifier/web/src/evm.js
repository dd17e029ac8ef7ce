// Offline check of an EVM receipt from the regulator chain's registry (docs/formats.md, "EVM receipt" and
// "Regulator chain"). A receipt carries the registry's event log, the header of the block holding it and
// every receipt and raw transaction of that block; `verifyEvmEvidence` checks, in order:
//  1. the trust root names the registry (chain id and contract) and the sender is one of its operators;
//  2. keccak-256(RLP(header)) is block_hash, and the header's number is block_number;
//  3. the receipts rebuild the header's receiptsRoot (the trie keyed by RLP(index));
//  4. the receipt at transaction_index succeeded and holds the log at the block-wide log_index;
//  5. the log was emitted by the registry with exactly the expected topics;
//  6. unless transactions is null: they rebuild transactionsRoot, the one at transaction_index hashes to
//     tx_hash, is signed by `from`, for this chain, to the registry, with no value, and calls the registry
//     function with the log's topic 1 and data.
// What no offline check shows: that the block is on the chain the regulator follows, and final.
import { ChainMismatch } from "./errors.js";
import { concat, equal, toHex, utf8 } from "./bytes.js";
import { hexField, intField, requireFields, requireObject, strField } from "./json.js";
import { sm3 } from "./sm.js";
import { encode, keccak256, trieRoot } from "./rlp.js";
import { parseEvidence, receiptTrieValue } from "./evmfields.js";
import { decodeTransaction } from "./evmtx.js";

export const CHECKPOINT_EVENT = "CheckpointAnchored(bytes32,uint64,bytes32)";
export const CHECKPOINT_FUNCTION = "anchorCheckpoint(bytes32,uint64,bytes32)";
const ANCHOR_FIELDS = ["tree_size", "root_hash", "origin", "origin_hash", "chain_id", "contract", "tx_hash", "from",
  "transaction_index", "block_number", "block_hash", "log_index", "log", "block_header", "receipts", "transactions"];

/** Parse a pack's EVM receipt: exactly the checkpoint fields and the evidence fields (MalformedInput). */
export function parseEvmReceipt(value) {
  const where = "evm anchor";
  const obj = requireObject(value, where);
  requireFields(obj, where, ANCHOR_FIELDS);
  return {
    treeSize: intField(obj, "tree_size", where),
    rootHash: hexField(obj, "root_hash", where),
    origin: strField(obj, "origin", where),
    originHash: hexField(obj, "origin_hash", where),
    evidence: parseEvidence(obj, where),
  };
}

/**
 * Check that an EVM receipt logs exactly the checkpoint `checkpoint` (a verified checkpoint of the pack of
 * the receipt's size): its origin, SM3(origin) as topic 1, then the evidence (steps 1 to 6), then the
 * log's data is exactly (tree size, root). Returns the trust root's registry entry; raises ChainMismatch.
 */
export function verifyEvmAnchor(receipt, checkpoint, trustRoot) {
  if (receipt.origin !== checkpoint.origin) {
    throw new ChainMismatch(`evm anchor origin mismatch: got ${JSON.stringify(receipt.origin.slice(0, 80))}, want ${JSON.stringify(checkpoint.origin)}`);
  }
  const originHash = sm3(utf8(checkpoint.origin));
  if (!equal(receipt.originHash, originHash)) throw new ChainMismatch(`evm anchor origin_hash mismatch: got ${toHex(receipt.originHash)}, want ${toHex(originHash)}`);
  const chain = verifyEvmEvidence(receipt.evidence, trustRoot, [keccak256(utf8(CHECKPOINT_EVENT)), originHash], CHECKPOINT_FUNCTION);
  requireData(receipt.evidence.log, BigInt(receipt.treeSize), receipt.rootHash);
  if (BigInt(receipt.treeSize) !== checkpoint.treeSize || !equal(receipt.rootHash, checkpoint.rootHash)) {
    throw new ChainMismatch(`evm anchor logs size ${receipt.treeSize}, not the pack checkpoint's ${checkpoint.treeSize} and root`);
  }
  return chain;
}

/** Steps 1 to 6 for `evidence` with the log's `topics`, written by a call of `fn` (its signature text). */
export function verifyEvmEvidence(evidence, trustRoot, topics, fn) {
  const chain = trustedChain(evidence, trustRoot);
  checkHeader(evidence);
  checkReceipts(evidence);
  const log = evidence.log;
  if ("0x" + toHex(log.address) !== chain.contract) throw new ChainMismatch(`evm log emitted by 0x${toHex(log.address)}, not the registry ${chain.contract}`);
  if (log.topics.length !== topics.length || log.topics.some((t, i) => !equal(t, topics[i]))) {
    throw new ChainMismatch(`evm log topics mismatch: got ${log.topics.map(toHex).join(", ")}, want ${topics.map(toHex).join(", ")}`);
  }
  if (evidence.transactions !== null) checkTransaction(evidence, chain, fn);
  return chain;
}

function trustedChain(evidence, trustRoot) {
  const chain = trustRoot.regulatorChains.find((c) => c.chainId === evidence.chainId && c.contract === evidence.contract);
  if (chain === undefined) {
    const named = trustRoot.regulatorChains.map((c) => `${c.chainId}:${c.contract}`).join(", ") || "none";
    throw new ChainMismatch(`the trust root names no registry ${evidence.contract} on chain ${evidence.chainId} (it names: ${named})`);
  }
  if (!chain.operators.includes(evidence.sender)) {
    throw new ChainMismatch(`evm transaction sender ${evidence.sender} is not an operator of the registry (operators: ${chain.operators.join(", ")})`);
  }
  return chain;
}

function checkHeader(evidence) {
  const calculated = keccak256(encode([...evidence.header.values()]));
  if (!equal(calculated, evidence.blockHash)) throw new ChainMismatch(`evm block header hashes to ${toHex(calculated)}, not the block hash ${toHex(evidence.blockHash)}`);
  const number = BigInt("0x0" + toHex(evidence.header.get("number")));
  if (number !== BigInt(evidence.blockNumber)) throw new ChainMismatch(`evm block header number is ${number}, want block_number ${evidence.blockNumber}`);
}

function checkReceipts(evidence) {
  const root = trieRoot(evidence.receipts.map(receiptTrieValue)), want = evidence.header.get("receiptsRoot");
  if (!equal(root, want)) throw new ChainMismatch(`evm block receipts rebuild receiptsRoot ${toHex(root)}, the header says ${toHex(want)}`);
  const index = evidence.transactionIndex;
  if (index >= evidence.receipts.length) throw new ChainMismatch(`evm transaction_index ${index} is not in the block (${evidence.receipts.length} receipts)`);
  const receipt = evidence.receipts[index];
  if (receipt.status !== 1) throw new ChainMismatch(`evm transaction ${index} of the block failed (status ${receipt.status})`);
  const first = evidence.receipts.slice(0, index).reduce((n, r) => n + r.logs.length, 0);
  const position = evidence.logIndex - first;
  if (!(position >= 0 && position < receipt.logs.length)) {
    throw new ChainMismatch(`evm log_index ${evidence.logIndex} is not a log of transaction ${index} (its logs are ${first}..${first + receipt.logs.length - 1})`);
  }
  if (!sameLog(receipt.logs[position], evidence.log)) throw new ChainMismatch(`evm log differs from log ${evidence.logIndex} of the block's receipts`);
}

function sameLog(a, b) {
  return equal(a.address, b.address) && equal(a.data, b.data) && a.topics.length === b.topics.length &&
    a.topics.every((t, i) => equal(t, b.topics[i]));
}

function checkTransaction(evidence, chain, fn) {
  const transactions = evidence.transactions, index = evidence.transactionIndex;
  const root = trieRoot(transactions), want = evidence.header.get("transactionsRoot");
  if (!equal(root, want)) throw new ChainMismatch(`evm block transactions rebuild transactionsRoot ${toHex(root)}, the header says ${toHex(want)}`);
  if (transactions.length !== evidence.receipts.length) throw new ChainMismatch(`evm block has ${transactions.length} transactions but ${evidence.receipts.length} receipts`);
  const calculated = keccak256(transactions[index]);
  if (!equal(calculated, evidence.txHash)) throw new ChainMismatch(`evm tx_hash ${toHex(evidence.txHash)} is not transaction ${index} of the block, which hashes to ${toHex(calculated)}`);
  let tx;
  try {
    tx = decodeTransaction(transactions[index]);
  } catch (exc) {
    throw new ChainMismatch(`evm transaction ${index} of the block: ${exc.message}`);
  }
  if (tx.sender !== evidence.sender) throw new ChainMismatch(`evm transaction ${index} is signed by ${tx.sender}, not by from ${evidence.sender}`);
  if (tx.chainId !== BigInt(evidence.chainId) || tx.to !== chain.contract || tx.value !== 0n) {
    throw new ChainMismatch(`evm transaction ${index} is for chain ${tx.chainId} to ${tx.to} with value ${tx.value}, want chain ${evidence.chainId} to ${chain.contract} with value 0`);
  }
  const calldata = concat(keccak256(utf8(fn)).subarray(0, 4), evidence.log.topics[1], evidence.log.data);
  if (!equal(tx.data, calldata)) throw new ChainMismatch(`evm transaction ${index} does not call ${fn} with the logged arguments`);
}

function requireData(log, number, value) {
  if (log.data.length !== 64) throw new ChainMismatch(`evm log data is ${log.data.length} bytes, want 64 (tree size and root)`);
  const got = BigInt("0x" + toHex(log.data.subarray(0, 32))), root = log.data.subarray(32);
  if (got >= 1n << 64n) throw new ChainMismatch(`evm log data word 0 is ${got}, beyond uint64`);
  if (got !== number || !equal(root, value)) throw new ChainMismatch(`evm log tree size and root mismatch: got ${got} ${toHex(root)}, want ${number} ${toHex(value)}`);
}

