"""The opening record (开标记录表) as a PDF: landscape A4, embedded CJK font (records' font), one row per bid.

The bid table uses plain text cells (wrapped here) rather than one Paragraph per cell: a 300-bid record renders in
a fraction of a second instead of seconds, which matters because names and prices are published only when this
record is (电子招标投标办法 第三十条). Signing is the records package's (PAdES, platform certificate).
"""
from __future__ import annotations

import io
import textwrap
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from trading.clock import show
from trading.records.pdf import cjk_font_name

STATUS_LABELS = {"opened": "解密成功", "revoked": "视为撤销", "withdrawn": "视为撤回", "pending": "待解密"}


def _wrap(text: Any, width: int) -> str:
    return "\n".join(textwrap.wrap(str(text), width) or [""]) if text is not None else "—"


def render_record_pdf(record: dict[str, Any], cause_labels: dict[str, str], *,
                      objections: list[dict] | None = None, confirmations: list[dict] | None = None) -> bytes:
    font = cjk_font_name()
    title = ParagraphStyle("t", fontName=font, fontSize=15, leading=20, alignment=1, spaceAfter=6)
    body = ParagraphStyle("b", fontName=font, fontSize=9, leading=13)
    buf = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(buf, pagesize=page, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                            bottomMargin=15 * mm, title="开标记录表 Opening record", author="tenderhall",
                            creator="tenderhall")
    usable = page[0] - 24 * mm

    def p(text: Any) -> Paragraph:
        return Paragraph(escape("" if text is None else str(text)).replace("\n", "<br/>"), body)

    meta = [
        ("项目编号 Project code", record["tender"]["code"]),
        ("项目名称 Project", record["tender"]["title"]),
        ("标段 Lot", f'{record["lot"]["number"]} · {record["lot"]["name"]}'),
        ("开标时间 Opening time", show(datetime.fromisoformat(record["opening_time"]))),
        *([("结果 Outcome", f'流标 — {record.get("reason", "")}（投标文件未解密 nothing unsealed）')]
          if record.get("outcome") == "failed" else
          [("解密完成 Decryption complete", show(datetime.fromisoformat(record["unsealed_at"])))]),
        ("主持人 Host", record["host"]),
        ("招标人 Tenderer", record["tenderer"]),
        ("最高投标限价 Maximum price",
         f'{record["max_price_yuan"]} 元' if record.get("max_price_yuan") is not None else "无 none"),
        ("标底 Reference price",
         f'{record["reference_price_yuan"]} 元' if record.get("reference_price_yuan") is not None else "无 none"),
        ("投标人数量 Bidders", f'{record["bidder_count"]}（解密成功 {record.get("opened_count", "")}）'),
    ]
    meta_table = Table([[p(k), p(v)] for k, v in meta], colWidths=[usable * 0.22, usable * 0.78])
    meta_table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                                    ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
                                    ("VALIGN", (0, 0), (-1, -1), "TOP")]))

    declared = [f for f in record.get("bid_fields") or [] if f.get("name") != "duration_days"]
    header = ["序号", "投标人", "递交时间 / 回执哈希", "解密状态 / 时间", "投标报价（元）\n大写", "工期（日）",
              *[_wrap(f.get("label") or f.get("name"), 8) for f in declared], "保证金"]
    rows: list[list[str]] = [header]
    for r in record["bids"]:
        status = STATUS_LABELS.get(r["status"], r["status"])
        if r.get("cause"):
            status += "\n" + _wrap(cause_labels.get(r["cause"], r["cause"]), 12)
        price = f'{r["price_yuan"]}\n{_wrap(r["price_capital"], 14)}' if r.get("price_yuan") is not None else "—"
        rows.append([str(r["no"]), _wrap(r["bidder_name"], 16),
                     f'{show(datetime.fromisoformat(r["received_at"]))}\n{r["manifest_sha256"][:20]}…',
                     f'{status}\n{show(datetime.fromisoformat(r["unsealed_at"]))}', price,
                     str(r["duration_days"]) if r.get("duration_days") is not None else "—",
                     *[_wrap(r["fields"].get(f.get("name"), "—"), 10) for f in declared],
                     _wrap(r["deposit_status"], 8)])
    fixed = [0.05, 0.2, 0.18, 0.15, 0.17, 0.07]
    rest = 1 - sum(fixed) - 0.08
    widths = [*fixed, *([rest / len(declared)] * len(declared) if declared else []), 0.08 + (0 if declared else rest)]
    table = Table(rows, colWidths=[usable * w for w in widths], repeatRows=1)
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), font, 8),
        ("LEADING", (0, 0), (-1, -1), 10),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#34495e")),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f6f7")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story: list = [Paragraph("开标记录表 Opening record", title), meta_table, Spacer(1, 4 * mm)]
    if record["bids"]:
        story.append(table)
    for c in confirmations or []:
        story += [Spacer(1, 2 * mm), p(f'确认 Confirmed: {c["org_name"]} · {c["at"]}')]
    if record.get("unconfirmed"):
        note = "；".join(record["unconfirmed"])
        story += [Spacer(1, 2 * mm), p(
            f"未确认 Not confirmed: {note}" + ("（视为认可开标记录，政府采购货物和服务招标投标管理办法 第四十二条）"
                                              if record.get("unconfirmed_deemed_accepted") else ""))]
    for o in objections or []:
        story += [Spacer(1, 2 * mm), p(f'异议 Objection（{o["org_name"]}，{o["raised_at"]}）：{o["content"]}\n'
                                       f'答复 Answer（{o["answered_at"]}）：{o["answer"]}')]
    story += [Spacer(1, 3 * mm), p(
        "投标人少于3个，依法不得开标，招标人应当依法重新招标（招标投标法实施条例 第四十四条）。本记录由平台自动生成并签章。"
        if record.get("outcome") == "failed" else
        "本记录由平台在全部投标文件解密完成后自动生成并签章（电子招标投标办法 第三十条、第三十二条）。")]
    code = record["tender"]["code"]

    def on_page(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(font, 7.5)
        canvas.drawString(12 * mm, 8 * mm, f"{code} · 开标记录表 Opening record · 第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()
