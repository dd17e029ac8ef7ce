// Reason classes of a pack refusal (docs/formats.md, "Verification order and reason classes"): the same
// classes, in the same order, as the Python verifier (verifier/pack_errors.py), each with a sentence in
// Chinese and in English for the clerk. The class decides the exit code: 2 for unusable input, else 1.

export const UNUSABLE_REASONS = new Set(["unreadable", "zip", "manifest", "untrusted-log", "malformed"]);

/** Every fixed class in verification order, with what it means (zh, en); anchor-<kind> follows them. */
export const REASONS = {
  "unreadable": ["无法读取文件，或文件超过大小上限", "the file cannot be read or is larger than the limit"],
  "zip": ["不是规范的 v1 证据包压缩文件", "not the canonical v1 evidence-pack zip"],
  "file-hash": ["文件内容与清单中的 SM3 摘要、大小或 CRC-32 不一致（文件被改动）", "a file's bytes differ from its SM3, size or CRC-32 in the manifest (the file was changed)"],
  "manifest": ["清单 manifest.json 缺失或格式不正确", "manifest.json is missing or malformed"],
  "untrusted-log": ["没有信任根，或信任根中没有该日志的公钥", "no trust root, or it names no key for this log"],
  "manifest-signature": ["清单签名无效或不是受信任的日志密钥所签", "the manifest's signature does not verify or is not by a trusted log key"],
  "missing-file": ["清单列出的文件不在包中", "a file the manifest lists is missing from the pack"],
  "extra-file": ["包中有清单未列出的文件", "the pack holds a file the manifest does not list"],
  "malformed": ["文件摘要正确，但内容无法按其格式解析", "a correctly hashed file does not parse as its format"],
  "checkpoint-signature": ["检查点签名无效或不是受信任的日志密钥所签", "a checkpoint is not signed by a trusted log key"],
  "inclusion-proof": ["事件的默克尔包含证明不成立", "an event's Merkle inclusion proof does not hold"],
  "event-signature": ["事件的签名或批量证明无效", "an event's actor signature or batch attestation does not verify"],
  "payload-commitment": ["披露的事件内容与其承诺值不符", "a disclosed payload does not match its commitment"],
  "scope": ["包中有不属于该范围的事件", "an event lies outside the pack's scope"],
  "chain-gap": ["事件哈希链断裂（有事件缺失、多余或顺序被改）", "the event hash chain is broken (an event missing, extra or reordered)"],
  "media-hash": ["媒体文件与其 SM3 摘要或大小不符", "a media file does not match its SM3 or size"],
  "media-deletion": ["已删除媒体缺少有效的删除事件", "a deleted media entry has no valid deletion event"],
  "consistency-proof": ["检查点之间的一致性证明不成立", "a consistency proof between checkpoints does not hold"],
};

/** The sentence (zh, en) of a reason class, anchor-<kind> included. */
export function describeReason(reason) {
  if (REASONS[reason]) return REASONS[reason];
  if (reason.startsWith("anchor-")) {
    const kind = reason.slice(7);
    return [`锚定回执（${kind}）校验失败`, `an anchor receipt (${kind}) was checked and failed`];
  }
  return ["未知原因", "unknown reason"];
}

/** The exit code of a reason class, as `tiezheng verify`: 2 for unusable input, else 1. */
export function exitCodeOf(reason) {
  return UNUSABLE_REASONS.has(reason) ? 2 : 1;
}

/** A pack refusal: reason class, the file it concerns (or null) and a detail for a human (English). */
export class PackError extends Error {
  constructor(reason, detail, path = null) {
    super(detail);
    this.name = "PackError";
    this.reason = reason;
    this.path = path;
    this.detail = detail;
  }
}
