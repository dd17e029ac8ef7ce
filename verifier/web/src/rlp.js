// Keccak-256, RLP and the Merkle-Patricia trie root: what checking an EVM block offline needs (Ethereum
// Yellow Paper appendices B, C and D; EIP-2718 typed envelopes). An item is a Uint8Array or an array of
// items. The encoder is the whole of RLP; the decoder is our own small strict one rather than a library's
// because the one thing the verifier decodes is a signed transaction, and it must accept only the
// canonical encoding (minimal lengths, single bytes as themselves, nothing after the item, bounded
// nesting), so that one transaction has one byte string; general decoders are lenient on some of these.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { concat } from "./bytes.js";

const MAX_DEPTH = 16;

/** The 32-byte Keccak-256 digest (Ethereum's hash, not NIST SHA3-256). */
export function keccak256(data) {
  return keccak_256(data);
}

/** An unsigned integer (number or BigInt) as RLP wants it: big-endian, no leading zeros (0 -> empty). */
export function encodeInt(value) {
  const out = [];
  for (let v = BigInt(value); v > 0n; v >>= 8n) out.unshift(Number(v & 0xffn));
  return Uint8Array.from(out);
}

/** RLP of `item`. */
export function encode(item) {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0] < 0x80) return item;
    return concat(lengthPrefix(item.length, 0x80), item);
  }
  const payload = concat(...item.map(encode));
  return concat(lengthPrefix(payload.length, 0xc0), payload);
}

function lengthPrefix(size, offset) {
  if (size < 56) return Uint8Array.of(offset + size);
  const bytes = encodeInt(size);
  return concat(Uint8Array.of(offset + 55 + bytes.length), bytes);
}

/** The item `data` is the canonical RLP of; throws Error naming the fault for anything else. */
export function decode(data) {
  const [item, end] = decodeAt(data, 0, data.length, 0);
  if (end !== data.length) throw new Error(`rlp has ${data.length - end} bytes after its item`);
  return item;
}

/** The unsigned integer (BigInt) an RLP byte string holds, minimal big-endian; throws Error otherwise. */
export function decodeInt(item, what) {
  if (!(item instanceof Uint8Array) || item[0] === 0) throw new Error(`${what} is not a minimal rlp integer`);
  let value = 0n;
  for (const b of item) value = (value << 8n) | BigInt(b);
  return value;
}

function decodeAt(data, at, limit, depth) {
  if (at >= limit) throw new Error("rlp ends before its item");
  const first = data[at];
  if (first < 0x80) return [data.subarray(at, at + 1), at + 1];
  const isList = first >= 0xc0;
  const [start, size] = header(data, at, limit, isList ? 0xc0 : 0x80);
  if (start + size > limit) throw new Error("rlp item is longer than the data");
  if (!isList) {
    if (size === 1 && data[start] < 0x80) throw new Error("rlp single byte below 0x80 must be encoded as itself");
    return [data.subarray(start, start + size), start + size];
  }
  if (depth >= MAX_DEPTH) throw new Error(`rlp lists nest deeper than ${MAX_DEPTH}`);
  const items = [];
  let cursor = start;
  while (cursor < start + size) {
    const [item, next] = decodeAt(data, cursor, start + size, depth + 1);
    items.push(item);
    cursor = next;
  }
  return [items, cursor];
}

// [start of the payload, its size] of the item whose prefix byte is at `at`.
function header(data, at, limit, offset) {
  const short = data[at] - offset;
  if (short <= 55) return [at + 1, short];
  const width = short - 55;
  if (at + 1 + width > limit || data[at + 1] === 0) throw new Error("rlp long length is truncated or has leading zeros");
  let size = 0;
  for (let i = 0; i < width; i++) size = size * 256 + data[at + 1 + i];
  if (size < 56) throw new Error("rlp long length used for fewer than 56 bytes");
  return [at + 1 + width, size];
}

/** Keccak-256 of RLP(""): the root of a trie with no entries. */
export const EMPTY_TRIE_ROOT = keccak256(encode(new Uint8Array(0)));

/** The root of the trie mapping RLP(i) to values[i], as a block's transactions and receipts tries. */
export function trieRoot(values) {
  if (!values.length) return EMPTY_TRIE_ROOT;
  const pairs = values.map((value, i) => [nibbles(encode(encodeInt(i))), value]);
  pairs.sort((a, b) => compareNibbles(a[0], b[0]));
  return keccak256(node(pairs));
}

function nibbles(key) {
  const out = [];
  for (const b of key) out.push(b >> 4, b & 15);
  return out;
}

function compareNibbles(a, b) {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function hexPrefix(path, leaf) {
  const flag = leaf ? 2 : 0;
  const full = path.length % 2 ? [flag + 1, ...path] : [flag, 0, ...path];
  const out = new Uint8Array(full.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = (full[2 * i] << 4) | full[2 * i + 1];
  return out;
}

// RLP of the trie node holding `pairs` (sorted, distinct keys, relative to this node).
function node(pairs) {
  if (pairs.length === 1) {
    const [key, value] = pairs[0];
    return encode([hexPrefix(key, true), value]);
  }
  const shared = sharedPrefix(pairs.map(([key]) => key));
  if (shared) {
    const child = node(pairs.map(([key, value]) => [key.slice(shared), value]));
    return encodeList([encode(hexPrefix(pairs[0][0].slice(0, shared), false)), reference(child)]);
  }
  const slots = Array.from({ length: 16 }, () => encode(new Uint8Array(0)));
  let here = new Uint8Array(0);
  for (let nibble = 0; nibble < 16; nibble++) {
    const group = pairs.filter(([key]) => key.length && key[0] === nibble).map(([key, value]) => [key.slice(1), value]);
    if (group.length) slots[nibble] = reference(node(group));
  }
  for (const [key, value] of pairs) if (!key.length) here = value;
  return encodeList([...slots, encode(here)]);
}

function encodeList(encodedItems) {
  const payload = concat(...encodedItems);
  return concat(lengthPrefix(payload.length, 0xc0), payload);
}

function sharedPrefix(keys) {
  const first = keys[0];
  let size = first.length;
  for (const key of keys.slice(1)) {
    let n = 0;
    while (n < Math.min(size, key.length) && key[n] === first[n]) n++;
    size = n;
  }
  return size;
}

// How a parent holds a child node: inline when its RLP is shorter than 32 bytes, else by its hash.
function reference(node) {
  return node.length < 32 ? node : encode(keccak256(node));
}
