// verify.html's page: the clerk chooses the trust root and the pack (zip or unzipped folder) and sees the
// verdict, its reason class and the checks, in Chinese and English. Evidence text is only ever set as text
// (never as HTML), with control and bidi characters shown escaped, so a pack cannot rewrite the page.
import { describeReason, verifyPack } from "./index.js";

const $ = (id) => document.getElementById(id);
const UNPRINTABLE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const printable = (text) => String(text).replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
const ASSURANCE = {
  signed: ["已签名：检查点和本地锚定日志仅由日志运营方自己的密钥签名，不能对抗运营方本人", "signed: the checkpoint and any local anchor journal are signed only with the log operator's own key; this proves nothing against the operator"],
  fabric: ["已锚定到业务链（Fabric）", "anchored on the business chain (Fabric)"],
  "dual-chain": ["业务链与监管链一致", "business chain and regulator chain agree"],
};
let trustRoot = null;
let pack = null;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = printable(text);
  if (className) node.className = className;
  return node;
}

async function readTrustRoot(file) {
  trustRoot = file ? new Uint8Array(await file.arrayBuffer()) : null;
  if (pack) run();
}

async function readZip(file) {
  if (!file) return;
  try {
    pack = { zip: new Uint8Array(await file.arrayBuffer()), name: file.name };
  } catch (exc) {
    pack = null;
    show({ valid: false, reason: "unreadable", path: null, detail: `cannot read ${file.name}: ${exc}`, exit_code: 2, steps: [] });
    return;
  }
  run();
}

async function readFolder(files) {
  const folder = new Map();
  try {
    for (const file of files) {
      const parts = (file.webkitRelativePath || file.name).split("/");
      folder.set(parts.length > 1 ? parts.slice(1).join("/") : parts[0], new Uint8Array(await file.arrayBuffer()));
    }
  } catch (exc) {
    show({ valid: false, reason: "unreadable", path: null, detail: `cannot read the folder: ${exc}`, exit_code: 2, steps: [] });
    return;
  }
  pack = folder.size ? { folder, name: (files[0].webkitRelativePath || "").split("/")[0] } : null;
  if (pack) run();
}

let runs = 0;

function run() {
  const result = $("result");
  result.dataset.state = "working";
  result.dataset.reason = "";
  $("verdict").textContent = "正在校验…（上千个事件的证据包约需数秒）Verifying… (a pack of a thousand events takes a few seconds)";
  const mine = ++runs;  // a newer choice of files supersedes a verification still running
  setTimeout(async () => {
    const report = await verifyPack(pack.zip ? { zip: pack.zip } : { folder: pack.folder }, trustRoot);
    if (mine === runs) show(report);
  }, 20);
}

function show(report) {
  const result = $("result");
  const state = report.valid ? "valid" : report.exit_code === 1 ? "invalid" : "unusable";
  result.dataset.state = state;
  result.dataset.reason = report.reason || "";
  result.dataset.path = report.path || "";
  const verdicts = {
    valid: "✓ 有效 VALID — 证据包通过全部校验 · every check passed",
    invalid: "✗ 无效 INVALID — 证据包未通过校验 · a check failed",
    unusable: "! 无法校验 UNUSABLE — 输入无法使用 · the input cannot be used",
  };
  $("verdict").textContent = verdicts[state];
  showReason(report);
  showSummary(report);
  showNotChecked(report);
  const steps = $("steps");
  steps.replaceChildren(...(report.steps || []).map((s) => el("li", `${s.status === "ok" ? "✓" : "✗"} ${s.name}${s.detail ? ": " + s.detail : ""}`, s.status)));
}

function showReason(report) {
  const box = $("reason");
  box.replaceChildren();
  if (report.valid) return;
  const [zh, en] = describeReason(report.reason);
  box.append(el("p", `原因 Reason: ${report.reason}`, "class"), el("p", zh), el("p", en));
  if (report.path) box.append(el("p", `文件 File: ${report.path}`));
  if (report.detail) box.append(el("p", report.detail, "detail"));
  if (report.reason === "untrusted-log") box.append(el("p", "请先选择信任根文件（上面第 1 步）。Choose the trust-root file first (step 1 above)."));
}

function showSummary(report) {
  const rows = [];
  const add = (label, value, mono = false) => {
    if (value === undefined || value === null || value === "") return;
    const tr = document.createElement("tr");
    tr.append(el("td", label), el("td", typeof value === "string" ? value : JSON.stringify(value), mono ? "mono" : ""));
    rows.push(tr);
  };
  add("证据包 Pack", report.pack_id, true);
  add("范围 Scope", report.scope);
  add("证据包 SM3 Evidence digest", report.evidence_digest, true);
  if (report.valid) {
    const [zh, en] = ASSURANCE[report.assurance.split("+")[0]] || ["", ""];
    add("保障级别 Assurance", `${report.assurance} — ${zh}; ${en}`);
    add("日志 Log", `${report.origin} · tree size ${report.tree_size}`);
    add("根哈希 Root hash", report.root_hash, true);
    add("日志密钥 Log key (SM3)", report.log_key_fingerprint, true);
    add("事件 Events", `${report.counts.events} · payloads ${report.counts.payloads} · media ${report.counts.media_present} present, ${report.counts.media_deleted} deleted`);
    add("哈希链 Chain", report.chain);
    for (const a of report.anchors) {
      add(`锚定 Anchor ${a.kind}`, `${a.status}: ${a.detail}`);
      if (a.status === "verified") for (const r of a.receipts) addTrustedTime(add, a.kind, r);
    }
  }
  $("summary").replaceChildren(...rows);
}

// Who vouches for the time, by whose clock: the TSA's genTime and each witness's cosignature time.
function addTrustedTime(add, kind, r) {
  if (kind === "rfc3161") add("可信时间 Timestamp (RFC 3161)", `${r.gen_time} · TSA ${r.tsa} · serial ${r.serial} · tree size ${r.tree_size}`);
  if (kind === "witness") {
    const when = Number.isSafeInteger(r.timestamp) ? new Date(r.timestamp * 1000).toISOString().replace(".000Z", "Z") : String(r.timestamp);
    add("见证 Witness cosignature", `${r.witness} · ${when} · tree size ${r.tree_size}`);
  }
}

function showNotChecked(report) {
  const box = $("not-checked");
  box.replaceChildren();
  if (report.notes && report.notes.length) {
    const notes = el("ul");
    notes.append(...report.notes.map(([zh, en]) => {
      const li = el("li", zh);
      li.append(el("br"), el("span", en));
      return li;
    }));
    box.append(el("p", "说明 · Notes:"), notes);
  }
  if (!report.not_checked || !report.not_checked.length) return;
  const list = el("ul");
  list.append(...report.not_checked.map((t) => el("li", t)));
  box.append(el("p", "浏览器未校验（不计入保障级别）· Not checked in the browser (no assurance claimed for it):"), list);
}

// A file dropped on the page: a .json is the trust root, anything else the pack's zip.
async function dropped(event) {
  event.preventDefault();
  const files = [...(event.dataTransfer ? event.dataTransfer.files : [])];
  const root = files.find((f) => f.name.toLowerCase().endsWith(".json"));
  const zip = files.find((f) => f !== root);
  if (root) trustRoot = new Uint8Array(await root.arrayBuffer());
  if (zip) await readZip(zip);
  else if (root && pack) run();
}

// The same core, for anyone who wants to script the page (and for the tests that run it in a browser engine).
window.tiezhengVerify = verifyPack;

window.addEventListener("DOMContentLoaded", () => {
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", dropped);
  $("licences").textContent = $("licence-text").textContent;
  $("trust-root").addEventListener("change", (e) => readTrustRoot(e.target.files[0]));
  $("pack").addEventListener("change", (e) => readZip(e.target.files[0]));
  $("folder").addEventListener("change", (e) => readFolder([...e.target.files]));
});
