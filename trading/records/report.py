"""见证报告 (witness report): a readable, signed timeline of a tender's record."""
from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from trading.clock import Clock, show
from trading.records import repository as repo
from trading.records.pdf import render_table_pdf, sign_pdf_async

# Chinese names of the common events (others show their tag).
EVENT_LABELS: dict[str, str] = {
    "tender:project:create": "创建招标项目",
    "tender:project:publish": "发布招标公告",
    "tender:project:amend": "澄清或修改招标文件",
    "tender:project:cancel": "终止招标",
    "tender:lot:publish": "标段发布",
    "tender:lot:close": "投标截止",
    "tender:document:download": "获取招标文件",
    "tender:objection:file": "提出异议",
    "tender:objection:answer": "答复异议",
    "bid:seal:accept": "接收密封投标文件",
    "lot:deadline:pass": "投标截止时间到",
    "opening:session:start": "开标开始",
    "opening:share:release": "密钥份额释放",
    "bid:unseal:ok": "投标文件解密成功",
    "bid:unseal:fail": "投标文件解密失败",
    "opening:record:publish": "公布开标记录",
    "opening:session:close": "开标结束",
    "expert:draw:commit": "专家抽取承诺",
    "expert:draw:complete": "专家抽取完成",
    "evaluation:score:submit": "评标专家提交评分",
    "evaluation:report:sign": "签署评标报告",
    "award:publicity:start": "中标候选人公示",
    "award:purchaser:send": "评标报告送交采购人",
    "award:winner:decide": "采购人确定中标人",
    "award:winner:deem": "视同排名第一的中标候选人为中标人",
    "award:notice:issue": "发出中标通知书",
    "award:notice:rescind": "取消中标资格",
    "complaint:case:file": "提出投诉",
    "complaint:case:accept": "受理投诉",
    "complaint:case:refuse": "不予受理投诉",
    "complaint:case:decide": "作出投诉处理决定",
    "complaint:evidence:add": "提交投诉证明材料",
    "complaint:tender:suspend": "行政监督部门责令暂停招标投标活动",
    "complaint:tender:resume": "行政监督部门解除暂停",
    "witness:note:add": "见证记录",
    "record:document:add": "登记文件",
}


STAGE_LABELS = {"opening": "开标", "evaluation": "评标"}


def _summary(tag: str, body: dict[str, Any]) -> str:
    label = EVENT_LABELS.get(tag, tag)
    if tag == "witness:note:add":
        stage = STAGE_LABELS.get(body.get("stage", ""), body.get("stage", ""))
        extra = "；存在异常" if body.get("anomaly") else ""
        if body.get("action_taken"):
            extra += f"；处理措施：{body['action_taken']}"
        if body.get("supervisor_informed"):
            extra += "；已报告监督部门"
        signed = "（见证人已签名）" if body.get("signature") else ""
        return f"{label}（{stage}）：{body.get('text', '')}{extra}{signed}"
    if tag == "record:document:add":
        return f"{label}：{body.get('filename', '')}（{body.get('kind', '')}）"
    return f"{label}\n{tag}"


async def render_witness_report(conn: asyncpg.Connection, clock: Clock, settings: Any, tender_id: UUID) -> bytes:
    """The signed PDF timeline of every entry of the tender (Asia/Shanghai time, actor, event, leaf hash)."""
    tender = await repo.get_tender_access(conn, tender_id)
    rows = [r async for r in repo.iter_entries_for_tender(conn, tender_id)]
    actors = {r["actor"] for r in rows if r["actor"]}
    names = {str(r["id"]): r["display_name"] for r in await conn.fetch(
        "SELECT id, display_name FROM users WHERE id::text = ANY($1::text[])", list(actors))} if actors else {}
    head = await conn.fetchrow("SELECT tree_size, root, key_id FROM log_checkpoints ORDER BY tree_size DESC LIMIT 1")
    table = []
    for r in rows:
        entry = msgspec.json.decode(bytes(r["entry"]))
        actor = names.get(r["actor"] or "", r["actor"] or "平台 platform")
        table.append([r["seq"], show(r["time"]), actor, _summary(r["tag"], entry.get("body") or {}),
                      bytes(r["leaf_hash"]).hex()])
    meta = [
        ("项目编号 Code", tender["code"]),
        ("项目名称 Title", tender["title"]),
        ("投标截止 Deadline", f"{show(tender['bid_deadline'])} (Asia/Shanghai)"),
        ("记录条数 Entries", str(len(rows))),
        ("最新检查点 Checkpoint", f"size {head['tree_size']}, root {bytes(head['root']).hex()}, "
                                 f"key {bytes(head['key_id']).hex()}" if head else "—"),
        ("生成时间 Generated", f"{show(clock.now())} (Asia/Shanghai)"),
    ]
    pdf = render_table_pdf(
        "见证报告 Witness report", meta, ["序号 Seq", "时间 Time", "操作人 Actor", "事件 Event", "叶哈希 Leaf hash"],
        table, col_widths=[0.07, 0.16, 0.15, 0.34, 0.28], wide=True, footer=settings.origin,
        notes=["每条记录的叶哈希为 SHA-256(0x00 ‖ 记录字节)，可用 tenderhall verify 对照监管档案逐条核验。",
               "Each leaf hash is SHA-256(0x00 ‖ entry bytes); check them against the regulator archive with "
               "`tenderhall verify`."],
    )
    return await sign_pdf_async(pdf, settings, reason="见证报告 witness report")
