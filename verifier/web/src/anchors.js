// The local anchor journal (docs/formats.md, "Local anchor journal entry"): JSON entries signed with the log
// key, each naming a checkpoint and chained to the one before by hash and consistency proof. It shows the
// log did not fork between anchors, but the operator holds that key: it proves nothing against the operator.
import { AnchorMismatch, BadSignature, KeyMismatch, MalformedInput } from "./errors.js";
import { equal, toHex } from "./bytes.js";
import {
  b64Field, canonical, hexField, hexListField, intField, loads, optionalHexField, optionalIntField, requireObject,
  strField, without,
} from "./json.js";
import { Checkpoint, verifyCheckpoint } from "./checkpoint.js";
import { MAX_CONSISTENCY_HASHES, verifyConsistency } from "./merkle.js";
import { sm3, verifySm2 } from "./sm.js";

/** One signed journal entry; `fields` is the entry object as written. */
export class JournalEntry {
  constructor(fields) {
    Object.assign(this, fields);
  }

  /** Check the structure of a parsed entry (its checkpoint text included); raises MalformedInput. */
  static fromJson(value) {
    const obj = requireObject(value, "journal entry");
    if (obj.v !== 1) throw new MalformedInput(`journal entry.v must be 1, got ${JSON.stringify(obj.v ?? null)}`);
    strField(obj, "anchored_at", "journal entry");
    canonical(obj);
    const size = intField(obj, "tree_size", "journal entry");
    const previous = optionalIntField(obj, "previous_tree_size", "journal entry");
    if (previous !== null && previous > size) {
      throw new MalformedInput(`journal entry previous_tree_size ${previous} is larger than its tree_size ${size}`);
    }
    return new JournalEntry({
      fields: obj,
      seq: intField(obj, "seq", "journal entry"),
      prevEntry: optionalHexField(obj, "prev_entry", "journal entry"),
      origin: strField(obj, "origin", "journal entry"),
      treeSize: size,
      rootHash: hexField(obj, "root_hash", "journal entry"),
      checkpoint: Checkpoint.fromText(strField(obj, "checkpoint", "journal entry")),
      previousTreeSize: previous,
      consistencyProof: hexListField(obj, "consistency_proof", "journal entry", MAX_CONSISTENCY_HASHES),
      keyId: strField(obj, "key_id", "journal entry"),
      signature: b64Field(obj, "signature", "journal entry"),
    });
  }

  /** SM3(canonical(entry, signature included)): the next entry's prev_entry (the entry's transaction id). */
  entryHash() {
    return sm3(canonical(this.fields));
  }
}

/** Check one journal entry on its own against the log key (KeyMismatch, BadSignature, AnchorMismatch). */
export function verifyJournalEntry(entry, publicKey) {
  if (entry.keyId !== publicKey.fingerprint()) {
    throw new KeyMismatch(`journal entry key_id mismatch: got ${entry.keyId.slice(0, 80)}, want ${publicKey.fingerprint()}`);
  }
  try {
    verifySm2(publicKey, canonical(without(entry.fields, "signature")), entry.signature);
  } catch (exc) {
    if (exc instanceof BadSignature) throw new BadSignature(`journal entry seq ${entry.seq} signature does not verify: ${exc.message}`);
    throw exc;
  }
  verifyCheckpoint(entry.checkpoint, publicKey);
  const cp = entry.checkpoint;
  if (cp.origin !== entry.origin || cp.treeSize !== BigInt(entry.treeSize) || !equal(cp.rootHash, entry.rootHash)) {
    throw new AnchorMismatch(`journal entry seq ${entry.seq} checkpoint does not match the entry`);
  }
}

/** Check that a local journal entry, with `proof`, covers `checkpoint` (a verified one) under the log key. */
export function verifyLocalAnchor(entry, proof, checkpoint, publicKey) {
  verifyJournalEntry(entry, publicKey);
  if (entry.origin !== checkpoint.origin) {
    throw new AnchorMismatch(`anchor origin mismatch: got ${JSON.stringify(entry.origin)}, want ${JSON.stringify(checkpoint.origin)}`);
  }
  if (BigInt(entry.treeSize) < checkpoint.treeSize) {
    throw new AnchorMismatch(`anchor tree size ${entry.treeSize} is smaller than the checkpoint tree size ${checkpoint.treeSize}`);
  }
  verifyConsistency(checkpoint.treeSize, entry.treeSize, checkpoint.rootHash, entry.rootHash, proof);
}

/** Parse a journal file: one JSON entry per line, each ending in a newline (MalformedInput). */
export function readJournal(data) {
  if (data.length && data[data.length - 1] !== 10) throw new MalformedInput("journal does not end with a newline: last line is truncated");
  const entries = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] !== 10) continue;
    const line = data.subarray(start, i);
    try {
      entries.push(JournalEntry.fromJson(loads(line, `journal line ${entries.length + 1}`)));
    } catch (exc) {
      if (exc instanceof MalformedInput) throw new MalformedInput(`journal line ${entries.length + 1}: ${exc.message}`);
      throw exc;
    }
    start = i + 1;
  }
  return entries;
}

/** Check a whole journal in file order (seq, prev_entry chain, consistency between entries). */
export function verifyJournal(entries, publicKey) {
  let previous = null;
  for (const entry of entries) {
    verifyJournalEntry(entry, publicKey);
    if (previous === null) {
      if (entry.seq !== 0 || entry.prevEntry !== null || entry.previousTreeSize !== null || entry.consistencyProof.length) {
        throw new AnchorMismatch("first journal entry must have seq 0, no prev_entry, no previous_tree_size and an empty proof");
      }
    } else {
      requireLink(previous, entry);
    }
    previous = entry;
  }
}

function requireLink(previous, entry) {
  if (entry.seq !== previous.seq + 1) throw new AnchorMismatch(`journal seq gap: got ${entry.seq}, want ${previous.seq + 1}`);
  if (entry.origin !== previous.origin) throw new AnchorMismatch(`journal entry seq ${entry.seq} origin changed`);
  if (entry.prevEntry === null || !equal(entry.prevEntry, previous.entryHash())) {
    throw new AnchorMismatch(`journal entry seq ${entry.seq} prev_entry mismatch: want ${toHex(previous.entryHash())}`);
  }
  if (entry.previousTreeSize !== previous.treeSize) throw new AnchorMismatch(`journal entry seq ${entry.seq} previous_tree_size mismatch`);
  verifyConsistency(previous.treeSize, entry.treeSize, previous.rootHash, entry.rootHash, entry.consistencyProof);
}
