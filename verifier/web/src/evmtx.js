// Signed EVM transactions decoded offline (EIP-155 legacy, EIP-2930 and EIP-1559 envelopes of EIP-2718):
// chain id, nonce, destination, value, calldata, and the sender recovered from the secp256k1 signature
// (low s only, as Ethereum since EIP-2). With the block's raw transactions this shows what a receipt alone
// cannot: that the registry call was signed by the claimed operator, for this chain, with these arguments.
import { secp256k1 } from "@noble/curves/secp256k1.js";
import { toHex } from "./bytes.js";
import { decode, decodeInt, encode, encodeInt, keccak256 } from "./rlp.js";
import { MAX_TRANSACTION_BYTES } from "./evmfields.js";

const N = secp256k1.Point.CURVE().n;

/** Decode raw signed transaction bytes; throws Error naming the fault (not canonical, unknown type, bad signature). */
export function decodeTransaction(raw) {
  if (!raw.length || raw.length > MAX_TRANSACTION_BYTES) throw new Error(`raw transaction is ${raw.length} bytes, want 1 to ${MAX_TRANSACTION_BYTES}`);
  if (raw[0] >= 0xc0) return legacy(decode(raw));
  if (raw[0] === 1 || raw[0] === 2) return typed(raw[0], decode(raw.subarray(1)));
  throw new Error(`transaction type 0x${raw[0].toString(16)} is not one the registry's operators send (legacy, 0x1, 0x2)`);
}

function fieldsOf(item, count, what) {
  if (!Array.isArray(item) || item.length !== count) throw new Error(`${what} transaction must be an rlp list of ${count} fields`);
  return item;
}

function typed(kind, item) {
  const fields = fieldsOf(item, kind === 1 ? 11 : 12, `type 0x${kind}`);
  const signed = fields.slice(0, -3), [parity, r, s] = fields.slice(-3);
  const to = kind === 1 ? 4 : 5; // 0x1: chain, nonce, gasPrice, gas, to; 0x2: chain, nonce, tip, maxFee, gas, to
  if (!Array.isArray(fields[to + 3])) throw new Error("transaction access list must be an rlp list");
  const body = encode(signed), message = new Uint8Array(body.length + 1);
  message[0] = kind;
  message.set(body, 1);
  return transaction(decodeInt(fields[0], "chain id"), fields[1], fields[to], fields[to + 1], fields[to + 2],
    sender(keccak256(message), r, s, decodeInt(parity, "y parity")));
}

function legacy(item) {
  const fields = fieldsOf(item, 9, "legacy");
  const v = decodeInt(fields[6], "v");
  if (v < 35n) throw new Error(`legacy transaction v ${v} has no eip-155 chain id (replayable on any chain)`);
  const chainId = (v - 35n) / 2n, recovery = (v - 35n) % 2n;
  const digest = keccak256(encode([...fields.slice(0, 6), encodeInt(chainId), new Uint8Array(0), new Uint8Array(0)]));
  return transaction(chainId, fields[0], fields[3], fields[4], fields[5], sender(digest, fields[7], fields[8], recovery));
}

function transaction(chainId, nonce, to, value, data, from) {
  if (!(to instanceof Uint8Array) || (to.length !== 0 && to.length !== 20) || !(data instanceof Uint8Array)) {
    throw new Error("transaction destination must be 20 bytes (or empty) and its data a byte string");
  }
  return { chainId, nonce: decodeInt(nonce, "nonce"), to: to.length ? "0x" + toHex(to) : null, value: decodeInt(value, "value"), data, sender: from };
}

// The address (0x lower-case hex) of the key that (r, s, recovery) recovers from `digest`.
function sender(digest, rItem, sItem, recovery) {
  const r = decodeInt(rItem, "r"), s = decodeInt(sItem, "s");
  const refused = new Error("transaction signature recovers no secp256k1 key (bad r, s or recovery id, or high s)");
  if (!(r > 0n && r < N && s > 0n && s <= N / 2n && (recovery === 0n || recovery === 1n))) throw refused;
  let point;
  try {
    point = new secp256k1.Signature(r, s, Number(recovery)).recoverPublicKey(digest).toBytes(false);
  } catch {
    throw refused;
  }
  return "0x" + toHex(keccak256(point.subarray(1)).subarray(12));
}
