// Evidence events as log leaves (docs/formats.md, "Evidence event (a log leaf)"): leaf bytes are the
// RFC 8785 bytes of the event as stored; the claim is the event without received_at, prev, attestation and
// signature; the actor signs the claim, or one batch attestation listing claim hashes.
import { AttestationMismatch, BadSignature, CommitmentMismatch, KeyMismatch, MalformedInput } from "./errors.js";
import { concat, equal, toHex } from "./bytes.js";
import {
  b64Field, canonical, canonicalText, hexField, hexListField, objectField, optionalHexField, requireFields,
  requireObject, strField, without,
} from "./json.js";
import { leafHash } from "./hashing.js";
import { sm3, verifySm2 } from "./sm.js";

const NOT_IN_CLAIM = ["received_at", "prev", "attestation", "signature"];
const MAX_BATCH = 100000;
const HEX_PREFIX = /^[0-9a-f]{16,64}$/;

function requireVersion(obj, where) {
  if (obj.v !== 1 || typeof obj.v !== "number") throw new MalformedInput(`${where}.v must be 1, got ${JSON.stringify(obj.v ?? null)}`);
}

function actorOf(obj, where) {
  const actor = objectField(obj, "actor", where);
  for (const key of ["type", "id", "key_id"]) strField(actor, key, `${where}.actor`);
  return actor;
}

/** One evidence event exactly as stored (`fields`), with the parts the checks use. */
export class Event {
  constructor(fields) {
    Object.assign(this, fields);
  }

  /** Check the structure of a parsed event; raises MalformedInput naming the first bad field. */
  static fromJson(value) {
    const obj = requireObject(value, "event");
    requireVersion(obj, "event");
    for (const key of ["event_id", "tenant", "kind", "occurred_at", "received_at"]) strField(obj, key, "event");
    objectField(obj, "subject", "event");
    optionalHexField(obj, "prev", "event");
    if (("signature" in obj) === ("attestation" in obj)) {
      throw new MalformedInput("event must carry exactly one of 'signature' and 'attestation'");
    }
    canonical(obj);
    return new Event({
      fields: obj,
      actor: actorOf(obj, "event"),
      payloadCommitment: hexField(obj, "payload_commitment", "event"),
      signature: "signature" in obj ? b64Field(obj, "signature", "event") : null,
      attestationHash: "attestation" in obj ? hexField(obj, "attestation", "event") : null,
    });
  }

  /** The event id. */
  get id() {
    return this.fields.event_id;
  }
}

/** A batch attestation: the actor's one signature over the claim hashes of many events. */
export class Attestation {
  constructor(fields) {
    Object.assign(this, fields);
  }

  /** Check the structure of a parsed attestation; raises MalformedInput. */
  static fromJson(value) {
    const obj = requireObject(value, "attestation");
    requireVersion(obj, "attestation");
    strField(obj, "tenant", "attestation");
    canonical(obj);
    return new Attestation({
      fields: obj,
      actor: actorOf(obj, "attestation"),
      eventHashes: hexListField(obj, "event_hashes", "attestation", MAX_BATCH),
      signature: b64Field(obj, "signature", "attestation"),
    });
  }
}

/** A disclosed payload: 16-byte salt and the JSON value the event commits to. */
export class Payload {
  constructor(salt, value) {
    this.salt = salt;
    this.value = value;
  }

  /** Parse {"salt": "<hex 16 bytes>", "value": <json>}; raises MalformedInput. */
  static fromJson(value) {
    const obj = requireObject(value, "payload");
    requireFields(obj, "payload", ["salt", "value"]);
    canonical(obj.value);
    return new Payload(hexField(obj, "salt", "payload", 16), obj.value);
  }
}

/** The claim the actor signed. */
export function claim(event) {
  return without(event.fields, ...NOT_IN_CLAIM);
}

/** SM3(canonical(claim)). */
export function claimHash(event) {
  return sm3(canonical(claim(event)));
}

/** The event's leaf hash: SM3(0x00 || canonical(event)). */
export function eventLeafHash(event) {
  return leafHash(canonical(event.fields));
}

/** Check the actor's SM2 signature over canonical(claim) with `publicKey`; BadSignature. */
export function verifyActorSignature(event, publicKey) {
  if (event.signature === null) throw new MalformedInput("event has no 'signature': it is batch-signed, check its attestation");
  try {
    verifySm2(publicKey, canonical(claim(event)), event.signature);
  } catch (exc) {
    if (exc instanceof BadSignature) throw new BadSignature(`actor signature over the claim does not verify: ${exc.message}`);
    throw exc;
  }
}

/** Check that the batch `attestation` signed by `publicKey` covers `event` (AttestationMismatch, BadSignature). */
export function verifyAttestation(event, attestation, publicKey) {
  if (event.attestationHash === null) throw new MalformedInput("event has no 'attestation': it is individually signed, check its signature");
  const calculated = sm3(canonical(attestation.fields));
  if (!equal(calculated, event.attestationHash)) {
    throw new AttestationMismatch(`attestation hash mismatch: calculated ${toHex(calculated)}, event names ${toHex(event.attestationHash)}`);
  }
  try {
    verifySm2(publicKey, canonical(without(attestation.fields, "signature")), attestation.signature);
  } catch (exc) {
    if (exc instanceof BadSignature) throw new BadSignature(`attestation signature does not verify: ${exc.message}`);
    throw exc;
  }
  const mine = claimHash(event);
  if (!attestation.eventHashes.some((h) => equal(h, mine))) {
    throw new AttestationMismatch(`claim hash ${toHex(mine)} is not in the attestation's event_hashes`);
  }
  if (attestation.fields.tenant !== event.fields.tenant) throw new AttestationMismatch("tenant mismatch between event and attestation");
  if (canonicalText(event.actor) !== canonicalText(attestation.actor)) throw new AttestationMismatch("actor mismatch between event and attestation");
}

/** "fingerprint" when actor.key_id names `publicKey`, "signature" for a plain name; KeyMismatch otherwise. */
export function actorKeyBinding(event, publicKey) {
  const keyId = String(event.actor.key_id);
  const named = fingerprintOf(keyId);
  if (named === null || (!keyId.includes("#") && keyId.length !== 64)) return "signature";
  const fingerprint = publicKey.fingerprint();
  if (!fingerprint.startsWith(named)) {
    throw new KeyMismatch(`actor key_id ${JSON.stringify(keyId.slice(0, 80))} names another key: the actor key is ${fingerprint}`);
  }
  return "fingerprint";
}

// The fingerprint (prefix) a key id names: "<16 to 64 hex>" or "<name without newline>#<16 to 64 hex>", the
// Python verifier's regex (?:.*#)?([0-9a-f]{16,64}) in linear time (hex has no '#', so only the last '#' can split).
function fingerprintOf(keyId) {
  const cut = keyId.lastIndexOf("#");
  if (cut < 0) return HEX_PREFIX.test(keyId) ? keyId : null;
  const tail = keyId.slice(cut + 1);
  return !keyId.slice(0, cut).includes("\n") && HEX_PREFIX.test(tail) ? tail : null;
}

/** Check SM3(salt || canonical(value)) is the event's payload_commitment; CommitmentMismatch. */
export function verifyPayloadCommitment(event, payload) {
  const calculated = sm3(concat(payload.salt, canonical(payload.value)));
  if (!equal(calculated, event.payloadCommitment)) {
    throw new CommitmentMismatch(`payload commitment mismatch: calculated ${toHex(calculated)}, want ${toHex(event.payloadCommitment)}`);
  }
}
