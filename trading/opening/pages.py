"""The online opening hall (开标大厅): one page per lot, refreshed live by server-sent events.

The page subscribes to /api/opening/lots/{id}/events; on every event it refetches the hall fragment, which is
rendered here from the database under the viewer's permissions. Names and prices appear only once the record
is published, i.e. when decryption is complete (电子招标投标办法 第三十条).
"""
from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
from litestar import Request, get
from litestar.response import Template

from trading.accounts.guards import signed_in
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.opening import repository as repo
from trading.opening.errors import OpeningNotParticipant
from trading.opening.schemas import LotForOpening
from trading.opening.services import CAUSE_LABELS, STATUS_LABELS
from trading.pages import page_context, register_labels

register_labels({
    "opening.hall": ("开标大厅", "Opening hall"),
    "opening.deadline": ("投标截止 / 开标时间", "Deadline / opening time"),
    "opening.status": ("开标状态", "Opening status"),
    "opening.status.none": ("未到开标时间", "Not yet at the opening time"),
    "opening.status.failed": ("流标（投标人少于3个）", "Failed (fewer than 3 bids)"),
    "opening.status.unsealing": ("解密中", "Decrypting"),
    "opening.status.published": ("开标记录已公布", "Record published"),
    "opening.status.closed": ("开标结束", "Closed"),
    "opening.signins": ("签到", "Sign-in"),
    "opening.signin": ("签到", "Sign in"),
    "opening.signed_in_count": ("已签到投标人", "Bidders signed in"),
    "opening.bids": ("待开启投标文件", "Bids to open"),
    "opening.custodians": ("密钥保管人解密进度", "Custodians' progress"),
    "opening.shares_good": ("有效份额", "good shares"),
    "opening.shares_bad": ("无效份额", "rejected shares"),
    "opening.record": ("开标记录表", "Opening record"),
    "opening.record_pdf": ("下载签章PDF", "Signed PDF"),
    "opening.bidder": ("投标人", "Bidder"),
    "opening.price": ("投标报价", "Price"),
    "opening.duration": ("工期（日）", "Duration (days)"),
    "opening.deposit": ("保证金", "Deposit"),
    "opening.unseal": ("解密", "Decryption"),
    "opening.confirm": ("确认开标记录", "Confirm the record"),
    "opening.confirmed": ("已确认", "Confirmed"),
    "opening.objections": ("异议与答复", "Objections and answers"),
    "opening.objection.raise": ("提出异议", "Raise an objection"),
    "opening.objection.answer": ("答复", "Answer"),
    "opening.objection.pending": ("待答复", "Awaiting answer"),
    "opening.close": ("结束开标", "Close the opening"),
    "opening.resume": ("继续解密", "Resume decryption"),
    "opening.start": ("开始开标", "Start the opening"),
    "opening.live": ("实时", "live"),
    "opening.none": ("无", "none"),
})


def viewer_kind(user: User, lot: LotForOpening, *, custodian: bool, bidder_org_ids: set[UUID]) -> str | None:
    if user.has(Role.ADMIN) or (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id):
        return "agency"
    if custodian:
        return "custodian"
    if user.has(Role.BIDDER) and user.org_id in bidder_org_ids:
        return "bidder"
    if user.has(Role.REGULATOR, Role.WITNESS):
        return "staff"
    return None


async def hall_view(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User) -> dict[str, Any]:
    lot = await repo.get_lot(conn, lot_id)
    session = await repo.find_session(conn, lot_id)
    on_list = await repo.list_bids_on_list(conn, lot_id) if session else []
    bidder_orgs = {b.bidder_org_id for b in on_list}
    custodian = await repo.find_lot_custodian(conn, lot_id, user.id) is not None
    kind = viewer_kind(user, lot, custodian=custodian, bidder_org_ids=bidder_orgs)
    # A failed lot's hall (流标: nothing unsealed, no names) is open to every signed-in user.
    if kind is None and session is not None and session.status != "failed":
        raise OpeningNotParticipant("the hall of this lot is open to its bidders, agency, custodians and regulators")
    status = session.status if session else "none"
    published = status in ("published", "closed", "failed")
    record = await repo.find_record(conn, lot_id) if published else None
    signins = await repo.list_signins(conn, lot_id) if session else []
    confirmations = await repo.list_confirmations(conn, lot_id) if published else {}
    objections = await repo.list_objections(conn, lot_id) if published else []
    opened = {o.bid_id: o for o in await repo.list_opened_bids(conn, lot_id)} if session else {}
    bids = []
    for i, b in enumerate(on_list, 1):
        o = opened.get(b.bid_id)
        bids.append({"no": i, "bid_id": str(b.bid_id), "manifest": b.manifest_sha256[:16], "state": b.state,
                     "state_label": STATUS_LABELS.get(b.state, b.state),
                     "cause": CAUSE_LABELS.get(o.cause, o.cause) if o and o.cause else None,
                     "mine": user.org_id == b.bidder_org_id})
    see_names = published or kind in ("agency", "staff")
    return {
        "lot": lot, "session": session, "status": status, "kind": kind, "bids": bids,
        "custodians": await repo.list_custodian_progress(conn, lot_id) if session else [],
        # Before the record is published, bidders see only how many have signed in, not who.
        "signins": signins if see_names else [],
        "signin_count": len(signins),
        "signed_in": any(s.org_id == user.org_id for s in signins) if user.org_id else False,
        "record": record.record if record else None,
        "record_pdf": record.final_pdf_sha256 or record.pdf_sha256 if record else None,
        "confirmed": user.org_id in confirmations if user.org_id else False,
        "confirmations": confirmations,
        "confirmations_str": {str(k) for k in confirmations},
        "objections": objections,
        "now": clock.now(),
        "my_bid": any(b["mine"] for b in bids),
    }


@get("/opening/lots/{lot_id:uuid}", guards=[signed_in], include_in_schema=False)
async def hall_page(request: Request, conn: asyncpg.Connection, clock: Clock, user: User,
                    lot_id: UUID) -> Template:
    view = await hall_view(conn, clock, lot_id, user)
    return Template("opening/hall.html", context=page_context(request, **view))


@get("/opening/lots/{lot_id:uuid}/fragment", guards=[signed_in], include_in_schema=False)
async def hall_fragment(request: Request, conn: asyncpg.Connection, clock: Clock, user: User,
                        lot_id: UUID) -> Template:
    view = await hall_view(conn, clock, lot_id, user)
    return Template("opening/hall_body.html", context=page_context(request, **view))


PAGES = [hall_page, hall_fragment]
