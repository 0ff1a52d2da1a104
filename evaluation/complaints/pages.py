"""Pages (zh-CN/en) of complaints: the regulator's list with status, due dates (Asia/Shanghai) and actions, and the
complainant's own list with the form to file one. Buttons call the JSON API with the page's cookie and reload."""
from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from litestar import Request, get
from litestar.response import Template

from evaluation.complaints import services
from trading.accounts.guards import requires
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.pages import page_context, register_labels

register_labels({
    "cp.title": ("投诉处理（招标投标法实施条例 第六十至六十二条）", "Complaints (条例 第六十至六十二条)"),
    "cp.mine.title": ("我的投诉", "My complaints"),
    "cp.tz": ("时间均为北京时间（Asia/Shanghai）；期限截至所列日期24:00", "Times in Asia/Shanghai; a due date ends at 24:00"),
    "cp.none": ("暂无投诉", "No complaints"),
    "cp.tender": ("项目", "Tender"),
    "cp.complainant": ("投诉人", "Complainant"),
    "cp.hidden": ("（投标截止前不公开）", "(not shown before the bid deadline)"),
    "cp.matter": ("投诉事项", "Matter"),
    "cp.matter.tender_documents": ("招标文件（第二十二条）", "Tender documents (第二十二条)"),
    "cp.matter.opening": ("开标（第四十四条）", "Opening (第四十四条)"),
    "cp.matter.candidates": ("评标结果（第五十四条）", "Evaluation result (第五十四条)"),
    "cp.matter.other": ("其他事项", "Other"),
    "cp.request": ("投诉请求", "Request"),
    "cp.grounds": ("事实和证明材料", "Facts and evidence"),
    "cp.filed_at": ("投诉时间", "Filed"),
    "cp.status": ("状态", "Status"),
    "cp.status.filed": ("待受理", "Awaiting acceptance"),
    "cp.status.accepted": ("已受理", "Accepted"),
    "cp.status.refused": ("不予受理", "Refused"),
    "cp.status.decided": ("已作出处理决定", "Decided"),
    "cp.status.withdrawn": ("已撤回", "Withdrawn"),
    "cp.withdraw": ("撤回投诉", "Withdraw the complaint"),
    "cp.withdraw_reason": ("撤回理由", "Reason for withdrawing"),
    "cp.withdraw_requested": ("申请撤回，待监督部门决定", "Withdrawal asked for, awaiting the authority"),
    "cp.withdraw_refused": ("不准撤回", "Withdrawal refused"),
    "cp.withdraw_allow": ("准予撤回", "Allow the withdrawal"),
    "cp.withdraw_refuse": ("不准撤回", "Refuse the withdrawal"),
    "cp.withdraw_refuse_reason": ("不准撤回的理由（已查实的违法行为）", "Why not (the violation found)"),
    "cp.accept_due": ("受理期限", "Accept by"),
    "cp.decision_due": ("处理决定期限", "Decide by"),
    "cp.overdue": ("已逾期", "Overdue"),
    "cp.late": ("逾期办理", "done late"),
    "cp.accept": ("受理", "Accept"),
    "cp.refuse": ("不予受理", "Refuse"),
    "cp.reason": ("理由", "Reason"),
    "cp.suspend": ("责令暂停招标投标活动", "Order the activity suspended"),
    "cp.resume": ("解除暂停", "Lift the suspension"),
    "cp.suspended": ("已责令暂停", "Suspended by order"),
    "cp.suspension_ends": ("暂停至（最长三十日）", "Lapses (30 days at most)"),
    "cp.decide": ("作出处理决定", "Decide"),
    "cp.upheld": ("投诉成立", "Upheld"),
    "cp.dismissed": ("驳回投诉", "Dismissed"),
    "cp.decision_text": ("书面处理决定", "Written decision"),
    "cp.file": ("提出投诉", "File a complaint"),
    "cp.evidence": ("证明材料", "Evidence"),
    "cp.evidence.add": ("上传证明材料", "Upload evidence"),
    "cp.tender_id": ("项目ID", "Tender id"),
    "cp.lot_id": ("标段ID（可选）", "Lot id (optional)"),
    "cp.objection_id": ("已提出的异议/质疑ID", "Id of the objection raised first"),
    "cp.known_on": ("知道或者应当知道之日（其他事项）", "Day you knew or should have known (other matters)"),
    "cp.last_day": ("投诉期限最后一日", "Last day to complain"),
    "cp.note": ("就招标文件、开标、评标结果投诉的，应当先提出异议；异议答复期间不计入10日投诉期限。",
                "On the documents, the opening or the result, object first; the objection's answer period does not "
                "count toward the 10 days."),
})


def due(when: datetime | None) -> str:
    """A due instant (24:00 Asia/Shanghai of its last day) as its last day."""
    return f"{services._last_day(when)} 24:00" if when is not None else ""


@get("/regulator/complaints", guards=[requires(Role.REGULATOR)], include_in_schema=False)
async def regulator_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, clock: Clock,
                         user: User) -> Template:
    items = await services.list_complaints(conn, clock, user=user)
    return Template("evaluation/complaints.html", context=page_context(request, items=items, due=due,
                                                                       regulator=True))


@get("/complaints", guards=[requires(Role.BIDDER)], include_in_schema=False)
async def my_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, clock: Clock, user: User) -> Template:
    items = await services.list_complaints(conn, clock, user=user)
    return Template("evaluation/complaints.html", context=page_context(request, items=items, due=due,
                                                                       regulator=False))


PAGES = [regulator_page, my_page]
