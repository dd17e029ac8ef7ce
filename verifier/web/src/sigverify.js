// X.509/CMS signature checks through WebCrypto (crypto.subtle: in every browser, from file:// too, and in
// Node >= 20): ECDSA over P-256/384/521 and RSA (PKCS #1 v1.5, PSS) with SHA-2, the algorithms a TSA signs
// tokens and certificates with (docs/formats.md, "RFC 3161 timestamp receipt"). Asynchronous, as WebCrypto is.
import { MalformedInput, VerificationFailed } from "./errors.js";
import { childrenOf, integerOf, oidOf, parseDer } from "./der.js";

const HASHES = { "2.16.840.1.101.3.4.2.1": "SHA-256", "2.16.840.1.101.3.4.2.2": "SHA-384", "2.16.840.1.101.3.4.2.3": "SHA-512", "1.3.14.3.2.26": "SHA-1" };
/** Signature algorithm OID → [family, hash] (hash null: the caller's digest algorithm decides). */
export const SIGNATURE_ALGORITHMS = {
  "1.2.840.10045.4.3.2": ["ECDSA", "SHA-256"], "1.2.840.10045.4.3.3": ["ECDSA", "SHA-384"], "1.2.840.10045.4.3.4": ["ECDSA", "SHA-512"],
  "1.2.840.113549.1.1.11": ["RSASSA-PKCS1-v1_5", "SHA-256"], "1.2.840.113549.1.1.12": ["RSASSA-PKCS1-v1_5", "SHA-384"],
  "1.2.840.113549.1.1.13": ["RSASSA-PKCS1-v1_5", "SHA-512"], "1.2.840.113549.1.1.1": ["RSASSA-PKCS1-v1_5", null],
  "1.2.840.113549.1.1.10": ["RSA-PSS", null],
};
const CURVES = { "1.2.840.10045.3.1.7": ["P-256", 32], "1.3.132.0.34": ["P-384", 48], "1.3.132.0.35": ["P-521", 66] };
const EC_KEY = "1.2.840.10045.2.1", RSA_KEY = "1.2.840.113549.1.1.1";

/** The WebCrypto name of a hash AlgorithmIdentifier's OID, or undefined. */
export function hashName(oid) {
  return HASHES[oid];
}

/** Check `signature` over `data` by the key `spki` (an SPKI DerNode) with the AlgorithmIdentifier node
 * `algorithm`; `digest` names the hash when the algorithm does not (rsaEncryption). VerificationFailed if
 * it does not verify, MalformedInput for a key or algorithm this verifier does not know. */
export async function verifySignature(spki, algorithm, signature, data, digest = null, what = "signature") {
  const [algId, params] = childrenOf(algorithm, 0x30, `${what} algorithm`, 1, 2);
  const oid = oidOf(algId, `${what} algorithm`);
  const known = SIGNATURE_ALGORITHMS[oid];
  if (!known) throw new MalformedInput(`${what} uses algorithm ${oid}, which is not ecdsa or rsa with sha-2`);
  const [family, fixed] = known;
  const [keyAlg] = childrenOf(spki, 0x30, `${what} key`, 2, 2);
  const [keyOid, keyParams] = childrenOf(keyAlg, 0x30, `${what} key algorithm`, 1, 2);
  const keyType = oidOf(keyOid, `${what} key algorithm`);
  let hash = fixed ?? digest, key, verifyParams, sig = signature;
  if (family === "ECDSA") {
    const curve = keyType === EC_KEY && keyParams && keyParams.tag === 0x06 ? CURVES[oidOf(keyParams, "curve")] : undefined;
    if (!curve) throw new MalformedInput(`${what}: an ecdsa signature needs a p-256, p-384 or p-521 key`);
    key = await importKey(spki, { name: "ECDSA", namedCurve: curve[0] });
    verifyParams = { name: "ECDSA", hash };
    sig = rawEcdsa(signature, curve[1], what);
  } else {
    if (keyType !== RSA_KEY) throw new MalformedInput(`${what}: an rsa signature needs an rsa key, got ${keyType}`);
    let saltLength = 0;
    if (family === "RSA-PSS") [hash, saltLength] = pssParams(params, what);
    if (!hash) throw new MalformedInput(`${what}: no digest algorithm for ${oid}`);
    key = await importKey(spki, { name: family, hash });
    verifyParams = family === "RSA-PSS" ? { name: family, saltLength } : { name: family };
  }
  let valid = false;
  try {
    valid = await crypto.subtle.verify(verifyParams, key, sig, data);
  } catch {
    valid = false;  // WebCrypto refuses some malformed signatures instead of answering false
  }
  if (!valid) throw new VerificationFailed(`${what} does not verify`);
}

async function importKey(spki, params) {
  try {
    return await crypto.subtle.importKey("spki", spki.raw, params, false, ["verify"]);
  } catch (exc) {
    throw new MalformedInput(`public key does not import as ${params.name}: ${exc.message}`);
  }
}

// DER ECDSA-Sig-Value → r || s of fixed size (what WebCrypto verifies)
function rawEcdsa(der, size, what) {
  let r, s;
  try {
    [r, s] = childrenOf(parseDer(der, `${what} value`), 0x30, `${what} value`, 2, 2).map((n) => integerOf(n, `${what} value`));
  } catch (exc) {
    if (exc instanceof MalformedInput) throw new VerificationFailed(`${what} is not an ecdsa signature value: ${exc.message}`);
    throw exc;
  }
  const limit = 1n << BigInt(8 * size);
  if (r <= 0n || s <= 0n || r >= limit || s >= limit) throw new VerificationFailed(`${what} has r or s out of range`);
  const out = new Uint8Array(2 * size);
  [r, s].forEach((n, k) => {
    for (let i = size - 1; i >= 0; i--, n >>= 8n) out[k * size + i] = Number(n & 0xffn);
  });
  return out;
}

// RSASSA-PSS-params (RFC 4055): hash and MGF1 hash the same SHA-2, trailer 1; returns [hash, salt length]
function pssParams(params, what) {
  if (!params || params.tag !== 0x30) throw new MalformedInput(`${what}: rsassa-pss without parameters`);
  let hash = "SHA-1", mgfHash = "SHA-1", salt = 20;
  for (const field of params.children) {
    const inner = field.children?.[0];
    if (field.tag === 0xa0) hash = HASHES[oidOf(childrenOf(inner, 0x30, "pss hash", 1, 2)[0], "pss hash")];
    else if (field.tag === 0xa1) {
      const [mgf, mgfParams] = childrenOf(inner, 0x30, "pss mgf", 2, 2);
      if (oidOf(mgf, "pss mgf") !== "1.2.840.113549.1.1.8") throw new MalformedInput(`${what}: pss mask generation is not mgf1`);
      mgfHash = HASHES[oidOf(childrenOf(mgfParams, 0x30, "mgf1 hash", 1, 2)[0], "mgf1 hash")];
    } else if (field.tag === 0xa2) salt = Number(integerOf(inner, "pss salt length"));
    else if (field.tag === 0xa3 && integerOf(inner, "pss trailer") !== 1n) throw new MalformedInput(`${what}: pss trailer field is not 1`);
  }
  if (!hash || hash !== mgfHash || hash === "SHA-1") throw new MalformedInput(`${what}: pss must use one sha-2 hash for the message and mgf1`);
  return [hash, salt];
}
