// RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency) proof verification over SM3. Sizes and indexes
// are BigInt inside (a checkpoint's tree size may reach 2^64 − 1); callers may pass numbers.
// Computing and comparing are separate: rootFromInclusionProof returns a root, verifyInclusion compares.
import { InvalidProof, RootMismatch } from "./errors.js";
import { equal } from "./bytes.js";
import { HASH_SIZE, emptyRoot, nodeHash } from "./hashing.js";

export const MAX_INCLUSION_HASHES = 64;
export const MAX_CONSISTENCY_HASHES = 65;

const big = (v) => BigInt(v);
const bitLength = (v) => v.toString(2).length - (v === 0n ? 1 : 0);
const bitCount = (v) => [...v.toString(2)].filter((c) => c === "1").length;

/** The audit path length for leafIndex in a tree of treeSize leaves (requires 0 <= leafIndex < treeSize). */
export function inclusionProofLength(leafIndex, treeSize) {
  const inner = bitLength(big(leafIndex) ^ (big(treeSize) - 1n));
  return inner + bitCount(big(leafIndex) >> BigInt(inner));
}

/** The consistency proof length between trees of size1 and size2 leaves (requires 0 < size1 < size2). */
export function consistencyProofLength(size1, size2) {
  const s1 = big(size1);
  const shift = bitLength(s1 & -s1) - 1;
  const length = inclusionProofLength(s1 - 1n, size2) - shift;
  return s1 === 1n << BigInt(shift) ? length : length + 1;
}

function step(fn, sn) {
  const left = (fn & 1n) === 1n || fn === sn;
  if (left) {
    while ((fn & 1n) === 0n && fn !== 0n) {
      fn >>= 1n;
      sn >>= 1n;
    }
  }
  return [fn >> 1n, sn >> 1n, left];
}

function requireHash(name, value) {
  if (value.length !== HASH_SIZE) throw new InvalidProof(`${name} has wrong length: got ${value.length} bytes, want ${HASH_SIZE}`);
}

function requireProof(proof, length) {
  if (proof.length !== length) throw new InvalidProof(`wrong proof length: got ${proof.length} hashes, want ${length}`);
  proof.forEach((p, i) => requireHash(`proof hash ${i}`, p));
}

/** The root that `proof` leads to from leafHash at leafIndex in a tree of treeSize (InvalidProof). */
export function rootFromInclusionProof(leafIndex, treeSize, leaf, proof) {
  let fn = big(leafIndex), sn = big(treeSize) - 1n;
  if (!(fn >= 0n && fn <= sn)) throw new InvalidProof(`leaf index out of range: got ${leafIndex}, want 0 <= index < ${treeSize}`);
  requireHash("leaf hash", leaf);
  requireProof(proof, inclusionProofLength(fn, big(treeSize)));
  let r = leaf, left;
  for (const p of proof) {
    if (sn === 0n) throw new InvalidProof("inclusion proof goes past the root");
    [fn, sn, left] = step(fn, sn);
    r = left ? nodeHash(p, r) : nodeHash(r, p);
  }
  if (sn !== 0n) throw new InvalidProof(`inclusion proof stops below the root: ${sn} levels left`);
  return r;
}

/** Check the leaf is at leafIndex of the tree of treeSize with `root`; raises InvalidProof or RootMismatch. */
export function verifyInclusion(leafIndex, treeSize, leaf, proof, root) {
  requireHash("root", root);
  const calculated = rootFromInclusionProof(leafIndex, treeSize, leaf, proof);
  if (!equal(calculated, root)) throw new RootMismatch(root, calculated);
}

function requireSizes(size1, size2) {
  if (!(big(size1) >= 0n && big(size1) <= big(size2))) {
    throw new InvalidProof(`tree sizes out of order: got size1=${size1} size2=${size2}, want 0 <= size1 <= size2`);
  }
}

/** The root of the tree of size2 that `proof` leads to from root1 of size1 (InvalidProof, RootMismatch). */
export function rootFromConsistencyProof(size1, size2, root1, proof) {
  requireSizes(size1, size2);
  requireHash("root1", root1);
  const s1 = big(size1), s2 = big(size2);
  if (s1 === s2) {
    requireProof(proof, 0);
    return root1;
  }
  if (s1 === 0n) throw new InvalidProof("consistency proof from an empty tree does not determine the second root");
  requireProof(proof, consistencyProofLength(s1, s2));
  const path = (s1 & (s1 - 1n)) === 0n ? [root1, ...proof] : [...proof];
  let fn = s1 - 1n, sn = s2 - 1n, left;
  while (fn & 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new InvalidProof("consistency proof goes past the root");
    [fn, sn, left] = step(fn, sn);
    if (left) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
    } else {
      sr = nodeHash(sr, c);
    }
  }
  if (sn !== 0n) throw new InvalidProof(`consistency proof stops below the root: ${sn} levels left`);
  if (!equal(fr, root1)) throw new RootMismatch(root1, fr, "first root");
  return sr;
}

/** Check the tree of size2 with root2 extends the tree of size1 with root1; InvalidProof or RootMismatch. */
export function verifyConsistency(size1, size2, root1, root2, proof) {
  requireSizes(size1, size2);
  requireHash("root2", root2);
  if (big(size1) === 0n) {
    requireProof(proof, 0);
    requireRoot(emptyRoot(), root1, "empty tree root");
    if (big(size2) === 0n) requireRoot(emptyRoot(), root2, "empty tree root");
    return;
  }
  requireRoot(root2, rootFromConsistencyProof(size1, size2, root1, proof), "second root");
}

function requireRoot(expected, calculated, what) {
  if (!equal(calculated, expected)) throw new RootMismatch(expected, calculated, what);
}
