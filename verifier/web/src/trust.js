// The trust root (docs/formats.md, "Trust root", tiezheng.trust-root/v1): the one file naming every key the
// verifier trusts, chosen by the person verifying, never taken from the evidence. Parsed as strictly as the
// Python verifier (verifier/trust.py); X.509 certificates are checked here to be one DER SEQUENCE each, and
// decoded by the checker that uses them (the Fabric orgs' CAs: fabricblock.js).
import { MalformedInput, UntrustedLog } from "./errors.js";
import { toHex } from "./bytes.js";
import { intField, listField, loads, MAX_INT, requireFields, requireObject, strField } from "./json.js";
import { PublicKey, sm3, unarmor } from "./sm.js";

export const TRUST_ROOT_TYPE = "tiezheng.trust-root/v1";
export const MAX_TRUST_ROOT_BYTES = 4 * 1024 * 1024;
const MAX_ITEMS = 256;
const ED25519_PREFIX = "302a300506032b6570032100";
const NAME = /^[^\x00-\x20\x7f+]{1,255}$/u;
const LABEL = /^[^\x00-\x1f\x7f]{1,255}$/u;
const MSP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const CHANNEL = /^[a-z][a-z0-9.-]{0,248}$/;
const ADDRESS = /^0x[0-9a-f]{40}$/;

/** A parsed trust root: `logs` [{origin, publicKey, fingerprint}], the other sections, and its hex SM3. */
export class TrustRoot {
  constructor(fields) {
    Object.assign(this, fields);
  }

  /** Parse trust-root JSON bytes; raises MalformedInput ("trust root: ...") naming the first problem. */
  static fromBytes(data) {
    if (data.length > MAX_TRUST_ROOT_BYTES) throw new MalformedInput(`trust root is larger than ${MAX_TRUST_ROOT_BYTES} bytes`);
    try {
      return parse(requireObject(loads(data, "trust root"), "trust root"), toHex(sm3(data)));
    } catch (exc) {
      if (exc instanceof MalformedInput && !exc.message.startsWith("trust root")) throw new MalformedInput(`trust root: ${exc.message}`);
      throw exc;
    }
  }

  /** The keys trusted for the log `origin`; UntrustedLog when there are none. */
  logKeys(origin) {
    const found = this.logs.filter((k) => k.origin === origin);
    if (!found.length) {
      const named = [...new Set(this.logs.map((k) => JSON.stringify(k.origin)))].sort().join(", ") || "none";
      throw new UntrustedLog(`the trust root names no key for log ${JSON.stringify(origin)} (it names: ${named})`);
    }
    return found;
  }
}

function parse(obj, digest) {
  const sections = ["fabric", "regulator_chains", "timestamp_authorities", "witnesses"];
  requireFields(obj, "trust root", ["v", "type", "logs"], sections);
  if (obj.v !== 1) throw new MalformedInput("trust root.v must be 1");
  if (obj.type !== TRUST_ROOT_TYPE) throw new MalformedInput(`trust root type is ${JSON.stringify(obj.type)}, want ${JSON.stringify(TRUST_ROOT_TYPE)}`);
  const logs = unique(items(obj, "logs", "trust root", logKey, true), (k) => k.origin + "\n" + k.fingerprint, "logs");
  const absent = (key) => obj[key] === undefined || obj[key] === null;
  return new TrustRoot({
    digest,
    logs,
    fabric: absent("fabric") ? null : fabric(obj.fabric),
    regulatorChains: unique(items(obj, "regulator_chains", "trust root", chain), (c) => `${c.chainId} ${c.contract} ${c.operators.join(",")}`, "regulator_chains"),
    timestampAuthorities: unique(items(obj, "timestamp_authorities", "trust root", tsa), (t) => t.name, "timestamp_authorities"),
    witnesses: absent("witnesses") ? { quorum: 0, keys: [] } : witnesses(obj.witnesses),
  });
}

function items(obj, key, where, parseItem, required = false) {
  if ((obj[key] === undefined || obj[key] === null) && !required) return [];
  return listField(obj, key, where, MAX_ITEMS).map((item, i) => parseItem(item, `${where}.${key}[${i}]`));
}

function unique(list, keyOf, where) {
  const seen = new Set();
  list.forEach((item, i) => {
    if (seen.has(keyOf(item))) throw new MalformedInput(`trust root.${where}[${i}] repeats an earlier entry`);
    seen.add(keyOf(item));
  });
  return list;
}

function text(obj, key, where, pattern, want) {
  const value = strField(obj, key, where);
  if (!pattern.test(value)) throw new MalformedInput(`${where}.${key} must be ${want}`);
  return value;
}

function logKey(value, where) {
  const obj = requireObject(value, where);
  requireFields(obj, where, ["origin", "public_key"]);
  const origin = text(obj, "origin", where, LABEL, "1 to 255 characters without control characters");
  let publicKey;
  try {
    publicKey = PublicKey.fromPem(strField(obj, "public_key", where));
  } catch (exc) {
    if (exc instanceof MalformedInput) throw new MalformedInput(`${where}.public_key: ${exc.message}`);
    throw exc;
  }
  return { origin, publicKey, fingerprint: publicKey.fingerprint() };
}

function fabric(value) {
  const where = "trust root.fabric";
  const obj = requireObject(value, where);
  requireFields(obj, where, ["channel", "chaincode", "orgs", "endorsers", "orderers"]);
  const orgs = unique(items(obj, "orgs", where, fabricOrg), (o) => o.mspId, "fabric.orgs");
  const known = new Set(orgs.map((o) => o.mspId));
  return {
    channel: text(obj, "channel", where, CHANNEL, "a fabric channel name"),
    chaincode: text(obj, "chaincode", where, MSP_ID, "a chaincode name"),
    orgs,
    endorsers: mspRefs(obj, "endorsers", where, known),
    orderers: mspRefs(obj, "orderers", where, known),
  };
}

function fabricOrg(value, where) {
  const obj = requireObject(value, where);
  requireFields(obj, where, ["msp_id", "ca_certificates"]);
  return { mspId: text(obj, "msp_id", where, MSP_ID, "an msp id"), caCertificates: certificates(obj, "ca_certificates", where) };
}

function mspRefs(obj, key, where, known) {
  const refs = listField(obj, key, where, MAX_ITEMS);
  refs.forEach((ref, i) => {
    if (typeof ref !== "string" || !known.has(ref)) throw new MalformedInput(`${where}.${key}[${i}] must be the msp_id of one of fabric.orgs`);
  });
  if (new Set(refs).size !== refs.length || !refs.length) throw new MalformedInput(`${where}.${key} must name at least one org, each once`);
  return refs;
}

function chain(value, where) {
  const obj = requireObject(value, where);
  requireFields(obj, where, ["chain_id", "contract", "operators"]);
  const chainId = intField(obj, "chain_id", where, MAX_INT);
  if (chainId === 0) throw new MalformedInput(`${where}.chain_id must be a positive eip-155 chain id, got 0`);
  const contract = text(obj, "contract", where, ADDRESS, "0x and 40 lower-case hex digits");
  const operators = listField(obj, "operators", where, MAX_ITEMS);
  operators.forEach((op, i) => {
    if (typeof op !== "string" || !ADDRESS.test(op)) throw new MalformedInput(`${where}.operators[${i}] must be 0x and 40 lower-case hex digits`);
  });
  if (!operators.length || new Set(operators).size !== operators.length) throw new MalformedInput(`${where}.operators must name at least one account, each once`);
  return { chainId, contract, operators };
}

function tsa(value, where) {
  const obj = requireObject(value, where);
  requireFields(obj, where, ["name", "certificates"]);
  return { name: text(obj, "name", where, LABEL, "1 to 255 characters without control characters"), certificates: certificates(obj, "certificates", where) };
}

function witnesses(value) {
  const where = "trust root.witnesses";
  const obj = requireObject(value, where);
  requireFields(obj, where, ["quorum", "keys"]);
  let found = items(obj, "keys", where, witnessKey);
  found = unique(unique(found, (w) => w.name, "witnesses.keys"), (w) => toHex(w.spkiDer), "witnesses.keys");
  return { quorum: intField(obj, "quorum", where, found.length), keys: found };
}

function witnessKey(value, where) {
  const obj = requireObject(value, where);
  requireFields(obj, where, ["name", "public_key"]);
  const name = text(obj, "name", where, NAME, "a key name without spaces, controls or '+'");
  const der = unarmor(strField(obj, "public_key", where), "PUBLIC KEY", `${where}.public_key`);
  try {
    return { name, algorithm: "sm2", spkiDer: PublicKey.fromDer(der).spkiDer };
  } catch (exc) {
    if (der.length === 44 && toHex(der.subarray(0, 12)) === ED25519_PREFIX) return { name, algorithm: "ed25519", spkiDer: der };
    throw new MalformedInput(`${where}.public_key: want an sm2 or ed25519 key: ${exc.message}`);
  }
}

function certificates(obj, key, where) {
  const texts = listField(obj, key, where, 16);
  if (!texts.length) throw new MalformedInput(`${where}.${key} must list at least one certificate`);
  return texts.map((t, i) => {
    const der = unarmor(t, "CERTIFICATE", `${where}.${key}[${i}]`);
    if (!isDerSequence(der)) throw new MalformedInput(`${where}.${key}[${i}] is not an x.509 certificate`);
    return der;
  });
}

function isDerSequence(der) {
  if (der.length < 2 || der[0] !== 0x30) return false;
  const first = der[1];
  if (first < 0x80) return first + 2 === der.length;
  const n = first & 0x7f;
  if (n < 1 || n > 4 || der.length < 2 + n) return false;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i];
  return len + 2 + n === der.length;
}
