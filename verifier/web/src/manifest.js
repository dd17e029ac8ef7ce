// The pack manifest (docs/formats.md, "Manifest" and "Scope"): strict parsing; any problem is reason
// `manifest`. The signature is checked later, once the trust root has named the keys.
import { MalformedInput } from "./errors.js";
import { PackError } from "./reasons.js";
import { equal } from "./bytes.js";
import {
  b64Field, canonical, hexField, intField, listField, loads, objectField, requireFields, requireObject, strField,
  without,
} from "./json.js";
import { checkPath, MAX_ENTRIES } from "./zip.js";
import { sm3 } from "./sm.js";
import { comparePy } from "./pytext.js";

export const PACK_FORMAT = "tiezheng.pack/v1";
export const REQUIRED_FILES = ["events.jsonl", "attestations.jsonl", "media/index.json", "proofs/inclusion.json",
  "proofs/consistency.json", "keys/log.pem", "keys/actors.json", "report.html", "report.pdf", "verify.html"];
const REPORTS = ["report.html", "report.pdf"];
const FIELDS = ["format", "pack_id", "created_at", "tenant", "scope", "log", "files", "evidence_digest", "signature"];
const NUMBER = "(?:0|[1-9][0-9]{0,15})";
const PATTERNS = new RegExp(`^(?:payloads/${NUMBER}\\.json|checkpoints/${NUMBER}\\.txt|anchors/[a-z0-9][a-z0-9-]{0,31}\\.json|media/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+)$`);
const ID = /^[A-Za-z0-9][A-Za-z0-9._:@#-]{0,63}$/;
const SCOPES = { permit: ["kind", "permit"], area: ["kind", "area", "from", "to", "permits"], worker: ["kind", "worker"] };

/** Run `fn`; a MalformedInput raised inside becomes the refusal of class `reason` about `path`. */
export function asReason(reason, path, fn) {
  try {
    return fn();
  } catch (exc) {
    if (exc instanceof MalformedInput) throw new PackError(reason, path ? `${path}: ${exc.message}` : exc.message, path);
    throw exc;
  }
}

/** Parse manifest.json bytes; PackError(`manifest`) naming the first bad field. */
export function parseManifest(data) {
  return asReason("manifest", "manifest.json", () => {
    const obj = requireObject(loads(data, "manifest.json"), "manifest");
    if (!equal(canonical(obj), data)) throw new MalformedInput("manifest is not in canonical form (RFC 8785)");
    const fmt = strField(obj, "format", "manifest");
    if (fmt !== PACK_FORMAT) throw new MalformedInput(`format is ${JSON.stringify(fmt.slice(0, 80))}, want ${JSON.stringify(PACK_FORMAT)}`);
    requireFields(obj, "manifest", FIELDS);
    return fromObject(obj);
  });
}

function fromObject(obj) {
  const log = objectField(obj, "log", "manifest");
  requireFields(log, "manifest.log", ["origin", "tree_size", "key_fingerprint"]);
  const files = parseFiles(obj);
  const digest = hexField(obj, "evidence_digest", "manifest");
  const want = sm3(canonical(obj.files.filter((f) => !REPORTS.includes(f.path))));
  if (!equal(digest, want)) throw new MalformedInput("evidence_digest is not the sm3 of the file list");
  const treeSize = intField(log, "tree_size", "manifest.log");
  requireListed(files, treeSize);
  hexField(log, "key_fingerprint", "manifest.log");
  return {
    fields: obj, packId: idText(obj, "pack_id"), createdAt: strField(obj, "created_at", "manifest"),
    tenant: idText(obj, "tenant"), scope: parseScope(obj), origin: strField(log, "origin", "manifest.log"),
    treeSize, keyFingerprint: strField(log, "key_fingerprint", "manifest.log"), files,
    evidenceDigest: digest, signature: b64Field(obj, "signature", "manifest"),
    signedBytes: canonical(without(obj, "signature")),
  };
}

function parseFiles(obj) {
  const out = [];
  listField(obj, "files", "manifest", MAX_ENTRIES).forEach((value, i) => {
    const where = `manifest.files[${i}]`;
    const item = requireObject(value, where);
    requireFields(item, where, ["path", "size", "sm3"]);
    const path = strField(item, "path", where);
    try {
      checkPath(path);
    } catch (exc) {
      throw new MalformedInput(`${where}.path: ${exc.message}`);
    }
    if (!REQUIRED_FILES.includes(path) && !PATTERNS.test(path) && !path.startsWith("checkpoints/")) {
      throw new MalformedInput(`${where}.path ${JSON.stringify(path)} is not a file of a v1 pack`);
    }
    if (out.length && !(path > out[out.length - 1].path)) throw new MalformedInput(`${where}.path is not after the one before: paths must ascend, once each`);
    out.push({ path, size: intField(item, "size", where), sm3: hexField(item, "sm3", where) });
  });
  return out;
}

function requireListed(files, treeSize) {
  const listed = new Set(files.map((f) => f.path));
  for (const path of [...REQUIRED_FILES, `checkpoints/${treeSize}.txt`]) {
    if (!listed.has(path)) throw new MalformedInput(`required file ${JSON.stringify(path)} is not listed`);
  }
  if (listed.has("manifest.json")) throw new MalformedInput("the manifest lists itself");
  const bad = [...listed].find((p) => p.startsWith("checkpoints/") && !PATTERNS.test(p));
  if (bad !== undefined) throw new MalformedInput(`checkpoint file name ${JSON.stringify(bad)} is not checkpoints/<tree size>.txt`);
}

function idText(obj, key, where = "manifest") {
  const value = strField(obj, key, where);
  if (!ID.test(value)) throw new MalformedInput(`${where}.${key} is not an id`);
  return value;
}

function parseScope(obj) {
  const scope = objectField(obj, "scope", "manifest");
  const kind = strField(scope, "kind", "manifest.scope");
  if (!Object.hasOwn(SCOPES, kind)) throw new MalformedInput(`manifest.scope.kind ${JSON.stringify(kind.slice(0, 40))} is not one of area, permit, worker`);
  requireFields(scope, "manifest.scope", SCOPES[kind]);
  for (const key of SCOPES[kind].slice(1)) {
    if (key === "from" || key === "to") strField(scope, key, "manifest.scope");
    else if (key === "permits") checkPermits(scope);
    else idText(scope, key, "manifest.scope");
  }
  return scope;
}

function checkPermits(scope) {
  const permits = listField(scope, "permits", "manifest.scope", 100000);
  const ok = permits.every((p) => typeof p === "string" && ID.test(p)) && permits.every((p, i) => i === 0 || comparePy(permits[i - 1], p) < 0);
  if (!ok) throw new MalformedInput("manifest.scope.permits must be ascending, distinct permit ids");
}

