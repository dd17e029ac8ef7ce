// Log checkpoints: C2SP tlog-checkpoint in a C2SP signed note, signed with SM2 (docs/formats.md,
// "Checkpoint"):  <origin>\n<tree size>\n<base64 root>\n\n— <key name> <base64(key hash[4] || DER sig)>\n
// The signature covers the note body (three lines with their final newline); the key name is the origin
// and the key hash is SM3(key name || 0x0A || SubjectPublicKeyInfo DER)[:4].
import { BadSignature, KeyMismatch, MalformedInput } from "./errors.js";
import { concat, equal, fromBase64, isPySpace, toHex, utf8 } from "./bytes.js";
import { HASH_SIZE } from "./hashing.js";
import { sm3, verifySm2 } from "./sm.js";

const SIGNATURE_PREFIX = "\u2014 ";
const TREE_SIZE = /^(0|[1-9][0-9]*)$/;
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f]/;
const MAX_TREE_SIZE = 2n ** 64n - 1n;
const MAX_SIGNATURES = 64;

/** One signature line: key name, 4-byte key hash, DER signature. */
export class NoteSignature {
  constructor(name, keyHash, signature) {
    Object.assign(this, { name, keyHash, signature });
  }

  /** Parse "— <name> <base64(key hash || signature)>" (without the newline); MalformedInput otherwise. */
  static fromLine(line) {
    if (!line.startsWith(SIGNATURE_PREFIX)) {
      throw new MalformedInput(`malformed checkpoint: signature line must start with an em dash, got ${JSON.stringify(line.slice(0, 40))}`);
    }
    const parts = line.slice(SIGNATURE_PREFIX.length).split(" ");
    if (parts.length !== 2 || !parts[0] || parts[0].includes("+") || [...parts[0]].some(isPySpace)) {
      throw new MalformedInput(`malformed checkpoint: want '— <key name> <base64>', got ${JSON.stringify(line.slice(0, 80))}`);
    }
    const blob = fromBase64(parts[1], "malformed checkpoint: signature");
    if (blob.length <= 4) throw new MalformedInput(`malformed checkpoint: signature too short: got ${blob.length} bytes, want > 4`);
    return new NoteSignature(parts[0], blob.slice(0, 4), blob.slice(4));
  }
}

/** A signed tree head; `body` is the signed note body exactly as in `text`; treeSize is a BigInt. */
export class Checkpoint {
  constructor(fields) {
    Object.assign(this, fields);
  }

  /** The tree size as a number (checked to be a safe integer where a pack needs one). */
  get size() {
    return Number(this.treeSize);
  }

  /** Parse checkpoint note text strictly; raises MalformedInput naming the first problem. */
  static fromText(text) {
    if (CONTROL.test(text)) throw new MalformedInput("malformed checkpoint: control character in note text");
    const cut = text.indexOf("\n\n");
    if (cut < 0) throw new MalformedInput("malformed checkpoint: missing blank line between body and signatures");
    const body = text.slice(0, cut), signed = text.slice(cut + 2);
    const lines = body.split("\n");
    if (lines.length !== 3) throw new MalformedInput(`malformed checkpoint: want 3 body lines, got ${lines.length}`);
    if (!signed.endsWith("\n") || !signed.replace(/^\n+|\n+$/g, "")) {
      throw new MalformedInput("malformed checkpoint: want one or more signature lines, each ending in a newline");
    }
    const signedLines = signed.slice(0, -1).split("\n");
    if (signedLines.length > MAX_SIGNATURES) {
      throw new MalformedInput(`malformed checkpoint: ${signedLines.length} signature lines, want at most ${MAX_SIGNATURES}`);
    }
    const signatures = signedLines.map((line) => NoteSignature.fromLine(line));
    const [origin, size, root] = lines;
    return new Checkpoint({
      origin: parseOrigin(origin),
      treeSize: parseTreeSize(size),
      rootHash: parseRoot(root),
      signatures,
      body: utf8(body + "\n"),
      text,
    });
  }
}

/** The 4-byte key hash naming `publicKey` under key name `name`. */
export function keyHash(name, publicKey) {
  return sm3(concat(utf8(name), Uint8Array.of(10), publicKey.spkiDer)).slice(0, 4);
}

/** Check that `checkpoint` is signed by the trusted log key `publicKey`; KeyMismatch or BadSignature. */
export function verifyCheckpoint(checkpoint, publicKey) {
  const wanted = keyHash(checkpoint.origin, publicKey);
  const selected = checkpoint.signatures.filter((s) => s.name === checkpoint.origin && equal(s.keyHash, wanted));
  if (!selected.length) {
    const found = checkpoint.signatures.map((s) => `${s.name} ${toHex(s.keyHash)}`).join(", ");
    throw new KeyMismatch(`checkpoint has no signature by the log key: want ${checkpoint.origin} ${toHex(wanted)}, got ${found}`);
  }
  for (const line of selected) {
    try {
      verifySm2(publicKey, checkpoint.body, line.signature);
    } catch (exc) {
      if (exc instanceof BadSignature) throw new BadSignature(`checkpoint signature does not verify: ${exc.message}`);
      throw exc;
    }
  }
}

function parseOrigin(line) {
  if (!line) throw new MalformedInput("malformed checkpoint: empty origin line");
  return line;
}

function parseTreeSize(line) {
  if (line.length > 20 || !TREE_SIZE.test(line) || BigInt(line) > MAX_TREE_SIZE) {
    throw new MalformedInput(`malformed checkpoint: invalid tree size ${JSON.stringify(line.slice(0, 40))}, want decimal without leading zeros`);
  }
  return BigInt(line);
}

function parseRoot(line) {
  const root = fromBase64(line, "malformed checkpoint: root hash");
  if (root.length !== HASH_SIZE) throw new MalformedInput(`malformed checkpoint: root hash is ${root.length} bytes, want ${HASH_SIZE}`);
  return root;
}
