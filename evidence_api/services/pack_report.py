"""The evidence certificate (存证证书) of a pack: ``report.html`` and ``report.pdf``, Chinese and English.

One A4 page: pack id, scope, checkpoint, anchors with transaction ids and block numbers, timestamps,
witnesses, the assurance level the receipts give, the evidence digest (SM3 of the pack's evidence), a QR
code for online confirmation (segno) and plain-language steps to verify the pack independently. The PDF is
the same HTML rendered by WeasyPrint with the font "Noto Sans CJK SC" (Debian's fonts-noto-cjk).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import segno

from evidence_api.services.pack_files import PackSummary

__all__ = ["ReportRenderer", "expected_assurance"]

_MAX_ANCHOR_ROWS = 6
_CSS = """
@page { size: A4; margin: 12mm 14mm; }
body { font-family: 'Noto Sans CJK SC', sans-serif; font-size: 8.6pt; color: #111; margin: 0; }
h1 { font-size: 16pt; margin: 0 0 1mm 0; } h1 small { font-size: 10pt; color: #444; font-weight: normal; }
h2 { font-size: 10pt; margin: 3mm 0 1mm 0; border-bottom: 0.3mm solid #999; }
table { border-collapse: collapse; width: 100%; table-layout: fixed; }
td, th { border: 0.2mm solid #bbb; padding: 0.8mm 1.5mm; vertical-align: top; text-align: left;
         overflow-wrap: anywhere; word-break: break-all; }
th { background: #f2f2f2; font-weight: normal; } table.kv th { width: 28%; }
table.anchors th:nth-child(1) { width: 12%; } table.anchors th:nth-child(2) { width: 12%; }
table.anchors th:nth-child(4) { width: 30%; }
code { font-family: 'Noto Sans Mono CJK SC', monospace; font-size: 7.6pt; overflow-wrap: anywhere; }
.top { display: flex; justify-content: space-between; } .qr { width: 30mm; text-align: center; font-size: 7pt; }
.qr svg { width: 28mm; height: 28mm; } ol { margin: 0; padding-left: 5mm; } li { margin-bottom: 0.6mm; }
.level { font-size: 11pt; font-weight: bold; }
"""


def expected_assurance(anchors: Mapping[str, list[dict[str, Any]]]) -> str:
    """The level the receipt kinds in the pack give once verified (the verifier's rule, ARCHITECTURE.md)."""
    level = "dual-chain" if {"fabric", "evm"} <= set(anchors) else "fabric" if "fabric" in anchors else "signed"
    return level + ("+tsa" if "rfc3161" in anchors else "") + ("+witnessed" if "witness" in anchors else "")


class ReportRenderer:
    """Renders the certificate; ``confirm_base`` is the service's public URL that the QR code points to."""

    def __init__(self, *, confirm_base: str, pdf: bool = True) -> None:
        self._base, self._pdf = confirm_base.rstrip("/"), pdf

    def __call__(self, summary: PackSummary) -> dict[str, bytes]:
        """``{"report.html", "report.pdf"}`` for ``summary``."""
        page = self.html(summary)
        return {"report.html": page.encode(), "report.pdf": _pdf(page) if self._pdf else _MINIMAL_PDF}

    def confirm_url(self, summary: PackSummary) -> str:
        """What the QR code encodes: the pack's status URL with its evidence digest."""
        return f"{self._base}/v1/evidence-packs/{summary.inputs.pack_id}?sm3={summary.evidence_digest}"

    def html(self, summary: PackSummary) -> str:
        """The certificate page as one HTML document (styles inline, QR code as inline SVG)."""
        i = summary.inputs
        url = self.confirm_url(summary)
        qr = segno.make(url, error="m").svg_inline(scale=2, border=1)
        rows = [
            ("证据包编号 Pack id", f"<code>{_e(i.pack_id)}</code>"),
            ("范围 Scope", _e(_scope(i.scope))),
            ("租户 Tenant", _e(i.tenant)),
            ("生成时间 Created (UTC)", _e(i.created_at)),
            ("事件 Events", _e(_events_line(summary))),
            ("检查点 Checkpoint", f"{_e(i.origin)} · 树大小 tree size {i.tree_size}<br><code>{_e(_root(i))}</code>"),
            ("日志公钥指纹 Log key (SM3)", f"<code>{_e(summary.log_key_fingerprint)}</code>"),
            ("证据摘要 Evidence SM3", f"<code>{_e(summary.evidence_digest)}</code>"),
            ("保障等级 Assurance", (f"<span class='level'>{_e(expected_assurance(i.anchors))}</span> "
                                  "（验证后确认 confirmed by verification）")),
            ("见证 Witnesses", _e(_witnesses(i.anchors))),
        ]
        table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>存证证书 {_e(i.pack_id)}</title>"
                f"<style>{_CSS}</style></head><body><div class='top'><div><h1>存证证书 <small>Evidence certificate"
                f"</small></h1><div>铁证 Tiezheng · 证据包 v1 evidence pack</div></div><div class='qr'>{qr}<br>在线确认 "
                f"Confirm online</div></div><h2>证据 Evidence</h2><table class='kv'>{table}</table><h2>锚定 Anchors</h2>"
                f"{_anchors(i.anchors)}<h2>独立验证步骤 How to verify independently</h2>{_STEPS}</body></html>")


_STEPS = """<ol>
<li>从日志运营方处（线下）取得日志公钥，核对其指纹与上表一致；用它制作信任根：<code>tiezheng trust-root init --origin ORIGIN
--log-key KEY.pem -o trust-root.json</code>。 Get the log's public key from its operator out of band, check its
fingerprint against the table, and make a trust root with it.</li>
<li>命令行验证：<code>tiezheng verify pack.zip --trust-root trust-root.json</code>（0 = 有效，1 = 无效，2 = 无法使用）。
Verify on the command line (exit 0 valid, 1 invalid, 2 unusable).</li>
<li>或在任意浏览器中打开包内的 <code>verify.html</code>（无需联网），选择本 zip 或解压后的文件夹，结论与命令行相同。
Or open <code>verify.html</code> from the pack in any browser (offline), pick this zip or the unzipped folder:
it shows the same verdict.</li>
<li>两者都会重新计算每个文件的 SM3、每个 SM2 签名、每个包含证明与一致性证明，并核对本页的证据摘要。 Both recompute every
SM3, check every SM2 signature, inclusion and consistency proof, and the evidence digest shown above.</li>
<li>扫描二维码可向服务方在线确认此证据包的编号与摘要。 Scan the QR code to confirm the pack id and digest online.</li>
</ol>"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _scope(scope: Mapping[str, Any]) -> str:
    kind = scope["kind"]
    if kind == "permit":
        return f"作业票 permit {scope['permit']}（完整事件链 every event of its chain）"
    if kind == "area":
        return f"区域 area {scope['area']}, {scope['from']} – {scope['to']}（{len(scope['permits'])} 张作业票 permits）"
    return f"人员证书记录 worker {scope['worker']}（certificate history）"


def _events_line(summary: PackSummary) -> str:
    events = summary.inputs.events
    if not events:
        return "0"
    media = len(summary.inputs.media)
    return (f"{len(events)} 个事件 events, 叶 leaves {events[0].leaf_index}–{events[-1].leaf_index}; "
            f"{sum(1 for e in events if e.payload is not None)} 个载荷 payloads; {media} 个媒体 media")


def _root(inputs: Any) -> str:
    lines = inputs.checkpoint_text.split("\n")
    return f"root (base64) {lines[2]}" if len(lines) > 2 else ""


def _witnesses(anchors: Mapping[str, list[dict[str, Any]]]) -> str:
    names = sorted({str(r.get("witness", r.get("name", "?"))) for r in anchors.get("witness", [])})
    return "、".join(names) if names else "无 none in this pack"


def _anchors(anchors: Mapping[str, list[dict[str, Any]]]) -> str:
    if not anchors:
        return "<p>无锚定回执 No anchor receipts: assurance <b>signed</b> (the log's own signature).</p>"
    head = "<tr><th>类型 Kind</th><th>树大小 Tree size</th><th>交易 Tx id</th><th>区块 Block · 时间 Time</th></tr>"
    rows = []
    for kind, receipts in sorted(anchors.items()):
        for r in receipts[:_MAX_ANCHOR_ROWS]:
            raw = r.get("entry")
            entry: dict[str, Any] = raw if isinstance(raw, dict) else {}
            tx = r.get("tx_id") or r.get("tx_hash") or _entry_id(entry)
            block = r.get("block_number", r.get("block", entry.get("seq", "–")))
            when = r.get("anchored_at") or r.get("gen_time") or entry.get("anchored_at", "")
            rows.append(f"<tr><td>{_e(kind)}</td><td>{_e(r['tree_size'])}</td><td><code>{_e(tx)}</code></td>"
                        f"<td>{_e(block)} · {_e(when)}</td></tr>")
    note = "<p>local = 本地签名日志，不能对运营方构成证明 local journal: proves nothing against the operator.</p>" \
        if "local" in anchors else ""
    return f"<table class='anchors'>{head}{''.join(rows)}</table>{note}"


def _entry_id(entry: Mapping[str, Any]) -> str:
    from ledger.anchors.local import entry_id  # the journal's transaction id (SM3 of the entry)

    return entry_id(dict(entry)) if entry else "–"


def _pdf(page: str) -> bytes:
    import weasyprint  # imported lazily: it loads fonts and takes ~0.7 s

    return bytes(weasyprint.HTML(string=page).write_pdf())


_MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
                b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
