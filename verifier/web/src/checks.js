// The evidence checks of a pack, steps 11 to 19 of docs/formats.md ("Verification order"). Each raises
// the refusal of its reason class (PackError) and returns what the report shows.
import { VerificationFailed } from "./errors.js";
import { PackError } from "./reasons.js";
import { equal, toHex } from "./bytes.js";
import { isObject } from "./json.js";
import { keyHash, verifyCheckpoint } from "./checkpoint.js";
import { actorKeyBinding, eventLeafHash, verifyActorSignature, verifyAttestation, verifyPayloadCommitment } from "./events.js";
import { verifyConsistency, verifyInclusion } from "./merkle.js";
import { comparePy, equalsInt } from "./pytext.js";

const byValue = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const refuse = (reason, detail, path) => {
  throw new PackError(reason, detail, path);
};

function failedAs(reason, path, prefix, fn) {
  try {
    return fn();
  } catch (exc) {
    if (exc instanceof VerificationFailed) refuse(reason, `${prefix}${exc.message}`, path);
    throw exc;
  }
}

/** Step 11: every checkpoint is the origin's, named by its size, signed by a trusted key; so is keys/log.pem. */
export function checkCheckpoints(content, trusted) {
  if (!trusted.some((k) => k.fingerprint === content.logKey.fingerprint())) {
    refuse("checkpoint-signature", `keys/log.pem ${content.logKey.fingerprint()} is not a trusted key of ${JSON.stringify(content.manifest.origin)}`, "keys/log.pem");
  }
  let signer = "";
  for (const size of [...content.checkpoints.keys()].sort(byValue)) {
    const checkpoint = content.checkpoints.get(size), path = `checkpoints/${size}.txt`;
    if (checkpoint.origin !== content.manifest.origin || checkpoint.treeSize !== size) {
      refuse("checkpoint-signature", `${path} is for ${JSON.stringify(checkpoint.origin.slice(0, 80))} size ${checkpoint.treeSize}, want size ${size}`, path);
    }
    const signers = trusted.filter((k) => checkpoint.signatures.some((s) => s.name === checkpoint.origin && equal(s.keyHash, keyHash(checkpoint.origin, k.publicKey))));
    if (!signers.length) refuse("checkpoint-signature", `${path} has no signature line of a trusted key of ${JSON.stringify(checkpoint.origin)}`, path);
    for (const key of signers) failedAs("checkpoint-signature", path, `${path}: `, () => verifyCheckpoint(checkpoint, key.publicKey));
    if (size === BigInt(content.manifest.treeSize)) signer = signers[0].fingerprint;
  }
  return signer;
}

/** Step 12: one proof per event, leaf indices ascending, all against the pack checkpoint, each valid. */
export function checkInclusion(content) {
  const path = "proofs/inclusion.json", cp = content.checkpoint;
  if (BigInt(content.inclusionSize) !== cp.treeSize || content.inclusion.length !== content.events.length) {
    refuse("inclusion-proof", `${content.inclusion.length} proofs at size ${content.inclusionSize} for ${content.events.length} events, want one each at size ${cp.treeSize}`, path);
  }
  let previous = -1;
  content.events.forEach((event, i) => {
    const proof = content.inclusion[i];
    if (!(previous < proof.leafIndex && BigInt(proof.leafIndex) < cp.treeSize)) {
      refuse("inclusion-proof", `proof ${i + 1} is for leaf ${proof.leafIndex}: leaf indices must ascend, below ${cp.treeSize}`, path);
    }
    failedAs("inclusion-proof", path, `event on line ${i + 1} (leaf ${proof.leafIndex}): `,
      () => verifyInclusion(proof.leafIndex, cp.treeSize, eventLeafHash(event), proof.auditPath, cp.rootHash));
    previous = proof.leafIndex;
  });
}

/** Step 13: each event's signature (or attestation) by the key its key_id names in keys/actors.json. */
export function checkEventSignatures(content) {
  const bindings = new Map();
  content.events.forEach((event, i) => {
    const keyId = String(event.actor.key_id);
    const entry = content.actorKeys.get(keyId);
    if (entry === undefined) refuse("event-signature", `event on line ${i + 1}: key ${JSON.stringify(keyId.slice(0, 80))} is not in keys/actors.json`, "events.jsonl");
    failedAs("event-signature", "events.jsonl", `event on line ${i + 1} (${event.fields.event_id}): `, () => {
      if (event.attestationHash === null) {
        verifyActorSignature(event, entry.key);
      } else {
        const attestation = content.attestations.get(toHex(event.attestationHash));
        if (attestation === undefined) throw new VerificationFailed(`attestation ${toHex(event.attestationHash)} is not in attestations.jsonl`);
        verifyAttestation(event, attestation, entry.key);
      }
      if (!bindings.has(keyId)) bindings.set(keyId, actorKeyBinding(event, entry.key)); // depends on key id and key only
    });
  });
  return bindings;
}

function eventsByIndex(content) {
  return new Map(content.inclusion.map((p, i) => [p.leafIndex, content.events[i]]));
}

/** Step 14: every disclosed payload names a leaf of the pack and matches its commitment. */
export function checkPayloads(content) {
  const byIndex = eventsByIndex(content);
  for (const index of [...content.payloads.keys()].sort((a, b) => a - b)) {
    const path = `payloads/${index}.json`, event = byIndex.get(index);
    if (event === undefined) refuse("payload-commitment", `${path} names leaf ${index}, which is not an event of the pack`, path);
    failedAs("payload-commitment", path, `${path}: `, () => verifyPayloadCommitment(event, content.payloads.get(index)));
  }
  return content.payloads.size;
}

/** Step 15: every event is of the manifest's tenant and inside its scope. */
export function checkScope(content) {
  const { scope, tenant } = content.manifest;
  content.events.forEach((event, i) => {
    let why = outside(scope, event.fields.subject, String(event.fields.received_at));
    if (event.fields.tenant !== tenant) why = `tenant ${JSON.stringify(String(event.fields.tenant).slice(0, 80))}, want ${JSON.stringify(tenant)}`;
    if (why) refuse("scope", `event on line ${i + 1} (${event.fields.event_id}) is outside the scope: ${why}`, "events.jsonl");
  });
}

function outside(scope, subject, receivedAt) {
  const get = (key) => (Object.hasOwn(subject, key) ? subject[key] : null);
  if (scope.kind === "permit" && get("permit") !== scope.permit) return `permit ${JSON.stringify(get("permit"))}, want ${JSON.stringify(scope.permit)}`;
  if (scope.kind === "worker" && get("worker") !== scope.worker) return `worker ${JSON.stringify(get("worker"))}, want ${JSON.stringify(scope.worker)}`;
  if (scope.kind === "area") {
    if (!scope.permits.includes(get("permit"))) return `permit ${JSON.stringify(get("permit"))} is not a listed permit of area ${JSON.stringify(scope.area)}`;
    if (!(comparePy(scope.from, receivedAt) <= 0 && comparePy(receivedAt, scope.to) < 0)) return `received_at ${receivedAt} is not in [${scope.from}, ${scope.to})`;
  }
  return null;
}

/** Step 16: the prev chain (docs/formats.md, "Scope"); returns what the chain proves. */
export function checkChain(content) {
  const kind = content.manifest.scope.kind;
  if (kind === "worker") return "worker events are not chained: their completeness is the service's statement";
  const last = new Map();
  content.events.forEach((event, i) => {
    const permit = String(event.fields.subject.permit);
    const prev = event.fields.prev;
    const want = last.get(permit);
    const firstOfAreaPermit = kind === "area" && want === undefined;
    if (!firstOfAreaPermit && prev !== (want !== undefined ? toHex(want) : null)) {
      refuse("chain-gap", `event on line ${i + 1} (${event.fields.event_id}) has prev ${prev}, want ${want !== undefined ? toHex(want) : "null"}: an event is missing, extra or out of order`, "events.jsonl");
    }
    last.set(permit, eventLeafHash(event));
  });
  if (kind === "permit") return `all ${content.events.length} events of the permit, chained from its first (prev null)`;
  return "each permit's events in the range are consecutive in its chain";
}

/** Steps 17 and 18: media files match their entries and events; deleted media have their deletion event. */
export function checkMedia(content) {
  const byIndex = eventsByIndex(content);
  const manifestFiles = new Map(content.manifest.files.map((f) => [f.path, f]));
  let present = 0;
  for (const entry of content.media) {
    const event = byIndex.get(entry.event), payload = content.payloads.get(entry.event);
    const value = payload !== undefined ? payload.value : null;
    const subjectMedia = event !== undefined && Object.hasOwn(event.fields.subject, "media") ? event.fields.subject.media : null;
    if (event === undefined || !isObject(value) || value.sm3 !== toHex(entry.sm3) || !equalsInt(value.size, entry.size) || subjectMedia !== entry.media) {
      refuse("media-hash", `media ${entry.media} ${entry.path}: leaf ${entry.event} is not a disclosed event of this media whose payload has its sm3 and size`, "media/index.json");
    }
    if (entry.state === "present") {
      present += 1;
      // the file's own bytes were checked against its manifest entry (step 9): compare with that entry
      const listed = entry.path !== null ? manifestFiles.get(entry.path) : undefined;
      if (listed === undefined || listed.size !== entry.size || !equal(listed.sm3, entry.sm3)) {
        refuse("media-hash", `media file ${entry.path} is missing or its size or sm3 is not its entry's`, entry.path || "media/index.json");
      }
      if (entry.deletedBy !== null) refuse("media-deletion", `media file ${entry.path} is present but names deletion event ${entry.deletedBy}`, "media/index.json");
    } else {
      const deletion = entry.deletedBy !== null ? byIndex.get(entry.deletedBy) : undefined;
      const deletedMedia = deletion !== undefined && Object.hasOwn(deletion.fields.subject, "media") ? deletion.fields.subject.media : null;
      if (entry.path !== null || deletion === undefined || deletion.fields.kind !== "media.deleted" || deletedMedia !== entry.media) {
        refuse("media-deletion", `deleted media ${entry.media}: leaf ${entry.deletedBy} is not a media.deleted event of it in the pack (or a path is given)`, "media/index.json");
      }
    }
  }
  return [present, content.media.length - present];
}

/** Step 19: every other checkpoint is linked to the pack checkpoint by a valid consistency proof. */
export function checkConsistency(content) {
  const base = content.checkpoint, path = "proofs/consistency.json";
  const proofs = new Map(content.consistency.map((p) => [`${p.from},${p.to}`, p.path]));
  const others = [...content.checkpoints.keys()].filter((s) => s !== base.treeSize).sort(byValue);
  for (const size of others) {
    const other = content.checkpoints.get(size);
    const [low, high] = other.treeSize < base.treeSize ? [other, base] : [base, other];
    const proof = proofs.get(`${low.treeSize},${high.treeSize}`);
    if (proof === undefined) refuse("consistency-proof", `no consistency proof from ${low.treeSize} to ${high.treeSize}`, path);
    failedAs("consistency-proof", path, `${low.treeSize} -> ${high.treeSize}: `, () => verifyConsistency(low.treeSize, high.treeSize, low.rootHash, high.rootHash, proof));
  }
  if (proofs.size !== others.length) refuse("consistency-proof", `${proofs.size} consistency proofs for ${others.length} other checkpoints`, path);
  return others.length;
}

