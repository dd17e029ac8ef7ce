// Offline verification of an evidence pack (docs/formats.md, "Evidence pack v1"): the numbered checks of
// "Verification order and reason classes", in that order, stopping at the first that fails, against the
// trust root the person verifying chose. Nothing in the pack is trusted. Runs the same in Node and in the
// browser: input is bytes, output a plain report object.
import { MalformedInput, VerifierError } from "./errors.js";
import { PackError, exitCodeOf } from "./reasons.js";
import { equal, toHex } from "./bytes.js";
import { parseManifest } from "./manifest.js";
import { readContent } from "./content.js";
import { checkChain, checkCheckpoints, checkConsistency, checkEventSignatures, checkInclusion, checkMedia, checkPayloads, checkScope } from "./checks.js";
import { assuranceOf, checkAnchors } from "./packanchors.js";
import { TrustRoot } from "./trust.js";
import { crc32, MAX_PACK_BYTES, readPackZip } from "./zip.js";
import { sm3, verifySm2 } from "./sm.js";

/** What the browser verifier cannot check, whatever the pack holds (said in every report). */
export const NOT_CHECKED_IN_BROWSER = [
  "report.pdf, report.html: hashed (file-hash) but not read: the certificate is the service's rendering of the evidence (the command line does not read them either)",
  "the trust root's timestamp_authorities section: parsed, but its X.509 certificates are only checked to be DER, not decoded (the fabric section's CA certificates are decoded and used)",
];

/**
 * Verify a pack. `source` is {zip: Uint8Array} (the pack file) or {folder: Map(path → Uint8Array)} (the
 * unzipped pack, paths relative to its top); `trustRoot` the trust-root file's bytes or null. Returns the
 * report: {valid, reason, path, detail, exit_code, steps, ...summary}; never throws for bad input.
 */
export function verifyPack(source, trustRoot) {
  const run = new Run();
  try {
    const summary = run.all(source, trustRoot);
    return { valid: true, reason: null, path: null, detail: null, exit_code: 0, ...summary, steps: run.steps };
  } catch (exc) {
    if (!(exc instanceof PackError)) {
      // a bug of this verifier, never a verdict on the pack: say so rather than guess a class
      return { valid: false, reason: "internal-error", path: null, detail: `browser verifier error: ${exc && exc.stack || exc}`, exit_code: 2, steps: run.steps, ...run.partial };
    }
    run.steps.push({ name: run.current, status: "failed", detail: exc.detail });
    return { valid: false, reason: exc.reason, path: exc.path, detail: exc.detail, exit_code: exitCodeOf(exc.reason), steps: run.steps, ...run.partial };
  }
}

class Run {
  constructor() {
    this.steps = [];
    this.current = "read";
    this.partial = {};
  }

  step(name, fn, describe = () => "") {
    this.current = name;
    const value = fn();
    this.steps.push({ name, status: "ok", detail: describe(value) });
    return value;
  }

  all(source, trustRootBytes) {
    const { entries, crcChecked } = this.step("zip", () => readEntries(source), (r) => r.what);
    const manifestEntry = entries.find((e) => e.path === "manifest.json");
    if (manifestEntry && crcChecked && crc32(manifestEntry.data) !== manifestEntry.crc32) {
      throw new PackError("file-hash", "manifest.json: its bytes differ from the zip's CRC-32", "manifest.json");
    }
    const manifest = this.step("manifest", () => {
      if (!manifestEntry) throw new PackError("manifest", "manifest.json is not in the pack", "manifest.json");
      return parseManifest(manifestEntry.data);
    }, (m) => `pack ${m.packId}`);
    this.partial = { pack_id: manifest.packId, scope: manifest.scope, evidence_digest: toHex(manifest.evidenceDigest) };
    const trust = this.step("trust root", () => trustedKeys(trustRootBytes, manifest.origin), (t) => `${t.logKeys.length} trusted key(s) for ${manifest.origin}`);
    const logKeys = trust.logKeys;
    this.step("manifest signature", () => checkManifestSignature(manifest, logKeys), (d) => d);
    const files = this.step("files", () => checkFiles(manifest, entries, crcChecked), () => `${manifest.files.length} files match their SM3`);
    const content = this.step("parse", () => readContent(manifest, files), () => "every file parses");
    const signer = this.step("checkpoints", () => checkCheckpoints(content, logKeys), (f) => `signed by trusted log key ${f}`);
    this.step("inclusion proofs", () => checkInclusion(content), () => `${content.events.length} events included in tree ${content.checkpoint.treeSize}`);
    const bindings = this.step("event signatures", () => checkEventSignatures(content), () => `${content.events.length} events signed by their actors`);
    this.step("payloads", () => checkPayloads(content), (n) => `${n} payloads match their commitments`);
    this.step("scope", () => checkScope(content), () => `every event is in scope ${manifest.scope.kind}`);
    const chain = this.step("chain", () => checkChain(content), (d) => d);
    const [present, deleted] = this.step("media", () => checkMedia(content), ([p, d]) => `${p} media present, ${d} deleted`);
    this.step("consistency proofs", () => checkConsistency(content), (n) => `${n} checkpoints consistent with the pack checkpoint`);
    const anchors = this.step("anchors", () => checkAnchors(content, trust.root, logKeys), (o) => o.map((a) => `${a.kind}: ${a.status}`).join("; ") || "no anchors");
    return {
      ...this.partial, assurance: assuranceOf(anchors), origin: manifest.origin, tree_size: manifest.treeSize,
      root_hash: toHex(content.checkpoint.rootHash), log_key_fingerprint: signer, created_at: manifest.createdAt,
      counts: { events: content.events.length, payloads: content.payloads.size, media_present: present, media_deleted: deleted },
      chain, actor_key_bindings: Object.fromEntries(bindings), anchors,
      not_checked: [...anchors.filter((a) => a.status !== "verified").map((a) => `${a.kind}: ${a.detail}`), ...NOT_CHECKED_IN_BROWSER],
      notes: notesFor(manifest.scope.kind, assuranceOf(anchors), bindings),
    };
  }
}

// The caveats a valid pack's report carries (the same as the Python verifier's), in Chinese and English.
function notesFor(kind, assurance, bindings) {
  const notes = [];
  if (assurance.startsWith("signed")) {
    notes.push(["“已签名”：检查点和本地锚定日志仅由日志运营方自己的密钥签名。运营方持有该密钥，可以改写并重新签名日志；本地日志只能说明两次锚定之间日志没有分叉，不能对抗运营方。",
      "signed: the checkpoint and any local anchor journal are signed only with the log operator's own key. a local journal proves nothing against the operator, who holds that key and could rewrite and re-sign the log; it only shows the log did not fork between anchors."]);
  }
  if (kind === "area") notes.push(["哪些作业票属于该区域，是服务方签名的声明：事件本身不记录区域。", "which permits belong to the area is the service's signed statement: events carry no area"]);
  if (kind === "worker") notes.push(["作业人员的事件之间没有哈希链：没有遗漏是服务方签名的声明。", "a worker's events are not chained: that none is missing is the service's signed statement"]);
  const named = [...bindings].filter(([, how]) => how === "signature").map(([k]) => k).sort();
  if (named.length) {
    const list = named.slice(0, 5).join(", ") + (named.length > 5 ? "…" : "");
    notes.push([`操作人密钥 ${list} 以名称而非指纹标识：密钥属于该操作人，是租户密钥登记处的声明（keys/actors.json）。`,
      `actor keys ${list} are named, not fingerprinted: that each belongs to its actor is the tenant key registry's statement (keys/actors.json)`]);
  }
  return notes;
}

// Steps 1 and 2: the zip (or the folder's files, which have no zip layer to check).
function readEntries(source) {
  if (source.zip !== undefined) {
    if (source.zip.length > MAX_PACK_BYTES) throw new PackError("unreadable", `pack is ${source.zip.length} bytes, want at most ${MAX_PACK_BYTES}`);
    return { entries: readPackZip(source.zip), crcChecked: true, what: "canonical v1 zip" };
  }
  const paths = [...source.folder.keys()].sort();
  const entries = paths.map((path) => ({ path, data: source.folder.get(path), crc32: null }));
  return { entries, crcChecked: false, what: "unzipped folder (no zip layer to check)" };
}

// Step 5: the trust root names keys for the manifest's log: {root, logKeys}.
function trustedKeys(bytes, origin) {
  if (bytes === null || bytes === undefined) {
    throw new PackError("untrusted-log", "no trust root given: the verifier trusts only keys you choose, never the keys inside the pack. choose the trust-root file (trust-root.json) that you obtained from the log's operator out of band");
  }
  try {
    const root = TrustRoot.fromBytes(bytes);
    return { root, logKeys: root.logKeys(origin) };
  } catch (exc) {
    if (exc instanceof MalformedInput) throw new PackError("untrusted-log", exc.message);
    throw exc;
  }
}

// Step 6: the manifest is signed by the trusted log key it names.
function checkManifestSignature(manifest, logKeys) {
  const key = logKeys.find((k) => k.fingerprint === manifest.keyFingerprint);
  if (key === undefined) throw new PackError("manifest-signature", `manifest names log key ${manifest.keyFingerprint.slice(0, 64)}, which the trust root does not name for ${JSON.stringify(manifest.origin)}`, "manifest.json");
  try {
    verifySm2(key.publicKey, manifest.signedBytes, manifest.signature);
  } catch (exc) {
    if (exc instanceof VerifierError) throw new PackError("manifest-signature", `manifest signature: ${exc.message}`, "manifest.json");
    throw exc;
  }
  return `signed by trusted log key ${key.fingerprint}`;
}


// Steps 7, 8, 9: every listed file present, no other, each with its CRC-32, size and SM3.
function checkFiles(manifest, entries, crcChecked) {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const listed = new Set(manifest.files.map((f) => f.path));
  const missing = manifest.files.find((f) => !byPath.has(f.path));
  if (missing) throw new PackError("missing-file", `${missing.path} is listed in the manifest but not in the pack`, missing.path);
  const extra = entries.find((e) => e.path !== "manifest.json" && !listed.has(e.path));
  if (extra) throw new PackError("extra-file", `${extra.path} is in the pack but not listed in the manifest`, extra.path);
  const files = new Map();
  for (const f of manifest.files) {
    const entry = byPath.get(f.path);
    if (crcChecked && crc32(entry.data) !== entry.crc32) throw new PackError("file-hash", `${f.path}: its bytes differ from the zip's CRC-32`, f.path);
    if (entry.data.length !== f.size) throw new PackError("file-hash", `${f.path} is ${entry.data.length} bytes, the manifest says ${f.size}`, f.path);
    if (!equal(sm3(entry.data), f.sm3)) throw new PackError("file-hash", `${f.path}: sm3 is ${toHex(sm3(entry.data))}, the manifest says ${toHex(f.sm3)}`, f.path);
    files.set(f.path, entry.data);
  }
  return files;
}

