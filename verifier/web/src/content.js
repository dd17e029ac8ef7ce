// Parsing the files of a pack whose hashes the signed manifest vouches for (reason class `malformed`).
// Each file is read strictly; JSON files must be canonical. Nothing here checks a signature or a proof.
import { MalformedInput } from "./errors.js";
import { decodeUtf8Exact, equal, toHex } from "./bytes.js";
import {
  canonical, hexField, hexListField, intField, isObject, listField, loads, objectField, optionalIntField,
  requireFields, requireObject, strField,
} from "./json.js";
import { Checkpoint } from "./checkpoint.js";
import { Attestation, Event, Payload } from "./events.js";
import { MAX_CONSISTENCY_HASHES, MAX_INCLUSION_HASHES } from "./merkle.js";
import { asReason } from "./manifest.js";
import { comparePy } from "./pytext.js";
import { PublicKey, sm3 } from "./sm.js";

export const ANCHOR_FORMAT = "tiezheng.anchor/v1";
const MAX_EVENTS = 1000000;
const MAX_RECEIPTS = 4096;

/** Parse every listed file (already hash-checked) of `files` (Map path → bytes); PackError(`malformed`). */
export function readContent(manifest, files) {
  const paths = [...files.keys()];
  const inclusion = readInclusion(files);
  const sizeOf = (p) => Number(p.slice(p.lastIndexOf("/") + 1).split(".")[0]);
  // keyed by BigInt: a file name may hold a size beyond 2^53 (the Python verifier keys them exactly)
  const checkpoints = new Map(paths.filter((p) => p.startsWith("checkpoints/")).map((p) => [BigInt(p.slice(12, -4)), readCheckpoint(p, files.get(p))]));
  const events = readEvents(files.get("events.jsonl"));
  const attestations = readAttestations(files.get("attestations.jsonl"));
  const consistency = readConsistency(files);
  const payloads = new Map(paths.filter((p) => p.startsWith("payloads/")).map((p) => [sizeOf(p), asReason("malformed", p, () => Payload.fromJson(json(p, files.get(p))))]));
  const logKey = readPem("keys/log.pem", files.get("keys/log.pem"));
  const actorKeys = readActorKeys(files.get("keys/actors.json"));
  const media = asReason("malformed", "media/index.json", () => jsonList("media/index.json", files.get("media/index.json")).map((item, i) => mediaEntry(`media/index.json[${i}]`, item)));
  const anchors = paths.filter((p) => p.startsWith("anchors/")).map((p) => readReceipts(p, files.get(p)));
  const checkpoint = checkpoints.get(BigInt(manifest.treeSize));
  return { manifest, files, checkpoints, checkpoint, events, attestations, inclusionSize: inclusion.size, inclusion: inclusion.proofs, consistency, payloads, logKey, actorKeys, media, anchors };
}

function json(path, data) {
  const value = loads(data, path);
  if (!equal(canonical(value), data)) throw new MalformedInput("not in canonical form (RFC 8785)");
  return value;
}

function readCheckpoint(path, data) {
  return asReason("malformed", path, () => Checkpoint.fromText(decodeUtf8Exact(data, "checkpoint")));
}

function lines(data, limit) {
  if (data.length && data[data.length - 1] !== 10) throw new MalformedInput("the last line does not end with a newline");
  const out = [];
  let start = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 10) {
      out.push(data.subarray(start, i));
      start = i + 1;
    }
  }
  if (out.length > limit) throw new MalformedInput(`${out.length} lines, want at most ${limit}`);
  return out;
}

function readEvents(data) {
  return asReason("malformed", "events.jsonl", () => lines(data, MAX_EVENTS).map((line, i) => {
    try {
      return Event.fromJson(json("events.jsonl", line));
    } catch (exc) {
      if (exc instanceof MalformedInput) throw new MalformedInput(`line ${i + 1}: ${exc.message}`);
      throw exc;
    }
  }));
}

function readAttestations(data) {
  return asReason("malformed", "attestations.jsonl", () => {
    const out = new Map();
    const all = lines(data, MAX_EVENTS);
    let last = null, ascending = true;
    for (const line of all) {
      const attestation = Attestation.fromJson(json("attestations.jsonl", line));
      const key = toHex(sm3(line));
      if (last !== null && !(key > last)) ascending = false;
      last = key;
      out.set(key, attestation);
    }
    if (!ascending || out.size !== all.length) throw new MalformedInput("attestations must ascend by their SM3, each once");
    return out;
  });
}

function readInclusion(files) {
  const path = "proofs/inclusion.json";
  return asReason("malformed", path, () => {
    const obj = requireObject(json(path, files.get(path)), path);
    requireFields(obj, path, ["tree_size", "proofs"]);
    const proofs = listField(obj, "proofs", path, MAX_EVENTS).map((value, i) => {
      const where = `${path} proofs[${i}]`;
      const item = requireObject(value, where);
      requireFields(item, where, ["leaf_index", "audit_path"]);
      return { leafIndex: intField(item, "leaf_index", where), auditPath: hexListField(item, "audit_path", where, MAX_INCLUSION_HASHES) };
    });
    return { size: intField(obj, "tree_size", path), proofs };
  });
}

function readConsistency(files) {
  const path = "proofs/consistency.json";
  return asReason("malformed", path, () => {
    const obj = requireObject(json(path, files.get(path)), path);
    requireFields(obj, path, ["proofs"]);
    return listField(obj, "proofs", path, MAX_RECEIPTS).map((value, i) => {
      const where = `${path} proofs[${i}]`;
      const item = requireObject(value, where);
      requireFields(item, where, ["from", "to", "path"]);
      return { from: intField(item, "from", where), to: intField(item, "to", where), path: hexListField(item, "path", where, MAX_CONSISTENCY_HASHES) };
    });
  });
}

function readPem(path, data) {
  return asReason("malformed", path, () => {
    if (data.some((b) => b > 127)) throw new MalformedInput("not ASCII PEM");
    return PublicKey.fromPem(new TextDecoder("ascii").decode(data));
  });
}

function readActorKeys(data) {
  const path = "keys/actors.json";
  return asReason("malformed", path, () => {
    const out = new Map();
    let last = null;
    jsonList(path, data).forEach((value, i) => {
      const where = `${path}[${i}]`;
      const item = requireObject(value, where);
      requireFields(item, where, ["key_id", "actor", "fingerprint", "public_key"]);
      const key = PublicKey.fromPem(strField(item, "public_key", where));
      if (strField(item, "fingerprint", where) !== key.fingerprint()) throw new MalformedInput(`${where}.fingerprint is not the key's`);
      const keyId = strField(item, "key_id", where);
      if (last !== null && comparePy(keyId, last) <= 0) throw new MalformedInput(`${where}.key_id out of order: key ids ascend, each once`);
      last = keyId;
      out.set(keyId, { keyId, actor: objectField(item, "actor", where), key });
    });
    return out;
  });
}

function jsonList(path, data) {
  const value = json(path, data);
  if (!Array.isArray(value) || value.length > MAX_EVENTS) throw new MalformedInput(`want a JSON array of at most ${MAX_EVENTS} items`);
  return value;
}

function mediaEntry(where, value) {
  const item = requireObject(value, where);
  requireFields(item, where, ["media", "role", "path", "sm3", "size", "event", "state", "deleted_by"]);
  const state = strField(item, "state", where), role = strField(item, "role", where);
  if (!["present", "deleted"].includes(state) || !["keyframe", "video", "photo"].includes(role)) {
    throw new MalformedInput(`${where}: state or role is not a v1 value`);
  }
  const path = item.path;
  if (path !== null && (typeof path !== "string" || !path.startsWith(`media/${pyStr(item.media)}/`))) {
    throw new MalformedInput(`${where}.path must be null or media/<media>/<file>`);
  }
  return {
    media: strField(item, "media", where), role, path, sm3: hexField(item, "sm3", where), size: intField(item, "size", where),
    event: intField(item, "event", where), state, deletedBy: optionalIntField(item, "deleted_by", where),
  };
}

// str() of a JSON value as Python prints it inside an f-string (only strings can pass the later checks).
function pyStr(value) {
  if (typeof value === "string") return value;
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  return isObject(value) || Array.isArray(value) ? "\u0000" : String(value);
}

function readReceipts(path, data) {
  return asReason("malformed", path, () => {
    const obj = requireObject(json(path, data), path);
    requireFields(obj, path, ["format", "kind", "kind_version", "receipts"]);
    const kind = strField(obj, "kind", path);
    if (strField(obj, "format", path) !== ANCHOR_FORMAT || path !== `anchors/${kind}.json`) {
      throw new MalformedInput(`want format ${JSON.stringify(ANCHOR_FORMAT)} and kind ${JSON.stringify(path.slice(8, -5))}`);
    }
    const receipts = listField(obj, "receipts", path, MAX_RECEIPTS).map((item, i) => {
      const receipt = requireObject(item, `${path} receipts[${i}]`);
      intField(receipt, "tree_size", `${path} receipts[${i}]`);
      hexField(receipt, "root_hash", `${path} receipts[${i}]`);
      return receipt;
    });
    return { kind, kindVersion: intField(obj, "kind_version", path), receipts };
  });
}
