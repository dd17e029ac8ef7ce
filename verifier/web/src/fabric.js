// Offline check of a Fabric anchor receipt (docs/formats.md, "Fabric anchor receipt") against the trust
// root's Fabric section: the orgs' CA certificates, who must endorse, who orders. The receipt carries the
// whole block that committed the anchoring transaction; `verifyFabricReceipt` checks, in order:
//  1. the block parses and is the receipt's block number;
//  2. its data hash is SHA-256 over its envelopes (the header covers the transaction);
//  3. an orderer of a trusted orderer org signed it, and it is in the one form Fabric writes (fabricblock.js);
//  4. the envelope at tx_index is an endorser transaction of the trust root's channel with the receipt's tx id;
//  5. its validation code in the block metadata is VALID, as the receipt says;
//  6. its endorsements are valid signatures over its one proposal response, by peers whose certificates chain
//     to their org's CA, and every org the trust root requires endorsed;
//  7. that response is the trust root's chaincode's, answered 200, and its write set stores exactly the
//     receipt's checkpoint (origin, size, root) under the chaincode's key for it, and makes it the latest.
// What no offline check shows: that the block is on the channel's ledger (the orderer signs blocks of any
// fork it is shown) and the validation code, which the serving peer writes and nobody signs.
import { AnchorMismatch, BadSignature, MalformedInput } from "./errors.js";
import { concat, equal, toHex, utf8 } from "./bytes.js";
import { b64Field, hexField, intField, isObject, loads, requireFields, requireObject, strField } from "./json.js";
import * as pb from "./fabricpb.js";
import {
  MAX_BLOCK_BYTES, checkBlockForm, checkDataHash, checkIdentitySignature, checkOrdererSignature, orgsOf, parse,
  validationCode,
} from "./fabricblock.js";

const FIELDS = ["tree_size", "root_hash", "tx_id", "channel", "chaincode", "block_number", "tx_index", "validation_code", "block"];
const ENDORSER_TRANSACTION = 3; // common.HeaderType
const MAX_TEXT = 128;
const CHECKPOINT_PREFIX = utf8("\x00tiezheng.checkpoint\x00");

/** Parse a pack's Fabric receipt: exactly the fields of the format (MalformedInput naming the field). */
export function parseFabricReceipt(value) {
  const where = "fabric anchor";
  const obj = requireObject(value, where);
  requireFields(obj, where, FIELDS);
  const block = b64Field(obj, "block", where);
  if (block.length > MAX_BLOCK_BYTES) throw new MalformedInput(`${where}.block is ${block.length} bytes, want at most ${MAX_BLOCK_BYTES}`);
  return {
    treeSize: intField(obj, "tree_size", where),
    rootHash: hexField(obj, "root_hash", where),
    txId: shortText(obj, "tx_id"),
    channel: shortText(obj, "channel"),
    chaincode: shortText(obj, "chaincode"),
    blockNumber: intField(obj, "block_number", where),
    txIndex: intField(obj, "tx_index", where),
    validationCode: shortText(obj, "validation_code"),
    block,
  };
}

function shortText(obj, key) {
  const text = strField(obj, key, "fabric anchor"), length = [...text].length;
  if (length < 1 || length > MAX_TEXT) throw new MalformedInput(`fabric anchor.${key} must be 1 to ${MAX_TEXT} characters, got ${length}`);
  return text;
}

/** The chaincode's state key of a checkpoint: composite key tiezheng.checkpoint of (origin, 20-digit size). */
export function checkpointKey(origin, treeSize) {
  return utf8(`\x00tiezheng.checkpoint\x00${origin}\x00${String(treeSize).padStart(20, "0")}\x00`);
}

/**
 * Steps 1 to 7 on a parsed receipt against the trust root's `network`. Returns the findings {origin,
 * checkpointText, endorsedBy, orderer, blockNumber}; raises MalformedInput, AnchorMismatch, BadSignature
 * or KeyMismatch with the reason.
 */
export function verifyFabricReceipt(receipt, network) {
  const block = parse(receipt.block, pb.Block, "block");
  if (block.header.number !== BigInt(receipt.blockNumber)) {
    throw new AnchorMismatch(`fabric block number mismatch: block is ${block.header.number}, receipt says ${receipt.blockNumber}`);
  }
  checkDataHash(block);
  const orderer = checkOrdererSignature(block, network);
  checkBlockForm(block, receipt.block);
  const payload = transactionPayload(block, receipt, network);
  const code = validationCode(block, receipt.txIndex);
  if (code !== 0 || receipt.validationCode !== "VALID") {
    throw new AnchorMismatch(`fabric transaction ${receipt.txId} is not valid: block validation code ${code}, receipt says ${JSON.stringify(receipt.validationCode)}; want 0 (VALID)`);
  }
  const tx = parse(payload.data, pb.Transaction, "transaction");
  if (tx.actions.length !== 1) throw new AnchorMismatch(`fabric transaction ${receipt.txId} has ${tx.actions.length} actions, want 1`);
  const action = parse(tx.actions[0].payload, pb.ChaincodeActionPayload, "chaincode action").action;
  const endorsedBy = checkEndorsements(action, network, receipt.txId);
  const record = storedRecord(action.proposalResponsePayload, receipt, network);
  return { origin: record.origin, checkpointText: record.checkpoint, endorsedBy, orderer, blockNumber: receipt.blockNumber };
}

// Step 4: the payload of the envelope at tx_index, an endorser transaction with the receipt's tx id.
function transactionPayload(block, receipt, network) {
  if (receipt.txIndex >= block.data.data.length) {
    throw new AnchorMismatch(`fabric anchor tx_index ${receipt.txIndex} is not in block ${receipt.blockNumber} of ${block.data.data.length} transactions`);
  }
  const envelope = parse(block.data.data[receipt.txIndex], pb.Envelope, "envelope");
  const payload = parse(envelope.payload, pb.Payload, "payload");
  const header = parse(payload.header.channelHeader, pb.ChannelHeader, "channel header");
  const got = [header.type, header.channelId, header.txId], want = [ENDORSER_TRANSACTION, network.channel, receipt.txId];
  if (got.some((v, i) => v !== want[i]) || receipt.channel !== network.channel) {
    throw new AnchorMismatch(`fabric transaction ${receipt.txIndex} of block ${receipt.blockNumber} is not the receipt's: got (type, channel, tx id) ${JSON.stringify(got).slice(0, 300)}, want ${JSON.stringify(want)} (receipt channel ${JSON.stringify(receipt.channel)}, trust root channel ${JSON.stringify(network.channel)})`);
  }
  return payload;
}

/** Step 6: every endorsement verifies over payload || endorser; each org the trust root requires endorsed. */
export function checkEndorsements(endorsed, network, txId) {
  const orgs = orgsOf(network, network.endorsers), response = endorsed.proposalResponsePayload;
  const signers = endorsed.endorsements.map((e, i) => {
    try {
      return checkIdentitySignature(e.endorser, concat(response, e.endorser), e.signature, orgs, "peer");
    } catch (exc) {
      if (exc instanceof BadSignature) throw new BadSignature(`fabric transaction ${txId} endorsement ${i}: ${exc.message}`);
      throw exc;
    }
  });
  const endorsedBy = [...new Set(signers.map((s) => s.mspId))].sort();
  const missing = network.endorsers.filter((msp) => !endorsedBy.includes(msp));
  if (missing.length) {
    throw new BadSignature(`fabric transaction ${txId} is not endorsed by ${missing.join(", ")} (endorsed by: ${endorsedBy.join(", ") || "nobody"}); the trust root requires ${network.endorsers.join(", ")}`);
  }
  return endorsedBy;
}

/** Step 7: the chaincode's write set stores exactly the receipt's checkpoint; returns that record. */
export function storedRecord(responsePayload, receipt, network) {
  const response = parse(responsePayload, pb.ProposalResponsePayload, "proposal response payload");
  const action = parse(response.extension, pb.ChaincodeAction, "chaincode action result");
  if (action.chaincodeId.name !== network.chaincode || receipt.chaincode !== network.chaincode) {
    throw new AnchorMismatch(`fabric transaction ${receipt.txId} ran chaincode ${JSON.stringify(action.chaincodeId.name.slice(0, 80))} (receipt says ${JSON.stringify(receipt.chaincode)}), want ${JSON.stringify(network.chaincode)}`);
  }
  if (action.response.status !== 200) throw new AnchorMismatch(`fabric transaction ${receipt.txId} chaincode answered ${action.response.status}`);
  const writes = chaincodeWrites(action.results, network.chaincode);
  const records = [...writes].filter(([key]) => startsWith(utf8(key), CHECKPOINT_PREFIX));
  if (records.length !== 1) throw new AnchorMismatch(`fabric transaction ${receipt.txId} writes ${records.length} checkpoint records, want 1`);
  const [key, value] = records[0];
  const record = parseRecord(value, receipt.txId);
  const got = [toHex(checkpointKey(record.origin, record.tree_size)), record.tree_size, record.root_hash];
  const want = [toHex(utf8(key)), receipt.treeSize, toHex(receipt.rootHash)];
  if (got.some((v, i) => v !== want[i])) {
    throw new AnchorMismatch(`fabric write set does not store the receipt's checkpoint: got key, size, root ${JSON.stringify(got).slice(0, 400)}, want ${JSON.stringify(want)}`);
  }
  const latest = writes.get(`\x00tiezheng.latest\x00${record.origin}\x00`);
  if (latest === undefined || !equal(latest, utf8(String(receipt.treeSize)))) {
    throw new AnchorMismatch(`fabric write set does not make tree size ${receipt.treeSize} the latest of ${JSON.stringify(record.origin.slice(0, 80))}`);
  }
  return record;
}

// The chaincode namespace's writes (key -> value) in a serialised TxReadWriteSet; a later write of a key wins.
function chaincodeWrites(results, chaincode) {
  const found = new Map();
  for (const ns of parse(results, pb.TxReadWriteSet, "read-write set").ns) {
    if (ns.namespace !== chaincode) continue;
    for (const w of parse(ns.rwset, pb.KVRWSet, "key-value write set").writes) {
      if (!w.isDelete) found.set(w.key, w.value);
    }
  }
  return found;
}

function parseRecord(value, txId) {
  let record = null;
  try {
    record = loads(value, "fabric checkpoint record");
  } catch (exc) {
    if (!(exc instanceof MalformedInput)) throw exc;
  }
  const ok = isObject(record) && typeof record.origin === "string" && Number.isSafeInteger(record.tree_size) &&
    typeof record.root_hash === "string" && typeof record.checkpoint === "string";
  if (!ok) throw new MalformedInput(`fabric transaction ${txId} stores a checkpoint record that is not the chaincode's json (origin, tree_size, root_hash, checkpoint)`);
  return record;
}

function startsWith(bytes, prefix) {
  return bytes.length >= prefix.length && equal(bytes.subarray(0, prefix.length), prefix);
}
