// X.509 certificates as Fabric identities use them (RFC 5280): parsed with pkijs/asn1js (parsing only, which
// is synchronous), signatures checked with @noble/curves, so that the Fabric checker stays a plain function.
// What is read: subject and issuer (as DER, and the subject's attributes), the ECDSA public key and the
// issuer's signature over the TBS bytes. Validity periods are not checked, as Fabric's MSP does not for
// a block it already committed, and as the Python verifier does not.
import { Certificate } from "pkijs";
import { p256, p384 } from "@noble/curves/nist.js";
import { sha256, sha384 } from "@noble/hashes/sha2.js";
import { MalformedInput } from "./errors.js";
import { equal, fromBase64 } from "./bytes.js";

const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const CURVES = { "1.2.840.10045.3.1.7": ["P-256", p256], "1.3.132.0.34": ["P-384", p384] };
const SIGNATURES = { "1.2.840.10045.4.3.2": sha256, "1.2.840.10045.4.3.3": sha384 };
const NAMES = { "2.5.4.3": "CN", "2.5.4.11": "OU", "2.5.4.10": "O", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.6": "C" };
const ORGANIZATIONAL_UNIT = "2.5.4.11";
const PEM = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/;

/** A parsed certificate: `subject` (text, for messages), `units` (its OU values), the ECDSA key if any. */
export class X509 {
  constructor(fields) {
    Object.assign(this, fields);
  }

  /** Parse DER; MalformedInput when it is not an X.509 certificate. */
  static fromDer(der, where) {
    let cert;
    try {
      cert = Certificate.fromBER(der);
    } catch (exc) {
      throw new MalformedInput(`${where} is not an x.509 certificate: ${String(exc && exc.message || exc).slice(0, 120)}`);
    }
    try {
      return fromParsed(cert);
    } catch (exc) {
      if (exc instanceof MalformedInput) throw exc;
      throw new MalformedInput(`${where} is not an x.509 certificate we can read: ${String(exc && exc.message || exc).slice(0, 120)}`);
    }
  }

  /** Parse the first CERTIFICATE block of PEM bytes (as Fabric's serialized identities carry). */
  static fromPem(bytes, where) {
    const text = new TextDecoder("latin1").decode(bytes);
    const found = PEM.exec(text);
    if (found === null) throw new MalformedInput(`${where} holds no pem certificate`);
    return X509.fromDer(fromBase64(found[1].replace(/\s+/g, ""), `${where} pem`), where);
  }

  /** Whether `issuer` (a CA certificate) issued this one: its subject is our issuer and its key signed us. */
  issuedBy(issuer) {
    if (!equal(this.issuerDer, issuer.subjectDer) || issuer.key === null) return false;
    const hash = SIGNATURES[this.signatureAlgorithm];
    if (hash === undefined) return false;
    return verifyEcdsa(issuer.key.curve, this.signature, hash(this.tbs), issuer.key.point, false);
  }
}

function fromParsed(cert) {
  const spki = cert.subjectPublicKeyInfo;
  let key = null;
  if (spki.algorithm.algorithmId === EC_PUBLIC_KEY && spki.algorithm.algorithmParams) {
    const curve = CURVES[spki.algorithm.algorithmParams.valueBlock.toString()];
    if (curve !== undefined) key = { name: curve[0], curve: curve[1], point: new Uint8Array(spki.subjectPublicKey.valueBlock.valueHexView) };
  }
  const attributes = cert.subject.typesAndValues.map((a) => [a.type, String(a.value.valueBlock.value)]);
  return new X509({
    subject: attributes.map(([type, value]) => `${NAMES[type] ?? type}=${value}`).reverse().join(","),
    units: attributes.filter(([type]) => type === ORGANIZATIONAL_UNIT).map(([, value]) => value),
    subjectDer: new Uint8Array(cert.subject.valueBeforeDecode),
    issuerDer: new Uint8Array(cert.issuer.valueBeforeDecode),
    tbs: new Uint8Array(cert.tbsView),
    signatureAlgorithm: cert.signatureAlgorithm.algorithmId,
    signature: new Uint8Array(cert.signatureValue.valueBlock.valueHexView),
    key,
  });
}

/** Whether DER ECDSA `signature` over the digest `hash` verifies under `point`; `lowS` refuses high S. */
export function verifyEcdsa(curve, signature, hash, point, lowS) {
  try {
    return curve.verify(signature, hash, point, { format: "der", prehash: false, lowS });
  } catch {
    return false; // not DER, not a point on the curve: it does not verify
  }
}

/** Whether DER ECDSA `signature` has an S in the upper half of the curve order (Fabric refuses those). */
export function hasHighS(curve, signature) {
  try {
    return curve.Signature.fromBytes(signature, "der").hasHighS();
  } catch {
    return false;
  }
}
