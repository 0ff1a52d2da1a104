"""Pages of the witness record: a tender's timeline, its documents, witness notes, downloads."""
from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import msgspec
from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template

from trading.accounts.guards import requires, signed_in
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.errors import DomainError
from trading.pages import page_context, register_labels
from trading.records import repository as repo
from trading.records import services
from trading.records.report import EVENT_LABELS
from trading.records.schemas import WitnessNoteCreate

register_labels({
    "records.title": ("见证记录", "Witness record"),
    "records.checkpoint": ("最新签名检查点", "Latest signed checkpoint"),
    "records.size": ("记录总数（全平台）", "Log size (whole platform)"),
    "records.root": ("根哈希", "Root hash"),
    "records.key": ("签名公钥", "Verifier keys"),
    "records.report": ("见证报告（PDF，已签章）", "Witness report (signed PDF)"),
    "records.archive": ("下载监管档案（.zip）", "Download the regulator archive (.zip)"),
    "records.verify_hint": ("离线核验：tenderhall verify 档案.zip --key <公钥>",
                            "Verify offline: tenderhall verify ARCHIVE.zip --key <vkey>"),
    "records.entries": ("记录", "Entries"),
    "records.seq": ("序号", "Seq"),
    "records.time": ("时间", "Time"),
    "records.actor": ("操作人", "Actor"),
    "records.event": ("事件", "Event"),
    "records.leaf": ("叶哈希", "Leaf hash"),
    "records.documents": ("文件", "Documents"),
    "records.kind": ("类别", "Kind"),
    "records.note": ("添加见证记录", "Add a witness note"),
    "records.note_text": ("见证内容", "What was witnessed"),
    "records.anomaly": ("存在异常情况", "Anomaly observed"),
    "records.action": ("处理措施", "Action taken"),
    "records.informed": ("已报告监督部门", "Supervisor informed"),
    "records.submit": ("提交", "Submit"),
    "records.none": ("暂无记录", "No entries yet"),
})


async def _context(request: Request, conn: asyncpg.Connection, clock: Clock, user: User, tender_id: UUID,
                   **extra: Any) -> dict[str, Any]:
    tender = await services.readable_tender(conn, clock, user, tender_id)
    rows = await repo.list_entries_for_tender(conn, tender_id, limit=5000)
    actors = {r["actor"] for r in rows if r["actor"]}
    names = {str(r["id"]): r["display_name"] for r in await conn.fetch(
        "SELECT id, display_name FROM users WHERE id::text = ANY($1::text[])", list(actors))} if actors else {}
    entries = []
    for r in rows:
        body = msgspec.json.decode(bytes(r["entry"])).get("body") or {}
        entries.append({"seq": r["seq"], "time": r["time"], "actor": names.get(r["actor"] or "", r["actor"] or ""),
                        "tag": r["tag"], "label": EVENT_LABELS.get(r["tag"], r["tag"]),
                        "text": body.get("text") or body.get("filename") or "",
                        "leaf": bytes(r["leaf_hash"]).hex()})
    checkpoint = await conn.fetchrow("SELECT tree_size, root, key_id FROM log_checkpoints"
                                     " ORDER BY tree_size DESC LIMIT 1")
    lots = await conn.fetch("SELECT id, number, name, status FROM lots WHERE tender_id = $1 ORDER BY number",
                            tender_id)
    return page_context(
        request, tender=tender, entries=entries, lots=lots,
        documents=await repo.list_documents_for_tender(conn, tender_id),
        checkpoint=checkpoint and {"size": checkpoint["tree_size"], "root": bytes(checkpoint["root"]).hex(),
                                   "key": bytes(checkpoint["key_id"]).hex()},
        is_witness=user.has(Role.WITNESS), is_regulator=user.has(Role.REGULATOR),
        note_statuses=services.WITNESS_NOTE_STATUSES, **extra)


@get("/records/tenders/{tender_id:uuid}", guards=[signed_in], include_in_schema=False)
async def tender_record_page(request: Request, conn: asyncpg.Connection, clock: Clock, user: User,
                             tender_id: UUID) -> Template:
    try:
        ctx = await _context(request, conn, clock, user, tender_id)
    except DomainError as exc:
        return Template("records/refused.html", context=page_context(request, error=exc.message),
                        status_code=exc.status)
    return Template("records/tender.html", context=ctx)


@post("/records/lots/{lot_id:uuid}/witness-notes", guards=[requires(Role.WITNESS)], include_in_schema=False)
async def witness_note_form(request: Request, conn: asyncpg.Connection, clock: Clock, user: User,
                            addr: str | None, lot_id: UUID,
                            data: dict[str, str] = Body(media_type=RequestEncodingType.URL_ENCODED)
                            ) -> Template | Redirect:
    note = WitnessNoteCreate(text=data.get("text", ""), anomaly=bool(data.get("anomaly")),
                             action_taken=data.get("action_taken") or None,
                             supervisor_informed=bool(data.get("supervisor_informed")))
    try:
        saved = await services.add_witness_note(conn, clock, user, lot_id, note, addr=addr)
    except DomainError as exc:
        return Template("records/refused.html", context=page_context(request, error=exc.message),
                        status_code=exc.status)
    return Redirect(f"/records/tenders/{saved.tender_id}", status_code=303)


PAGES = [tender_record_page, witness_note_form]
