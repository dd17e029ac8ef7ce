// The JSON fields of an EVM receipt, parsed strictly (docs/formats.md, "EVM receipt"): 0x lower-case hex,
// minimal 0x quantities, bounded sizes; anything else is MalformedInput. One spelling per value, so a
// receipt means one set of bytes.
import { MalformedInput } from "./errors.js";
import { short } from "./bytes.js";
import { intField, listField, objectField, requireFields, requireObject, strField } from "./json.js";
import { encode, encodeInt } from "./rlp.js";

export const MAX_RECEIPTS = 100_000;
export const MAX_TRANSACTION_BYTES = 128 * 1024;
const MAX_LOGS = 10_000, MAX_TOPICS = 4, MAX_DATA = 1 << 20;
const HEX0X = /^0x(?:[0-9a-f]{2})*$/;
const QUANTITY = /^0x(?:0|[1-9a-f][0-9a-f]{0,63})$/;

/** The header fields in RLP order: Ethereum's original 15, then those later forks appended. */
export const HEADER_FIELDS = [
  "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
  "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
  "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot", "requestsHash",
];
const QUANTITIES = new Set(["difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed", "excessBlobGas"]);
const EVIDENCE_FIELDS = ["chain_id", "contract", "tx_hash", "from", "transaction_index", "block_number", "block_hash",
  "log_index", "log", "block_header", "receipts", "transactions"];

/** Bytes of 0x lower-case hex `text` (exactly `size` of them when given, at most `limit`). */
export function bytes0x(text, where, size = null, limit = MAX_DATA) {
  if (typeof text !== "string" || !HEX0X.test(text) || text.length - 2 > 2 * limit) {
    throw new MalformedInput(`${where} must be 0x and lower-case hex bytes, got ${short(text)}`);
  }
  const out = new Uint8Array((text.length - 2) / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 + 2 * i, 2), 16);
  if (size !== null && out.length !== size) throw new MalformedInput(`${where} must be ${size} bytes, got ${out.length}`);
  return out;
}

function quantity(text, where) {
  if (typeof text !== "string" || !QUANTITY.test(text)) throw new MalformedInput(`${where} must be a minimal 0x hex quantity, got ${short(text)}`);
  return BigInt(text);
}

function hex0xField(obj, key, where, size = null) {
  return bytes0x(strField(obj, key, where), `${where}.${key}`, size);
}

/** The 20-byte address under `key`, as 0x lower-case hex. */
export function addressField(obj, key, where) {
  hex0xField(obj, key, where, 20);
  return obj[key];
}

/** An event log {address, topics (at most 4), data}. */
export function parseLog(value, where) {
  const obj = requireObject(value, where);
  requireFields(obj, where, ["address", "topics", "data"]);
  const topics = listField(obj, "topics", where, MAX_TOPICS);
  return {
    address: hex0xField(obj, "address", where, 20),
    topics: topics.map((t, i) => bytes0x(t, `${where}.topics[${i}]`, 32)),
    data: hex0xField(obj, "data", where),
  };
}

/** A block receipt {type, status (0 or 1), cumulativeGasUsed, logsBloom, logs}. */
export function parseReceipt(value, where) {
  const obj = requireObject(value, where);
  requireFields(obj, where, ["type", "status", "cumulativeGasUsed", "logsBloom", "logs"]);
  const type = quantity(obj.type, `${where}.type`), status = quantity(obj.status, `${where}.status`);
  if (type > 0x7fn || status > 1n) throw new MalformedInput(`${where}: type must be below 0x80 and status 0 or 1, got 0x${type.toString(16)} and 0x${status.toString(16)}`);
  const logs = listField(obj, "logs", where, MAX_LOGS);
  return {
    type: Number(type), status: Number(status),
    cumulativeGas: quantity(obj.cumulativeGasUsed, `${where}.cumulativeGasUsed`),
    bloom: hex0xField(obj, "logsBloom", where, 256),
    logs: logs.map((lg, i) => parseLog(lg, `${where}.logs[${i}]`)),
  };
}

/** A receipt's entry in the receipts trie: RLP, behind the EIP-2718 type byte for typed receipts. */
export function receiptTrieValue(receipt) {
  const body = encode([encodeInt(receipt.status), encodeInt(receipt.cumulativeGas), receipt.bloom,
    receipt.logs.map((lg) => [lg.address, lg.topics, lg.data])]);
  if (receipt.type === 0) return body;
  const out = new Uint8Array(body.length + 1);
  out[0] = receipt.type;
  out.set(body, 1);
  return out;
}

/** The header fields in RLP order as [name, raw value] (quantities as minimal big-endian bytes). */
export function parseHeader(obj, where) {
  const keys = Object.keys(obj), names = HEADER_FIELDS.slice(0, keys.length);
  if (keys.length < 15 || keys.length > HEADER_FIELDS.length || !keys.every((k) => names.includes(k))) {
    throw new MalformedInput(`${where} must have the header fields ${HEADER_FIELDS.slice(0, 15).join(", ")} and a prefix of ${HEADER_FIELDS.slice(15).join(", ")}; got ${keys.sort().join(", ").slice(0, 300)}`);
  }
  return names.map((name) => [name, QUANTITIES.has(name) ? encodeInt(quantity(obj[name], `${where}.${name}`)) : bytes0x(obj[name], `${where}.${name}`)]);
}

/** The evidence fields of an EVM receipt object (the others are the caller's). */
export function parseEvidence(obj, where) {
  requireFields(obj, where, EVIDENCE_FIELDS, Object.keys(obj));
  const receipts = listField(obj, "receipts", where, MAX_RECEIPTS);
  return {
    chainId: intField(obj, "chain_id", where),
    contract: addressField(obj, "contract", where),
    txHash: hex0xField(obj, "tx_hash", where, 32),
    sender: addressField(obj, "from", where),
    transactionIndex: intField(obj, "transaction_index", where),
    blockNumber: intField(obj, "block_number", where),
    blockHash: hex0xField(obj, "block_hash", where, 32),
    logIndex: intField(obj, "log_index", where),
    log: parseLog(obj.log, `${where}.log`),
    header: new Map(parseHeader(objectField(obj, "block_header", where), `${where}.block_header`)),
    receipts: receipts.map((r, i) => parseReceipt(r, `${where}.receipts[${i}]`)),
    transactions: parseTransactions(obj, where),
  };
}

function parseTransactions(obj, where) {
  if (obj.transactions === null) return null;
  return listField(obj, "transactions", where, MAX_RECEIPTS)
    .map((t, i) => bytes0x(t, `${where}.transactions[${i}]`, null, MAX_TRANSACTION_BYTES));
}
