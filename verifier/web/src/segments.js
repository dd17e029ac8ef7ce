// Segmented media objects (docs/formats.md, "Media segments"): STREAM over SM4-GCM with nonce
// prefix(7) || index(4, big-endian) || final(1) and associated data header(48) || index(4) || final(1).
// Pure functions over bytes and a data key the caller holds.
import { sm4 } from "sm-crypto-v2";
import { MalformedInput, SegmentMismatch } from "./errors.js";
import { concat, equal, toHex } from "./bytes.js";
import { sm3 } from "./sm.js";

const HEADER = 48, TAG = 16, MIN_SEGMENT = 16, MAX_SEGMENT = 1 << 24;
const MAGIC = [0x54, 0x5a, 0x4d, 0x53];

/** Split `blob` into header and sealed segments; MalformedInput for a structure the format forbids. */
export function parseObject(blob) {
  if (blob.length < HEADER) throw new MalformedInput(`media object is ${blob.length} bytes, shorter than its ${HEADER}-byte header`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (!MAGIC.every((b, i) => blob[i] === b) || blob[4] !== 1) throw new MalformedInput("media header is not TZMS version 1");
  const size = view.getUint32(5);
  if (size < MIN_SEGMENT || size > MAX_SEGMENT) throw new MalformedInput(`media segment size ${size} is outside ${MIN_SEGMENT}..${MAX_SEGMENT}`);
  const segments = [];
  for (let i = HEADER; i < blob.length; i += size + TAG) segments.push(blob.subarray(i, Math.min(i + size + TAG, blob.length)));
  if (!segments.length) throw new MalformedInput("media object has a header but no segments");
  const last = segments[segments.length - 1];
  if (last.length < TAG) throw new MalformedInput(`last media segment is ${last.length} bytes, shorter than a ${TAG}-byte tag`);
  if (segments.length > 1 && last.length === TAG) throw new MalformedInput("media object ends with an empty segment after the first");
  return { header: blob.subarray(0, HEADER), objectId: blob.subarray(9, 25), noncePrefix: blob.subarray(41, 48), segments };
}

function open(key, obj, index, final) {
  const suffix = Uint8Array.of(index >>> 24, (index >>> 16) & 255, (index >>> 8) & 255, index & 255, final ? 1 : 0);
  const sealed = obj.segments[index];
  try {
    return sm4.decrypt(sealed.subarray(0, sealed.length - TAG), key, {
      mode: "gcm", iv: concat(obj.noncePrefix, suffix), associatedData: concat(obj.header, suffix),
      tag: sealed.subarray(sealed.length - TAG), output: "array", padding: "none",
    });
  } catch {
    return null;
  }
}

/** The plaintext of `blob` after authenticating every segment under the 16-byte dataKey (SegmentMismatch). */
export function decryptObject(dataKey, blob, objectId) {
  if (dataKey.length !== 16 || objectId.length !== 16) throw new MalformedInput("data key and object id must be 16 bytes");
  const obj = parseObject(blob);
  if (!equal(obj.objectId, objectId)) throw new SegmentMismatch(`media header names object ${toHex(obj.objectId)}, want ${toHex(objectId)}`);
  const last = obj.segments.length - 1;
  const parts = obj.segments.map((_, index) => {
    const plaintext = open(dataKey, obj, index, index === last);
    if (plaintext === null) throw new SegmentMismatch(diagnose(dataKey, obj, index, index === last));
    return plaintext;
  });
  return concat(...parts);
}

function diagnose(key, obj, index, final) {
  if (open(key, obj, index, !final) !== null) {
    return final ? `media segment ${index} is the last stored but not the final one: the object was truncated`
      : `media segment ${index} is the final one but more follow: segments or bytes were appended`;
  }
  return `media segment ${index} fails sm4-gcm authentication: altered, reordered, spliced or wrong key`;
}

/** Check `blob` decrypts to plaintextSize bytes whose SM3 is plaintextSm3 (MalformedInput, SegmentMismatch). */
export function verifyObject(dataKey, blob, objectId, plaintextSm3, plaintextSize) {
  const plaintext = decryptObject(dataKey, blob, objectId);
  if (plaintext.length !== plaintextSize) throw new SegmentMismatch(`media plaintext is ${plaintext.length} bytes, want ${plaintextSize}`);
  const digest = sm3(plaintext);
  if (!equal(digest, plaintextSm3)) throw new SegmentMismatch(`media plaintext sm3 is ${toHex(digest)}, want ${toHex(plaintextSm3)}`);
}
