// SM3 digests, SM2 public keys and SM2 signature checks (GB/T 32905-2016, GB/T 32918-2016), over the
// maintained npm library sm-crypto-v2 (MIT, on @noble). Keys are PEM SubjectPublicKeyInfo with
// id-ecPublicKey and the named curve sm2p256v1 (docs/formats.md, "Primitives"); signatures are strict DER
// SEQUENCE { r INTEGER, s INTEGER } over SM3 with the default user ID 1234567812345678.
import { sm2, sm3 as sm3Hex } from "sm-crypto-v2";
import { BadSignature, MalformedInput } from "./errors.js";
import { equal, fromBase64, fromHex, pyStrip, toHex, utf8 } from "./bytes.js";

export const DEFAULT_SIGNER_ID = "1234567812345678";
const P = 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn;
const A = P - 3n;
const B = 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n;
const N = 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n;
// SubjectPublicKeyInfo { AlgorithmIdentifier { id-ecPublicKey, sm2p256v1 }, BIT STRING 00 04 X Y }: DER is
// unique, so an SM2 key in DER is exactly these 27 bytes followed by the 64-byte point.
const SPKI_PREFIX = fromHex("3059301306072a8648ce3d020106082a811ccf5501822d03420004", "spki prefix", null);
const BASE64_LINE = /^[A-Za-z0-9+/=]{1,76}$/;

/** The 32-byte SM3 digest of `data` (a Uint8Array). */
export function sm3(data) {
  return fromHex(sm3Hex(data), "sm3", 32);
}

/** An SM2 public key: its SubjectPublicKeyInfo DER and the 64-byte point X || Y. */
export class PublicKey {
  constructor(spkiDer, point) {
    this.spkiDer = spkiDer;
    this.point = point;
  }

  /** Parse one strict PEM PUBLIC KEY block (surrounding whitespace allowed); MalformedInput otherwise. */
  static fromPem(text, where = "public key") {
    return PublicKey.fromDer(unarmor(text, "PUBLIC KEY", where));
  }

  /** Parse an SM2 SubjectPublicKeyInfo in DER; MalformedInput for anything else (other curves included). */
  static fromDer(der) {
    if (der.length !== SPKI_PREFIX.length + 64 || !equal(der.subarray(0, SPKI_PREFIX.length), SPKI_PREFIX)) {
      throw new MalformedInput("public key is not an sm2 subjectpublickeyinfo (id-ecPublicKey, named curve sm2p256v1, uncompressed point)");
    }
    const point = der.slice(SPKI_PREFIX.length);
    const x = BigInt("0x" + toHex(point.subarray(0, 32)));
    const y = BigInt("0x" + toHex(point.subarray(32)));
    if (x >= P || y >= P || mod(y * y - (x * x * x + A * x + B), P) !== 0n) {
      throw new MalformedInput("public key point is not on curve sm2p256v1");
    }
    return new PublicKey(der.slice(), point);
  }

  /** The key fingerprint: hex SM3 of the SubjectPublicKeyInfo DER. */
  fingerprint() {
    return toHex(sm3(this.spkiDer));
  }
}

function mod(a, m) {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** The DER inside `text`, which must be one strict PEM block of type `kind` (MalformedInput otherwise). */
export function unarmor(text, kind, where) {
  if (typeof text !== "string") throw new MalformedInput(`${where} must be a pem string`);
  const lines = pyStrip(text).split("\n");
  if (lines.length < 3 || lines[0] !== `-----BEGIN ${kind}-----` || lines[lines.length - 1] !== `-----END ${kind}-----`) {
    throw new MalformedInput(`${where} is not one pem block of type '${kind}'`);
  }
  const body = lines.slice(1, -1);
  body.forEach((line, i) => {
    if (!BASE64_LINE.test(line)) throw new MalformedInput(`${where} pem does not decode: line ${i + 2} is not 1 to 76 base64 characters`);
  });
  return fromBase64(body.join(""), `${where} pem`);
}

// Public keys with their wNAF tables, by point: a pack's thousand events come from a few actor keys, and a
// precomputed key verifies several times faster. Bounded, since a hostile pack may name many keys.
const PRECOMPUTED = new Map();
const MAX_PRECOMPUTED = 64;

function curvePoint(publicKey) {
  const hex = "04" + toHex(publicKey.point);
  let point = PRECOMPUTED.get(hex);
  if (point === undefined) {
    point = sm2.precomputePublicKey(hex);
    if (PRECOMPUTED.size >= MAX_PRECOMPUTED) PRECOMPUTED.delete(PRECOMPUTED.keys().next().value);
    PRECOMPUTED.set(hex, point);
  }
  return point;
}

/** Check an SM2 signature (SM3, user ID 1234567812345678) over `message` with `publicKey`; raises BadSignature. */
export function verifySm2(publicKey, message, signature) {
  const [r, s] = parseDerSignature(signature);
  let ok = false;
  try {
    const rs = r.toString(16).padStart(64, "0") + s.toString(16).padStart(64, "0");
    ok = sm2.doVerifySignature(message, rs, curvePoint(publicKey), { hash: true, der: false, userId: DEFAULT_SIGNER_ID });
  } catch {
    ok = false; // a point at infinity on the way: not a signature of this key
  }
  if (!ok) throw new BadSignature(`sm2 signature does not verify under key ${publicKey.fingerprint()}`);
}

/** r and s of a strict DER SEQUENCE { INTEGER r, INTEGER s } with 0 < r, s < n; BadSignature otherwise. */
export function parseDerSignature(sig) {
  const fail = (why) => {
    throw new BadSignature(`signature is not a der sequence of two integers: ${why}`);
  };
  if (sig.length < 2 || sig[0] !== 0x30 || sig[1] >= 0x80 || sig[1] + 2 !== sig.length) fail("bad sequence header");
  const ints = [];
  let i = 2;
  while (i < sig.length) {
    if (sig[i] !== 0x02 || i + 1 >= sig.length || sig[i + 1] >= 0x80) fail("bad integer header");
    const len = sig[i + 1];
    const body = sig.subarray(i + 2, i + 2 + len);
    if (len === 0 || body.length !== len) fail("bad integer length");
    if (body[0] & 0x80) throw new BadSignature("signature r or s is outside [1, n-1]");
    if (len > 1 && body[0] === 0 && !(body[1] & 0x80)) throw new BadSignature("signature is not in der (distinguished) encoding");
    ints.push(BigInt("0x" + toHex(body)));
    i += 2 + len;
  }
  if (ints.length !== 2) fail(`${ints.length} integers`);
  const [r, s] = ints;
  if (!(r > 0n && r < N && s > 0n && s < N)) throw new BadSignature("signature r or s is outside [1, n-1]");
  return [r, s];
}

/** SM3 of UTF-8 text, as hex (for fingerprints of names and files shown to people). */
export function sm3HexOfText(text) {
  return toHex(sm3(utf8(text)));
}

