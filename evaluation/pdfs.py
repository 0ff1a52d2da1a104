"""The documents of evaluation and award: 评标报告 and 中标通知书 / 中标结果通知书, rendered with reportlab in an
embedded CJK font and signed PAdES by the platform (trading.records.pdf)."""
from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from evaluation import scoring
from evaluation.scoring import REASON_CODES
from trading.clock import show
from trading.money import format_yuan, to_chinese_capital
from trading.records.pdf import cjk_font_name, sign_pdf_async

CHUNK_ROWS = 60  # long tables are split in chunks: reportlab splits one huge table in quadratic time


def _styles() -> dict[str, ParagraphStyle]:
    font = cjk_font_name()
    return {
        "title": ParagraphStyle("t", fontName=font, fontSize=16, leading=22, alignment=1, spaceAfter=4 * mm),
        "h": ParagraphStyle("h", fontName=font, fontSize=11, leading=15, spaceBefore=4 * mm, spaceAfter=2 * mm),
        "body": ParagraphStyle("b", fontName=font, fontSize=9, leading=12.5, wordWrap="CJK"),
        "cell": ParagraphStyle("c", fontName=font, fontSize=7.5, leading=9.5, wordWrap="CJK"),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape("" if text is None else str(text)).replace("\n", "<br/>"), style)


def _tables(header: Sequence[str] | None, rows: Sequence[Sequence[object]], widths: Sequence[float], *,
            font_size: float = 7.5, wrap: bool = True) -> list:
    """A table split into chunks; `wrap=False` puts plain strings in cells (fast, for big numeric tables)."""
    st = _styles()
    font = cjk_font_name()
    out = []
    chunks = [rows[i:i + CHUNK_ROWS] for i in range(0, len(rows), CHUNK_ROWS)] or [[]]
    for chunk in chunks:
        head = [] if header is None else [list(header)]
        if wrap:
            # A Paragraph (wrapping, CJK-aware) only where the text may not fit its column: plain strings are
            # an order of magnitude cheaper to lay out. A CJK character is 1 em wide, Latin narrower.
            def cell(c: object, w: float) -> object:
                text = "" if c is None else str(c)
                return _p(text, st["cell"]) if len(text) * font_size > w - 6 or "\n" in text else text
            data = [[cell(h, w) for h, w in zip(r, widths)] for r in head] + \
                   [[cell(c, w) for c, w in zip(r, widths)] for r in chunk]
        else:
            data = head + [["" if c is None else str(c) for c in r] for r in chunk]
        if not data:
            continue
        t = Table(data, colWidths=list(widths), repeatRows=len(head))
        t.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            *([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0"))] if header is not None else []),
            ("FONTNAME", (0, 0), (-1, -1), font), ("FONTSIZE", (0, 0), (-1, -1), font_size),
            ("LEADING", (0, 0), (-1, -1), font_size + 2),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ]))
        out += [t, Spacer(1, 2 * mm)]
    return out


def _score_lines(head: str, rows: list[list[str]], widths: list[float], font_size: float) -> list:
    font = cjk_font_name()
    out = []
    for start in range(0, max(len(rows), 1), CHUNK_ROWS):
        t = Table([["投标人 Bidder", head]] + rows[start:start + CHUNK_ROWS], colWidths=widths, repeatRows=1)
        t.setStyle(TableStyle([
            ("FONTNAME", (0, 0), (0, -1), font), ("FONTNAME", (1, 0), (1, -1), "Courier"),
            ("FONTSIZE", (0, 0), (-1, -1), font_size), ("LEADING", (0, 0), (-1, -1), font_size + 2),
            ("LINEBELOW", (0, 0), (-1, 0), 0.3, colors.grey), ("BOX", (0, 0), (-1, -1), 0.3, colors.grey),
            ("TOPPADDING", (0, 0), (-1, -1), 0.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
        ]))
        out += [t, Spacer(1, 2 * mm)]
    return out


def _doc(buf: io.BytesIO, title: str, pagesize) -> SimpleDocTemplate:
    return SimpleDocTemplate(buf, pagesize=pagesize, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                             bottomMargin=15 * mm, title=title, author="tenderhall", creator="tenderhall")


def _footer(text: str):
    font = cjk_font_name()

    def on_page(canvas, document) -> None:
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.drawString(12 * mm, 8 * mm, f"{text}  ·  第 {document.page} 页")
        canvas.restoreState()

    return on_page


CORRECTION_REASONS = {"adding_error": "计分错误 adding-up error", "out_of_range": "分值超出范围 out of range",
                      "objective_inconsistent": "客观分不一致 inconsistent objective score",
                      "extreme": "畸高畸低 extreme score"}

METHOD_NAMES = {"comprehensive": "综合评估法 comprehensive scoring",
                "lowest_price": "经评审的最低投标价法 lowest evaluated price"}


def render_report(content: dict[str, Any], content_sha256: str) -> bytes:
    """评标报告 (招标投标法实施条例 第五十三条; 评标委员会和评标方法暂行规定 第四十二条)."""
    st = _styles()
    buf = io.BytesIO()
    pagesize = landscape(A4)
    usable = pagesize[0] - 24 * mm
    lot = content["lot"]
    title = "评标报告 Evaluation report"
    story: list = [_p(title, st["title"])]
    chair = content.get("chair")
    members = content["members"]
    meta = [("项目编号 Tender", f"{lot['tender_code']}  {lot['tender_title']}"),
            ("标段 Lot", f"{lot['number']}  {lot['name']}"),
            ("评标方法 Method", METHOD_NAMES.get(content["method"], content["method"])),
            ("评分权重 Weights", " / ".join(f"{k} {v}" for k, v in content["scheme"]["weights"].items())),
            ("评标办法摘要 Scheme SHA-256", content["scheme"]["scheme_sha256"]),
            ("报告摘要 Content SHA-256", content_sha256)]
    story += _tables(None, meta, [usable * 0.25, usable * 0.75], font_size=8.5)

    story.append(_p("一、评标委员会 Committee", st["h"]))
    story += _tables(["专家 Expert", "状态 Status", "负责人 Chair", "更换原因 Replacement"],
                     [[m["name"], "在任 sitting" if m["status"] == "active" else "已更换 replaced",
                       "是" if m["expert_id"] == chair else "", m.get("replaced_reason") or ""] for m in members],
                     [usable * 0.25, usable * 0.15, usable * 0.1, usable * 0.5])

    crit = {c["id"]: c["name"] for c in content["scheme"]["criteria"]}
    crit["related_bidders"] = "与其他投标人存在控股、管理关系或联合体成员重复投标 (条例 第三十四、三十七条)"
    crit["price_correction"] = "报价修正 (87号令 第五十九条)"
    story.append(_p("二、资格/符合性审查 Qualification review", st["h"]))
    rows = []
    for r in content["results"]:
        reasons = "; ".join(f"{crit.get(f['criterion_id'], f['criterion_id'])} — {REASON_CODES[f['reason_code']][0]}"
                            f" ({f['passes']}/{f['experts']} 通过)" for f in r["failures"])
        rows.append([r["bidder_name"], format_yuan(r["price_fen"]), "有效 valid" if r["valid"] else "否决 rejected",
                     reasons])
    story += _tables(["投标人 Bidder", "报价 Price", "结论 Result", "否决理由 Reasons (条例 第五十一条)"], rows,
                     [usable * 0.25, usable * 0.15, usable * 0.12, usable * 0.48])
    relations = content.get("relations") or []
    if relations:
        story.append(_p("投标人之间的关系 Relations between bidders (招标投标法实施条例 第三十四、三十七条)", st["h"]))
        story += _tables(["关系 Relation", "结论 Effect"],
                         [[r["detail"], "相关投标均无效 bids invalid" if r["invalidates"]
                           else "提请评标委员会核实 to verify"] for r in relations], [usable * 0.7, usable * 0.3])

    story.append(_p("三、汇总与排序 Aggregated scores and ranking", st["h"]))
    rows = [[r["rank"] or "—", r["bidder_name"], format_yuan(r["price_fen"]), r["price_score"] or "",
             r["technical"] or "", r["commercial"] or "", r["total"] or "", "并列 tie" if r["tied"] else ""]
            for r in content["results"] if r["valid"]]
    story += _tables(["排名", "投标人 Bidder", "报价 Price", "价格分", "技术(加权)", "商务(加权)", "总分 Total", ""],
                     rows, [usable * f for f in (0.06, 0.3, 0.14, 0.1, 0.1, 0.1, 0.1, 0.1)])

    story.append(_p("四、推荐的中标候选人 Recommended candidates (≤ 3, in order)", st["h"]))
    story += _tables(["排名", "投标人 Bidder", "报价 Price", "大写", "总分 Total"],
                     [[c["rank"], c["bidder_name"], format_yuan(c["price_fen"]), to_chinese_capital(c["price_fen"]),
                       c["total"] or ""] for c in content["candidates"]],
                     [usable * f for f in (0.08, 0.32, 0.15, 0.3, 0.15)])

    story.append(_p("五、异常评分提示及说明 Outlier flags and answers", st["h"]))
    bidders = {r["bid_id"]: r["bidder_name"] for r in content["results"]}
    items = {i["id"]: i["name"] for i in content["scheme"]["items"]}
    story += _tables(["专家", "投标人", "评审项", "分值", "其他专家均值", "处理", "新分值", "说明"],
                     [[f["expert"], bidders.get(f["bid_id"], ""), items.get(f["item_id"], f["item_id"]), f["points"],
                       f["others_mean"], f["status"], f["new_points"] or "", f["answer"] or ""]
                      for f in content["flags"]],
                     [usable * f for f in (0.1, 0.18, 0.14, 0.07, 0.09, 0.08, 0.07, 0.27)])

    if content.get("corrections"):
        story.append(_p("五之二、评分修改（87号令 第六十四条）Score corrections", st["h"]))
        story += _tables(["专家", "投标人", "评审项", "原分值", "新分值", "原因", "说明"],
                         [[c["expert"], bidders.get(c["bid_id"], ""), items.get(c["item_id"], c["item_id"]),
                           c["old_points"], c["new_points"], CORRECTION_REASONS.get(c["reason_code"], c["reason_code"]),
                           c["reason"]] for c in content["corrections"]],
                         [usable * f for f in (0.1, 0.18, 0.14, 0.08, 0.08, 0.15, 0.27)])

    if content.get("clarifications"):
        story.append(_p("五之三、澄清 Clarifications (条例 第五十二条)", st["h"]))
        story += _tables(["投标人 Bidder", "问题 Question", "答复 Answer", "时间 Time"],
                         [[bidders.get(c["bid_id"], ""), c["question"], c["answer"] or "未答复 unanswered",
                           show(datetime.fromisoformat(c["answered_at"] or c["asked_at"]))]
                          for c in content["clarifications"]],
                         [usable * 0.18, usable * 0.33, usable * 0.33, usable * 0.16])

    if content.get("price_corrections"):
        story.append(_p("五之四、报价修正 Price corrections (87号令 第五十九条; 评标规定 第十九条)", st["h"]))
        story += _tables(["投标人 Bidder", "规则 Rule", "开标报价 As opened", "修正后 Corrected", "说明 Explanation",
                          "投标人确认 Bidder"],
                         [[bidders.get(c["bid_id"], ""), scoring.PRICE_RULES.get(c["rule"], (c["rule"],))[0],
                           format_yuan(c["opened_fen"]), format_yuan(c["corrected_fen"]), c["explanation"],
                           {"confirmed": "确认 confirmed", "refused": "不确认，投标无效 refused: bid invalid"}.get(
                               c["decision"] or "", "未确认 awaiting")]
                          for c in content["price_corrections"]],
                         [usable * f for f in (0.16, 0.2, 0.13, 0.13, 0.24, 0.14)])

    story.append(_p("六、确认与不同意见 Confirmations and dissenting opinions (条例 第五十三条)", st["h"]))
    story += _tables(["专家 Expert", "意见 Opinion", "时间 Time", "不同意见 Dissent"],
                     [[c["name"], "视为同意 deemed to agree (条例 第五十三条)" if c.get("deemed") else
                       "同意 agrees" if c["agrees"] else "有不同意见 dissents",
                       show(datetime.fromisoformat(c["at"])), c["dissent"] or ""]
                      for c in content.get("confirmations", [])],
                     [usable * 0.2, usable * 0.15, usable * 0.17, usable * 0.48])

    item_list = content["scheme"]["items"]
    if item_list:
        story.append(PageBreak())
        story.append(_p("七、各专家评分 Each expert's scores (columns: items in scheme order)", st["h"]))
        ids = [i["id"] for i in item_list]
        story += _tables(["#", "评审项 Item", "分组 Group", "满分 Max"],
                         [[n + 1, i["name"], i["group"], i["max_points"]] for n, i in enumerate(item_list)],
                         [usable * f for f in (0.06, 0.54, 0.2, 0.2)])
        # One preformatted line of fixed-width figures per bid (Courier): tens of thousands of cells in a few
        # thousand strings, so a 200-bid, 9-expert, 30-item report renders in seconds.
        width = max(5, max(len(str(i["max_points"])) for i in item_list) + 1)
        head = "".join(f"{n + 1:>{width}}" for n in range(len(ids)))
        font_size = min(7.0, (usable * 0.8 - 16) / (0.6 * width * len(ids)))  # Courier: 0.6 em per character
        for sheet in content["sheets"]:
            story.append(_p(f"{sheet['name']}", st["body"]))
            by_bid: dict[str, dict[str, str]] = {}
            for bid_id, item_id, pts in sheet["points"]:
                by_bid.setdefault(bid_id, {})[item_id] = pts
            rows = [[bidders.get(b, b)[:16], "".join(f"{by_bid[b].get(i, ''):>{width}}" for i in ids)]
                    for b in bidders if b in by_bid]
            story += _score_lines(head, rows, [usable * 0.2, usable * 0.8], font_size)
    doc = _doc(buf, title, pagesize)
    foot = _footer(f"评标报告 {lot['tender_code']} 标段{lot['number']} · SHA-256 {content_sha256[:16]}…")
    doc.build(story, onFirstPage=foot, onLaterPages=foot)
    return buf.getvalue()


async def report_pdf_signed(content: dict[str, Any], content_sha256: str, settings) -> bytes:
    return await sign_pdf_async(render_report(content, content_sha256), settings,
                                reason="评标报告 evaluation report — tenderhall 平台签章")


def render_notice(n: dict[str, Any]) -> bytes:
    """中标通知书 (kind 'award') or 中标结果通知书 (kind 'result'), 招标投标法 第四十五条."""
    st = _styles()
    buf = io.BytesIO()
    award = n["kind"] == "award"
    title = "中标通知书 Notice of award" if award else "中标结果通知书 Notice of the result"
    usable = A4[0] - 24 * mm
    story: list = [_p(title, st["title"]), _p(f"致 To: {n['to']}", st["body"]), Spacer(1, 3 * mm)]
    later = (n.get("award_round") or 1) > 1
    if award:
        story.append(_p(f"经评标委员会评审并公示，贵单位为项目 {n['tender_code']}《{n['tender_title']}》标段 "
                        f"{n['lot_number']}（{n['lot_name']}）的中标人。请自本通知书发出之日起三十日内签订合同"
                        "（招标投标法 第四十六条）。", st["body"]))
    else:
        story.append(_p(f"项目 {n['tender_code']}《{n['tender_title']}》标段 {n['lot_number']}（{n['lot_name']}）"
                        f"的中标人为 {n['winner_name']}。感谢贵单位参与投标。", st["body"]))
    if later:
        story.append(_p(f"原中标人的中标资格已取消，按中标候选人排序依次确定中标人（第 {n['award_round']} 次通知，"
                        "此前发出的通知书同时作废）。The earlier winner lost the award; the next candidate in rank "
                        "order is the winner. This notice replaces the earlier ones.", st["body"]))
    lost = n.get("rescinded")
    if lost:
        story.append(_p(f"贵单位的中标资格已取消 Your award is rescinded：{lost['cause_text']}。{lost['reason']}",
                        st["body"]))
    rows = [("中标人 Winner", n["winner_name"]),
            ("中标价 Price", f"{format_yuan(n['price_fen'])}（{to_chinese_capital(n['price_fen'])}）"),
            ("工期 Duration (days)", n.get("duration_days") or ""),
            ("发出时间 Issued", show(n["issued_at"]))]
    if not award:
        rows.append(("贵单位排名 Your rank", n.get("rank") or ("无效投标 invalid bid" if not n.get("valid") else "")))
        if n.get("total") is not None:
            rows.append(("贵单位得分 Your score", n["total"]))
    story += [Spacer(1, 4 * mm)] + _tables(None, rows, [usable * 0.3, usable * 0.7], font_size=9)
    doc = _doc(buf, title, A4)
    foot = _footer(f"{title} · {n['tender_code']} 标段{n['lot_number']}")
    doc.build(story, onFirstPage=foot, onLaterPages=foot)
    return buf.getvalue()


async def award_notice_signed(n: dict[str, Any], settings) -> bytes:
    kind = "中标通知书" if n["kind"] == "award" else "中标结果通知书"
    return await sign_pdf_async(render_notice(n), settings, reason=f"{kind} — tenderhall 平台签章")


REGIMES = {"bidding_law": "招标投标法 Bidding Law", "gov_procurement": "政府采购 Government procurement"}
TYPES = {"works": "工程 works", "goods": "货物 goods", "services": "服务 services"}


def _when(value: datetime | None) -> str:
    return show(value) if value else "—"


def _yuan(fen: int | None) -> str:
    return f"{format_yuan(fen)}（{to_chinese_capital(fen)}）" if fen is not None else "无 none"


def render_supervisor_report(c: dict[str, Any]) -> bytes:
    """招标投标情况的书面报告 (招标投标法 第四十七条), written from the record."""
    st = _styles()
    buf = io.BytesIO()
    title = "招标投标情况书面报告 Report on the tender to the supervising authority"
    usable = A4[0] - 24 * mm
    t, lot, ev, pub, award = c["tender"], c["lot"], c["evaluation"], c["publicity"], c["award"]
    story: list = [_p(title, st["title"]), _p("（招标投标法 第四十七条）", st["body"]), Spacer(1, 3 * mm)]
    story.append(_p("一、项目概况 The project", st["h"]))
    story += _tables(None, [
        ("项目 Tender", f"{t['code']}《{t['title']}》"), ("标段 Lot", f"{lot['number']} {lot['name']}"),
        ("适用 Regime", REGIMES.get(t["regime"], t["regime"]) + ("，依法必须招标" if t["must_tender"] else "")),
        ("类别 Type", TYPES.get(t["procurement_type"], t["procurement_type"])),
        ("招标人 Tenderer", t["tenderer"]), ("招标代理机构 Agency", t["agency"]),
        ("公告发布 Published", _when(t["published_at"])),
        ("投标截止/开标 Deadline and opening", _when(t["bid_deadline"])),
        ("估算价 Estimated price", _yuan(lot["estimated_price_fen"])),
        ("最高投标限价 Maximum price", _yuan(lot["max_price_fen"])),
        ("标底 Reference price", _yuan(lot["reference_price_fen"])),
    ], [usable * 0.3, usable * 0.7], font_size=9)
    story.append(_p("二、投标与评标 Bids and evaluation", st["h"]))
    story += _tables(["投标人 Bidder", "报价 Price", "评审结论 Result", "排名 Rank"],
                     [[b["bidder"], format_yuan(b["price_fen"]),
                       "有效 valid" if b["valid"] else ("否决 rejected" if b["valid"] is False else "—"),
                       b["rank"] or "—"] for b in c["bids"]],
                     [usable * 0.4, usable * 0.25, usable * 0.2, usable * 0.15])
    story += _tables(None, [
        ("评标方法 Method", METHOD_NAMES.get(ev["method"], ev["method"])),
        ("评标委员会 Committee", "、".join(ev["members"])),
        ("评标报告签署 Report signed", _when(ev["report_signed_at"])),
        ("中标候选人公示 Publicity", f"{_when(pub['starts_at'])} — {_when(pub['ends_at'])}"),
        ("异议 Objections", f"{pub['objections']} 件，成立 {pub['upheld']} 件"),
    ], [usable * 0.3, usable * 0.7], font_size=9)
    story.append(_p("三、中标结果 The award", st["h"]))
    story += _tables(None, [
        ("中标人 Winner", award["winner"]), ("中标价 Price", _yuan(award["price_fen"])),
        ("中标通知书发出 Notice issued", _when(award["notice_at"])),
        ("合同签订 Contract signed", _when(award["contract_signed_at"])),
        *[("中标资格取消 Award rescinded", f"第{r['round']}次通知 {r['bidder']}：{r['cause']}（{_when(r['at'])}）")
          for r in award.get("rescinded", [])],
        ("报告日期 Written", _when(c["written_at"])),
    ], [usable * 0.3, usable * 0.7], font_size=9)
    doc = _doc(buf, title, A4)
    foot = _footer(f"招标投标情况书面报告 · {t['code']} 标段{lot['number']}")
    doc.build(story, onFirstPage=foot, onLaterPages=foot)
    return buf.getvalue()


async def supervisor_report_signed(content: dict[str, Any], settings) -> bytes:
    return await sign_pdf_async(render_supervisor_report(content), settings,
                                reason="招标投标情况书面报告 — tenderhall 平台签章")
