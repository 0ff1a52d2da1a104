"""Pages (zh-CN/en): expert application and profile, the review queue, the agency's draw, the expert's inbox.

Pages render server-side; their buttons call the JSON API with the page's cookie (SameSite=Strict) and reload.
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Request, get
from litestar.response import Template

from expert_pool import repository as repo
from expert_pool import services
from expert_pool.eligibility import REASONS, TITLE_LEVELS
from expert_pool.specialties import classification
from trading.accounts.guards import requires
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.pages import page_context, register_labels

register_labels({
    "ep.apply.title": ("评标专家入库申请", "Apply to the expert pool"),
    "ep.profile.title": ("我的专家信息", "My expert profile"),
    "ep.review.title": ("专家入库审核", "Expert applications"),
    "ep.draw.new.title": ("申请抽取评标专家", "Request an evaluation committee draw"),
    "ep.draw.title": ("评标专家抽取", "Committee draw"),
    "ep.draws.title": ("专家抽取记录", "Committee draws"),
    "ep.inbox.title": ("评标邀请", "Evaluation invitations"),
    "ep.full_name": ("姓名", "Full name"),
    "ep.id_number": ("身份证号码", "Identity number"),
    "ep.birth_date": ("出生日期", "Date of birth"),
    "ep.employer_name": ("工作单位", "Employer"),
    "ep.employer_credit_code": ("单位统一社会信用代码", "Employer credit code"),
    "ep.former": ("近3年曾任职单位（名称,信用代码,离职日期；每行一个）",
                  "Former employers of the last 3 years (name,credit code,end date; one a line)"),
    "ep.title": ("职称", "Professional title"),
    "ep.title_level": ("职称级别", "Title level"),
    "ep.level.senior_full": ("正高级", "Senior (full)"),
    "ep.level.senior_deputy": ("副高级", "Senior (deputy)"),
    "ep.level.equivalent": ("具有同等专业水平", "Equivalent professional standing"),
    "ep.level.intermediate": ("中级", "Intermediate"),
    "ep.level.junior": ("初级", "Junior"),
    "ep.practice_since": ("从事本专业工作起始日期", "Working in the field since"),
    "ep.specialties": ("评标专业", "Specialties"),
    "ep.region": ("所在地区（行政区划代码）", "Region (division code)"),
    "ep.phone": ("手机号码", "Mobile phone"),
    "ep.email": ("电子邮箱", "Email"),
    "ep.submit": ("提交申请", "Submit application"),
    "ep.status": ("状态", "Status"),
    "ep.status.pending": ("待审核", "Pending"),
    "ep.status.approved": ("已入库", "Approved"),
    "ep.status.rejected": ("未通过", "Rejected"),
    "ep.status.suspended": ("暂停", "Suspended"),
    "ep.status.retired": ("已退出", "Retired"),
    "ep.reason": ("理由", "Reason"),
    "ep.approve": ("通过", "Approve"),
    "ep.reject": ("驳回", "Reject"),
    "ep.suspend": ("暂停", "Suspend"),
    "ep.retire": ("退出", "Retire"),
    "ep.reinstate": ("恢复", "Reinstate"),
    "ep.unavailable": ("不可参加评标的日期", "Dates I am unavailable"),
    "ep.add_date": ("添加日期", "Add date"),
    "ep.remove": ("删除", "Remove"),
    "ep.none": ("暂无", "None"),
    "ep.lot": ("标段", "Lot"),
    "ep.size": ("评标委员会人数（单数，≥5）", "Committee size (odd, ≥ 5)"),
    "ep.reps": ("招标人代表人数", "Tenderer representatives"),
    "ep.alternates": ("每个专业的候补人数", "Alternates per quota"),
    "ep.evaluation_at": ("评标时间", "Evaluation time"),
    "ep.quotas": ("专业及人数（每行：专业代码,人数）", "Quotas (one a line: specialty code,count)"),
    "ep.request": ("提交抽取申请", "Request draw"),
    "ep.agency_value": ("代理机构随机数（可自行输入）", "Agency random value (you may type your own)"),
    "ep.contribute": ("提交随机数并抽取", "Contribute and draw"),
    "ep.commit": ("服务器随机数承诺 SHA-256(r_s)", "Server commitment SHA-256(r_s)"),
    "ep.eligible_hash": ("合格专家名单哈希", "Eligible set hash"),
    "ep.progress": ("确认进度", "Confirmation progress"),
    "ep.confirmed": ("已确认", "Confirmed"),
    "ep.invited": ("待确认", "Awaiting answer"),
    "ep.declined": ("已拒绝", "Declined"),
    "ep.timed_out": ("超时", "Timed out"),
    "ep.alternates_left": ("剩余候补", "Alternates left"),
    "ep.eligible": ("合格人数", "Eligible"),
    "ep.exclusions": ("回避及排除（人数）", "Exclusions (counts)"),
    "ep.names_hidden": ("评标开始前专家名单保密，仅显示人数与进度。",
                        "Names stay confidential until evaluation starts; only counts and progress are shown."),
    "ep.members": ("评标委员会成员", "Committee members"),
    "ep.draw_status.committed": ("已承诺，等待代理机构随机数", "Committed; awaiting the agency's value"),
    "ep.draw_status.drawn": ("已抽取，等待确认", "Drawn; awaiting confirmations"),
    "ep.draw_status.complete": ("已组建", "Complete"),
    "ep.draw_status.short": ("专家库不足", "Pool exhausted"),
    "ep.draw_status.cancelled": ("已撤销（流标或终止）", "Cancelled (lot failed or cancelled)"),
    "ep.seed": ("种子", "Seed"),
    "ep.confirm": ("确认参加", "Confirm"),
    "ep.decline": ("拒绝", "Decline"),
    "ep.conflict": ("存在利害关系", "I have a conflict of interest"),
    "ep.respond_by": ("请在此时间前答复", "Answer by"),
    "ep.tender": ("项目", "Project"),
    "ep.notifications": ("通知", "Notifications"),
    "ep.note.invitation": ("评标邀请", "Invitation"),
    "ep.note.withdrawal": ("邀请已撤销", "Invitation withdrawn"),
    "ep.not_applied": ("您尚未申请入库。", "You have not applied yet."),
    "ep.apply_link": ("申请入库", "Apply"),
    "ep.specialty": ("专业", "Specialty"),
    "ep.excluded": ("被排除的专家及原因（仅监管人员可见）", "Excluded experts and reasons (regulators only)"),
    "ep.conflicts": ("申报的利害关系单位", "Declared conflicts of interest"),
    "ep.conflict_code": ("单位统一社会信用代码", "Organisation credit code"),
    "ep.declare": ("申报", "Declare"),
    "ep.record": ("下载抽取记录 DRAW.json（用于复核）", "Download DRAW.json (for replay)"),
    "ep.count": ("人数", "Count"),
    **{f"ep.reason.{k}": v for k, v in REASONS.items()},
})

expert_only = requires(Role.EXPERT)


def _specialty_tree() -> list[dict[str, Any]]:
    c = classification()
    return [{"cat": cat, "items": c.children(cat.code)} for cat in c.categories()]


@get("/experts/apply", guards=[expert_only], include_in_schema=False)
async def apply_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, user: User) -> Template:
    existing = await repo.find_expert_by_user(conn, user.id)
    return Template("expert_pool/apply.html", context=page_context(
        request, existing=existing, tree=_specialty_tree(), levels=TITLE_LEVELS))


@get("/experts/me", guards=[expert_only], include_in_schema=False)
async def profile_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, clock: Clock,
                       user: User) -> Template:
    expert = await repo.find_expert_by_user(conn, user.id)
    days = await repo.list_unavailable_days(conn, expert.id, since=services.today(clock)) if expert else []
    conflicts = await repo.list_conflicts(conn, expert.id) if expert else []
    return Template("expert_pool/profile.html", context=page_context(
        request, expert=expert, days=days, conflicts=conflicts, specialties=classification()))


@get("/experts/review", guards=[requires(Role.ADMIN)], include_in_schema=False)
async def review_page(request: Request[Any, Any, Any], conn: asyncpg.Connection) -> Template:
    return Template("expert_pool/review.html", context=page_context(
        request, pending=await repo.list_experts(conn, status="pending"),
        approved=await repo.list_experts(conn, status="approved"),
        suspended=await repo.list_experts(conn, status="suspended"), specialties=classification()))


@get("/expert-draws/new", guards=[requires(Role.AGENCY)], include_in_schema=False)
async def draw_new_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, user: User,
                        lot_id: UUID) -> Template:
    lot = await repo.get_lot_context(conn, lot_id)
    existing = await repo.find_draw_by_lot(conn, lot_id)
    return Template("expert_pool/draw_new.html", context=page_context(
        request, lot=lot, lot_id=lot_id, existing=existing, tree=_specialty_tree()))


@get("/expert-draws/{draw_id:uuid}", guards=[requires(Role.AGENCY, Role.REGULATOR, Role.ADMIN)],
     include_in_schema=False)
async def draw_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, user: User,
                    draw_id: UUID) -> Template:
    view = await services.draw_view(conn, draw_id, user)
    # 招标投标法 第三十七条: who was excluded, and why, is for regulators; the agency sees counts only.
    excluded = await repo.list_excluded_names(conn, draw_id) if user.has(Role.REGULATOR) else []
    return Template("expert_pool/draw.html", context=page_context(
        request, draw=view, is_agency=user.has(Role.AGENCY), is_regulator=user.has(Role.REGULATOR),
        excluded=excluded, reasons=REASONS))


@get("/expert-draws", guards=[requires(Role.REGULATOR, Role.ADMIN)], include_in_schema=False)
async def draws_page(request: Request[Any, Any, Any], conn: asyncpg.Connection) -> Template:
    return Template("expert_pool/draws.html", context=page_context(request, draws=await repo.list_draws(conn)))


@get("/experts/inbox", guards=[expert_only], include_in_schema=False)
async def inbox_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, user: User) -> Template:
    expert = await repo.find_expert_by_user(conn, user.id)
    invitations = await repo.list_invitations_for_expert(conn, expert.id) if expert else []
    notes = await repo.list_notifications_for_expert(conn, expert.id) if expert else []
    return Template("expert_pool/inbox.html", context=page_context(
        request, expert=expert, invitations=invitations, notes=notes, specialties=classification()))


PAGES = [apply_page, profile_page, review_page, draw_new_page, draw_page, draws_page, inbox_page]
