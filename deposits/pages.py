"""Deposit pages (zh-CN / English): a bidder's deposit, the agency's deadline view, finance reconciliation."""
from __future__ import annotations

from uuid import UUID

import asyncpg
from litestar import Request, get
from litestar.response import Template

from deposits import views
from trading.accounts.guards import requires
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.pages import page_context, register_labels

register_labels({
    "dep.mine.title": ("我的投标保证金", "My bid deposit"),
    "dep.required": ("应缴金额", "Amount due"),
    "dep.deadline": ("到账截止（投标截止）时间", "Must arrive by (bid deadline)"),
    "dep.pay_to": ("请转账至", "Pay to"),
    "dep.bank": ("开户银行", "Bank"),
    "dep.cnaps": ("行号", "CNAPS code"),
    "dep.account_name": ("户名", "Account name"),
    "dep.account_no": ("虚拟子账号（专属本标段本单位）", "Virtual sub-account (yours, for this lot only)"),
    "dep.from_basic": ("须从本单位基本账户转出（招标投标法实施条例第二十六条）",
                       "Pay from your registered basic account (Regulations art. 26)"),
    "dep.status": ("状态", "Status"),
    "dep.paid": ("已到账", "Received"),
    "dep.credits": ("到账记录", "Credits"),
    "dep.refunds": ("退还", "Refunds"),
    "dep.guarantees": ("电子保函", "E-guarantees"),
    "dep.none": ("暂无", "None yet"),
    "dep.amount": ("金额", "Amount"),
    "dep.time": ("银行记账时间", "Bank time"),
    "dep.payer": ("付款人", "Payer"),
    "dep.flags": ("标记", "Flags"),
    "dep.counts": ("计入", "Counts"),
    "dep.reason": ("原因", "Reason"),
    "dep.due": ("最迟退还", "Due by"),
    "dep.interest": ("利息", "Interest"),
    "dep.lot.title": ("投标保证金（截止视图）", "Bid deposits (deadline view)"),
    "dep.sealed": ("投标截止前，仅显示数量：谁已缴纳与谁已投标同样保密。",
                   "Before the deadline only counts are shown: who has paid is as secret as who has bid."),
    "dep.accounts_issued": ("已分配账号", "Accounts issued"),
    "dep.paid_in_full": ("已足额到账", "Paid in full"),
    "dep.bidder": ("投标人", "Bidder"),
    "dep.finance.title": ("保证金对账", "Deposit reconciliation"),
    "dep.open_flags": ("待处理标记", "Open flags"),
    "dep.issues": ("对账差异", "Reconciliation issues"),
    "dep.conflicts": ("流水冲突（同一流水号内容不同）", "Conflicts (same bank key, other content)"),
    "dep.imports": ("最近导入", "Recent imports"),
    "dep.report_csv": ("对账报表 CSV", "Report (CSV)"),
    "dep.report_pdf": ("对账报告 PDF（已签章）", "Report (signed PDF)"),
    "dep.lot": ("标段", "Lot"),
    "dep.file": ("文件", "File"),
    "dep.format": ("格式", "Format"),
    "dep.new": ("新增", "New"),
    "state.PAID": ("已缴纳", "Paid"),
    "state.PARTIAL": ("缴纳不足", "Partial"),
    "state.LATE": ("逾期到账", "Late"),
    "state.INVALID_PAYER": ("非基本账户缴纳", "Not from the basic account"),
    "state.GUARANTEE_ACCEPTED": ("电子保函", "E-guarantee accepted"),
    "state.GUARANTEE_REGISTERED": ("已登记电子保函", "E-guarantee registered"),
    "state.MISSING": ("未缴纳", "Not paid"),
    "state.AWAITING": ("等待到账", "Awaiting payment"),
    "state.None": ("未冻结", "Not frozen"),
})


@get("/deposits/lots/{lot_id:uuid}/mine", guards=[requires(Role.BIDDER)], include_in_schema=False)
async def my_deposit_page(request: Request, conn: asyncpg.Connection, clock: Clock, user: User,
                          lot_id: UUID) -> Template:
    dep = await views.my_deposit(conn, clock, lot_id, user)
    return Template("deposits/mine.html", context=page_context(request, dep=dep))


@get("/deposits/lots/{lot_id:uuid}", guards=[requires(Role.AGENCY, Role.REGULATOR, Role.ADMIN)],
     include_in_schema=False)
async def lot_deposits_page(request: Request, conn: asyncpg.Connection, clock: Clock, user: User,
                            lot_id: UUID) -> Template:
    view = await views.lot_deposits(conn, clock, lot_id, user)
    return Template("deposits/lot.html", context=page_context(request, view=view))


@get("/deposits/finance", guards=[requires(Role.ADMIN, Role.REGULATOR)], include_in_schema=False)
async def finance_page(request: Request, conn: asyncpg.Connection, clock: Clock, user: User) -> Template:
    overview = await views.finance_overview(conn, clock, user)
    return Template("deposits/finance.html", context=page_context(request, o=overview))


PAGE_ROUTES = [my_deposit_page, lot_deposits_page, finance_page]
