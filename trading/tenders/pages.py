"""Public pages: the tender list (search, filters, pages) and each announcement. No login; drafts only for
their agency. zh-CN labels with English (?lang=en)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import asyncpg
from litestar import Request, Response, get
from litestar.enums import MediaType
from litestar.response import Redirect, Template

from trading.accounts.guards import PUBLIC
from trading.accounts.schemas import User
from trading.clock import Clock
from trading.errors import Invalid
from trading.pages import page_context, register_labels
from trading.tenders import services
from trading.tenders.listing import listing_cache

register_labels({
    "tenders.title": ("交易公告", "Tender announcements"),
    "tenders.search": ("搜索", "Search"),
    "tenders.keyword": ("项目名称或编号", "Title or code"),
    "tenders.region": ("地区代码", "Region code"),
    "tenders.type": ("类型", "Type"),
    "tenders.status": ("状态", "Status"),
    "tenders.any": ("全部", "All"),
    "tenders.code": ("项目编号", "Code"),
    "tenders.name": ("项目名称", "Title"),
    "tenders.published": ("发布时间", "Published"),
    "tenders.deadline": ("投标截止（开标）时间", "Bid deadline (opening)"),
    "tenders.lots": ("标段", "Lots"),
    "tenders.estimated_total": ("估算价合计", "Estimated total"),
    "tenders.none": ("没有符合条件的公告", "No announcements match"),
    "tenders.total": ("共 {n} 条", "{n} in total"),
    "tenders.prev": ("上一页", "Previous"),
    "tenders.next": ("下一页", "Next"),
    "type.works": ("工程", "Works"),
    "type.goods": ("货物", "Goods"),
    "type.services": ("服务", "Services"),
    "status.open": ("正在招标", "Open for bids"),
    "status.closed": ("已截止", "Closed"),
    "status.cancelled": ("已终止", "Cancelled"),
    "status.draft": ("草稿", "Draft"),
    "lotstatus.draft": ("草稿", "Draft"),
    "lotstatus.published": ("正在招标", "Open for bids"),
    "lotstatus.closed": ("已截止", "Closed"),
    "lotstatus.opening": ("开标中", "Opening"),
    "lotstatus.evaluation": ("评标中", "Evaluation"),
    "lotstatus.publicity": ("中标候选人公示", "Candidates published"),
    "lotstatus.awarded": ("已定标", "Awarded"),
    "lotstatus.failed": ("流标", "Failed"),
    "lotstatus.cancelled": ("已终止", "Cancelled"),
    "regime.bidding_law": ("招标投标法（依法必须招标）", "Bidding Law"),
    "regime.gov_procurement": ("政府采购", "Government procurement"),
    "method.comprehensive": ("综合评估法", "Comprehensive scoring"),
    "method.lowest_price": ("经评审的最低投标价法", "Lowest evaluated price"),
    "tender.tenderer": ("招标人", "Tenderer"),
    "tender.agency": ("招标代理机构", "Agency"),
    "tender.regime": ("适用规则", "Rules"),
    "tender.region": ("地区", "Region"),
    "tender.timeline": ("时间安排", "Timeline"),
    "tender.docs_from": ("招标文件获取开始", "Documents available from"),
    "tender.docs_until": ("招标文件获取截止", "Documents available until"),
    "tender.clarification": ("澄清截止", "Clarification deadline"),
    "tender.lot_name": ("标段名称", "Lot"),
    "tender.estimated": ("估算价", "Estimated price"),
    "tender.max_price": ("最高投标限价", "Maximum price"),
    "tender.deposit": ("投标保证金", "Bid deposit"),
    "tender.method": ("评标办法", "Evaluation method"),
    "tender.lot_status": ("状态", "Status"),
    "tender.documents": ("招标文件", "Documents"),
    "tender.file": ("文件", "File"),
    "tender.history": ("公告及变更记录", "Announcement and amendment history"),
    "tender.version": ("版本", "Version"),
    "tender.kind.publish": ("招标公告", "Announcement"),
    "tender.kind.amend": ("变更公告（修改）", "Amendment"),
    "tender.kind.clarify": ("澄清", "Clarification"),
    "tender.kind.cancel": ("终止公告", "Cancellation"),
    "tender.suspended": ("因对招标文件的异议暂停，待答复后恢复（招标投标法实施条例第二十二条）",
                         "Suspended by an objection to the documents until it is answered"),
    "tender.cancel_reason": ("终止原因", "Reason for cancellation"),
    "tender.obtain_hint": ("已审核的投标人登录后即可免费获取招标文件，无需报名或审批。",
                           "Approved bidders obtain the documents free after signing in — no registration or"
                           " approval step."),
    "tender.summary": ("说明", "Summary"),
    "tender.time": ("时间", "Time"),
})


def _int(value: str | None, default: int, field: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise Invalid(f"{field} must be a number", field=field) from exc


@get("/", opt=PUBLIC, include_in_schema=False)
async def home(request: Request[Any, Any, Any]) -> Redirect:
    lang = request.query_params.get("lang")
    return Redirect("/tenders" + (f"?lang={lang}" if lang in ("zh", "en") else ""))


@get("/tenders", opt=PUBLIC, include_in_schema=False)
async def tender_list_page(request: Request[Any, Any, Any], clock: Clock) -> Response[str]:
    qp = request.query_params
    filters = {k: (qp.get(k) or "").strip() for k in ("q", "region", "type", "status")}
    page = _int(qp.get("page"), 1, "page")
    page_size = _int(qp.get("page_size"), 20, "page_size")
    cache = listing_cache(request.app.state)
    result = await cache.page(
        request.app.state.pool, clock, q=filters["q"] or None, region=filters["region"] or None,
        procurement_type=filters["type"] or None, status=filters["status"] or None, page=page, page_size=page_size)
    ctx = page_context(request, result=result, filters=filters)
    anonymous = ctx["user"] is None
    key = (tuple(filters.items()), page, page_size, ctx["lang"])
    html = cache.rendered(key, result) if anonymous else None
    if html is None:
        def link(p: int) -> str:
            args = {k: v for k, v in filters.items() if v}
            args.update(page=p, page_size=page_size, lang=ctx["lang"])
            return "/tenders?" + urlencode(args)

        html = _render(request, "tenders/list.html", {**ctx, "link": link})
        if anonymous:
            cache.keep_rendered(key, result, html)
    return Response(html, media_type=MediaType.HTML)


def _render(request: Request[Any, Any, Any], name: str, context: dict[str, Any]) -> str:
    return request.app.template_engine.get_template(name).render(**context)


@get("/tenders/{tender_id:uuid}", opt=PUBLIC, include_in_schema=False)
async def tender_page(request: Request[Any, Any, Any], conn: asyncpg.Connection, clock: Clock,
                      maybe_user: User | None, tender_id: UUID) -> Template:
    view = await services.tender_view(conn, clock, tender_id, maybe_user)
    return Template("tenders/detail.html", context=page_context(request, tender=view))


PAGE_ROUTES = [home, tender_list_page, tender_page]
