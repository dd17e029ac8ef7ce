// RFC 9162 §2.1.1 Merkle tree hashing with SM3 (docs/formats.md, "Merkle log"): the only place in the
// browser verifier that knows the prefixes 0x00 (leaf) and 0x01 (node); the empty root is SM3("").
import { concat } from "./bytes.js";
import { sm3 } from "./sm.js";

export const HASH_SIZE = 32;

/** The root hash of the empty tree: SM3(""). */
export function emptyRoot() {
  return sm3(new Uint8Array(0));
}

/** SM3(0x00 || leaf). */
export function leafHash(leaf) {
  return sm3(concat(Uint8Array.of(0), leaf));
}

/** SM3(0x01 || left || right). */
export function nodeHash(left, right) {
  return sm3(concat(Uint8Array.of(1), left, right));
}
