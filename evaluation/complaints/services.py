"""The rules of 投诉 (complaints) to the supervising authority.

Bidding Law (招标投标法实施条例 第六十、六十一、六十二条; RULES 5.8): an interested party (利害关系人: an organisation
that obtained the lot's documents or bid on it) complains within 10 days of the day it knew or should have known;
on the documents, the opening or the candidates it must first have objected (条例 第二十二、四十四、五十四条), and
the objection's answer period does not count. The authority decides within 3 working days whether to accept, and
within 30 working days of acceptance decides in writing; where necessary it orders the activity suspended.

Government procurement (政府采购法 第五十五、五十六、五十七条; 政府采购质疑和投诉办法 (财政部令第94号)): not in
RULES.md — the GP counterpart of 5.8, recalled and to be checked against the texts. A 投诉 follows a 质疑 of the same
supplier, after its answer or the end of its answer period, within 15 working days of the end of the answer period.

Services take the connection first, run in the caller's transaction, check everything before writing anything,
record the witness entry with the change and never commit.
"""
from __future__ import annotations

import hashlib
import unicodedata
from datetime import date, datetime, timedelta
from typing import Literal
from uuid import UUID

import asyncpg
import msgspec

from evaluation.complaints import repository as repo
from evaluation.complaints.errors import (
    ComplaintAlreadyDecided,
    ComplaintAlreadyReviewed,
    ComplaintClosed,
    ComplaintIncomplete,
    ComplaintNotAccepted,
    ComplaintNotFound,
    ComplaintPeriodOver,
    ComplaintWithdrawnBefore,
    EvidenceNotFound,
    KnownOnInvalid,
    NotInterestedParty,
    ObjectionPending,
    ObjectionRequired,
    RegulatorRequired,
    SuspensionLimitReached,
    SuspensionStateWrong,
    TenderNotComplainable,
    WithdrawalNotRequested,
    WithdrawalPending,
)
from evaluation.complaints.schemas import (
    Complaint,
    ComplaintDecisionIn,
    ComplaintIn,
    ComplaintReviewIn,
    ComplaintSuspendIn,
    ComplaintWithdrawIn,
    Evidence,
    WithdrawalDecisionIn,
)
from trading.accounts.schemas import Role, User
from trading.blobs import BlobStore
from trading.clock import Clock, show
from trading.dates import Unit, calendar, local_date, start_of_day
from trading.records import Tag, append_entry
from trading.tenders import repository as tenders
from trading.tenders.errors import LotNotFound


class ComplaintRules(msgspec.Struct, frozen=True, kw_only=True):
    """Per-regime numbers (RULES G1). Every period starts the day after its event (RULES G2)."""
    name: str
    file_days: int
    file_unit: Unit
    # "known": from the day the complainant knew or should have known, the objection's answer period not counted
    # (条例 第六十条); "answer_period_end": from the last day of the 质疑's answer period (政府采购法 第五十五条).
    file_from: Literal["known", "answer_period_end"]
    # Matters that need a prior objection of the same organisation at that stage.
    objection_matters: frozenset[str]
    accept_days: int
    accept_unit: Unit
    decide_days: int
    decide_unit: Unit
    decide_from: Literal["accepted", "filed"]


BIDDING_LAW = ComplaintRules(
    name="bidding_law",
    file_days=10, file_unit="calendar", file_from="known",                    # 条例 第六十条
    objection_matters=frozenset({"tender_documents", "opening", "candidates"}),  # 条例 第六十条¶2
    accept_days=3, accept_unit="working",                                     # 条例 第六十一条
    decide_days=30, decide_unit="working", decide_from="accepted",            # 条例 第六十一条
)
# Recalled, not verified (not in RULES.md): 政府采购法 第五十五条 (15 working days after the answer period ends),
# 政府采购质疑和投诉办法 第二十一条 (the 财政部门 reviews a complaint within 5 working days of receiving it),
# 政府采购法 第五十六条 (the decision within 30 working days of receiving the complaint).
GOV_PROCUREMENT = ComplaintRules(
    name="gov_procurement",
    file_days=15, file_unit="working", file_from="answer_period_end",
    objection_matters=frozenset({"tender_documents", "opening", "candidates", "other"}),
    accept_days=5, accept_unit="working",
    decide_days=30, decide_unit="working", decide_from="filed",
)
RULES = {r.name: r for r in (BIDDING_LAW, GOV_PROCUREMENT)}

MATTER_ARTICLE = {"tender_documents": "第二十二条", "opening": "第四十四条", "candidates": "第五十四条"}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _text(value: str | None, field: str, max_len: int) -> str:
    text = unicodedata.normalize("NFC", value or "").strip()
    if not text:
        raise ComplaintIncomplete(f"{field} is required (招标投标法实施条例 第六十条: 投诉应当有明确的请求和必要的证明材料)",
                                  field=field)
    if len(text) > max_len:
        raise ComplaintIncomplete(f"{field} is longer than {max_len} characters", field=field)
    return text


def _due(day: date, n: int, unit: Unit) -> datetime:
    """24:00 Asia/Shanghai of the last day of n days (of `unit`) after `day`, `day` not counted; a calendar-day
    period ending on a rest day rolls to the next working day (RULES G2)."""
    return start_of_day(calendar().add_days(day, n, unit) + timedelta(days=1))


def _last_day(due: datetime) -> date:
    """The last day of a period whose due instant is 24:00 of that day."""
    return local_date(due) - timedelta(days=1)


def _require_regulator(user: User) -> None:
    if not user.has(Role.REGULATOR):
        raise RegulatorRequired("only the supervising authority (a regulator) handles complaints "
                                "(招标投标法实施条例 第六十一条)")


def overdue(c: Complaint, now: datetime) -> str | None:
    """Which of the regulator's acts is past its due time, by the clock (its duty; nothing is refused for it)."""
    if c.status == "filed" and now >= c.accept_due:
        return "accept"
    if c.status == "accepted" and c.decision_due is not None and now >= c.decision_due:
        return "decision"
    return None


# ------------------------------------------------------------------------------------------------------ filing

async def file_complaint(conn: asyncpg.Connection, clock: Clock, data: ComplaintIn, *, user: User,
                         addr: str | None = None) -> Complaint:
    if user.org_id is None or not user.has(Role.BIDDER):
        raise NotInterestedParty("a complaint is filed by a bidder or another interested organisation "
                                 "(招标投标法实施条例 第六十条: 投标人或者其他利害关系人)")
    tender = await tenders.get_tender(conn, data.tender_id)
    if tender.status == "draft" or tender.publish_at is None:
        raise TenderNotComplainable("the tender is not published")
    if data.lot_id is not None and not await repo.lot_of_tender(conn, data.lot_id, tender.id):
        raise LotNotFound(f"lot {data.lot_id} is not a lot of tender {tender.code}")
    request = _text(data.request, "request", 5000)
    grounds = _text(data.grounds, "grounds", 20000)
    # 条例 第六十条: 投标人或者其他利害关系人 — here, an organisation that obtained the documents or bid.
    if not await repo.is_interested(conn, user.org_id, tender.id, data.lot_id):
        raise NotInterestedParty("only an organisation that obtained the documents of, or bid on, this tender (or "
                                 "lot) may complain about it (利害关系人)")
    rules = RULES[tender.regime]
    now = clock.now()
    today = local_date(now)
    lot_id = data.lot_id
    objection = None
    if data.matter in rules.objection_matters:
        objection, lot_id = await _prior_objection(conn, data, tender.id, user.org_id, rules, now)
    if rules.file_from == "answer_period_end":
        # 政府采购法 第五十五条: 答复期满后十五个工作日内 (recalled; not in RULES.md).
        assert objection is not None
        known_on = _answer_period_last_day(objection)
        last_day = calendar().add_days(known_on, rules.file_days, rules.file_unit)
        why = (f"投诉应当在质疑答复期满后{rules.file_days}个工作日内提出，最后一日为 {last_day} (a complaint follows the end "
               f"of the 质疑's answer period ({known_on}) within {rules.file_days} working days: 政府采购法 第五十五条)")
    else:
        known_on = await _known_on(conn, data, tender, user.org_id, lot_id, objection, today)
        # 条例 第六十条¶2: 异议答复期间不计算在前款规定的期限内 — the days from the objection (or the day the
        # complainant knew, if later) to its answer (or the end of its answer period) are added.
        paused = 0
        if objection is not None:
            end = (local_date(objection["answered_at"]) if objection["answered_at"] is not None
                   else _answer_period_last_day(objection))
            paused = max(0, (end - max(local_date(objection["filed_at"]), known_on)).days)
        last_day = calendar().add_days(known_on, rules.file_days + paused, rules.file_unit)
        why = (f"投诉应当自知道或者应当知道之日（{known_on}）起{rules.file_days}日内提出"
               f"{f'（异议答复期间{paused}日不计算在内）' if paused else ''}，最后一日为 {last_day} (招标投标法实施条例 "
               f"第六十条: within {rules.file_days} days of {known_on}, the last day was {last_day})")
    if today > last_day:
        raise ComplaintPeriodOver(why, last_day=str(last_day))
    if objection is not None and await repo.withdrawn_before(conn, tender_id=tender.id, org_id=user.org_id,
                                                             matter=data.matter, objection_id=data.objection_id):
        raise ComplaintWithdrawnBefore("a complaint on this objection was withdrawn: the same facts and reasons are "
                                       "not complained of again (投诉人不得以同一事实和理由再提出投诉)",
                                       field="objection_id")
    complaint = await repo.insert_complaint(
        conn, tender_id=tender.id, lot_id=lot_id, regime=tender.regime, org_id=user.org_id, user_id=user.id,
        matter=data.matter, objection_id=data.objection_id if objection is not None else None, request=request,
        grounds=grounds, known_on=known_on, last_day=last_day, now=now,
        accept_due=_due(today, rules.accept_days, rules.accept_unit))
    # Ids and hashes only; the complainant is the entry's actor (before the deadline only regulators read it).
    await append_entry(conn, clock, Tag.COMPLAINT_CASE_FILE, actor=str(user.id), tender_id=tender.id, lot_id=lot_id,
                       addr=addr,
                       body={"complaint": str(complaint.id), "matter": data.matter,
                             "objection": str(complaint.objection_id) if complaint.objection_id else None,
                             "known_on": str(known_on), "last_day": str(last_day),
                             "accept_due": complaint.accept_due.isoformat(), "request_sha256": _sha256(request),
                             "grounds_sha256": _sha256(grounds)})
    return complaint


def _answer_period_last_day(objection: dict) -> date:
    if objection["answer_due"] is not None:
        return _last_day(objection["answer_due"])
    return local_date(objection["answered_at"])   # answered on the spot (the opening, 条例 第四十四条)


async def _prior_objection(conn, data: ComplaintIn, tender_id: UUID, org_id: UUID, rules: ComplaintRules,
                           now: datetime) -> tuple[dict, UUID | None]:
    """The objection the complaint rests on: of the same organisation, on the same tender (and lot), at the stage
    of the matter, answered or past its answer period. Returns it and the complaint's lot."""
    if data.matter == "other":
        # 政府采购法 第五十五条: a 投诉 follows a 质疑; the platform records them on the documents, at the opening
        # and on the result.
        raise ObjectionRequired("政府采购的投诉应当先依法质疑 (a GP complaint follows a 质疑 of the same supplier: "
                                "name it, with matter tender_documents, opening or candidates; 政府采购法 第五十五条)")
    article = ("政府采购法 第五十五条" if rules.name == "gov_procurement"
               else f"招标投标法实施条例 第六十条、{MATTER_ARTICLE[data.matter]}")
    if data.objection_id is None:
        raise ObjectionRequired(f"a complaint on this matter needs an objection raised first ({article}): name it "
                                "in objection_id", field="objection_id")
    obj = await repo.find_objection(conn, data.matter, data.objection_id)
    if obj is None or obj["org_id"] != org_id or obj["tender_id"] != tender_id or (
            data.lot_id is not None and obj["lot_id"] is not None and obj["lot_id"] != data.lot_id):
        raise ObjectionRequired(f"objection {data.objection_id} is not an objection of your organisation on this "
                                f"tender{' and lot' if data.lot_id else ''} at that stage ({article})",
                                field="objection_id")
    if obj["answered_at"] is None and (obj["answer_due"] is None or now < obj["answer_due"]):
        until = f" until {show(obj['answer_due'])} (Asia/Shanghai)" if obj["answer_due"] is not None else ""
        raise ObjectionPending(f"the objection is still waiting for its answer{until}; complain after the answer or "
                               f"after the answer period ({article})",
                               answer_due=obj["answer_due"].isoformat() if obj["answer_due"] else None)
    return obj, data.lot_id or obj["lot_id"]


async def _known_on(conn, data: ComplaintIn, tender, org_id: UUID, lot_id: UUID | None, objection: dict | None,
                    today: date) -> date:
    """The day the complainant knew or should have known (条例 第六十条), from the platform's own dates."""
    if data.matter == "tender_documents":
        # The later of the day the organisation obtained the documents and the last amendment's publication.
        days = [local_date(x) for x in (await repo.documents_obtained_at(conn, org_id, tender.id, lot_id),
                                        await repo.last_amendment_at(conn, tender.id)) if x is not None]
        return max(days) if days else local_date(tender.publish_at)
    if data.matter == "opening":
        return local_date(tender.bid_deadline)   # the opening is at the deadline (招标投标法 第三十四条)
    if data.matter == "candidates":
        starts = await repo.publicity_starts_at(conn, lot_id) if lot_id else None
        return local_date(starts) if starts else local_date(objection["filed_at"])
    if data.known_on is None:
        raise KnownOnInvalid("state known_on: the day you knew or should have known (条例 第六十条)",
                             field="known_on")
    if data.known_on > today:
        raise KnownOnInvalid(f"known_on {data.known_on} is in the future", field="known_on")
    if data.known_on < local_date(tender.publish_at):
        raise KnownOnInvalid(f"known_on {data.known_on} is before the tender's publication "
                             f"({local_date(tender.publish_at)})", field="known_on")
    return data.known_on


# ----------------------------------------------------------------------------------------------- the regulator

async def accept_complaint(conn: asyncpg.Connection, clock: Clock, complaint_id: UUID, *, user: User,
                           addr: str | None = None) -> Complaint:
    """受理 (条例 第六十一条: within 3 working days of receipt). A late acceptance is taken and marked late."""
    _require_regulator(user)
    c = await repo.get_complaint(conn, complaint_id, lock=True)
    if c.status != "filed":
        raise ComplaintAlreadyReviewed(f"the complaint is already {c.status}")
    rules = RULES[c.regime]
    now = clock.now()
    start = now if rules.decide_from == "accepted" else c.filed_at
    c = await repo.set_reviewed(conn, complaint_id, status="accepted", by=user.id, now=now, late=now >= c.accept_due,
                                reason=None,
                                decision_due=_due(local_date(start), rules.decide_days, rules.decide_unit))
    await append_entry(conn, clock, Tag.COMPLAINT_CASE_ACCEPT, actor=str(user.id), tender_id=c.tender_id,
                       lot_id=c.lot_id, addr=addr,
                       body={"complaint": str(c.id), "accept_due": c.accept_due.isoformat(), "late": c.reviewed_late,
                             "decision_due": c.decision_due.isoformat()})
    return c


async def refuse_complaint(conn: asyncpg.Connection, clock: Clock, complaint_id: UUID, data: ComplaintReviewIn, *,
                           user: User, addr: str | None = None) -> Complaint:
    """不予受理, with the reason in writing (条例 第六十一条); late is taken and marked late."""
    _require_regulator(user)
    reason = _text(data.reason, "reason", 5000)
    c = await repo.get_complaint(conn, complaint_id, lock=True)
    if c.status != "filed":
        raise ComplaintAlreadyReviewed(f"the complaint is already {c.status}")
    now = clock.now()
    c = await repo.set_reviewed(conn, complaint_id, status="refused", by=user.id, now=now, late=now >= c.accept_due,
                                reason=reason, decision_due=None)
    await append_entry(conn, clock, Tag.COMPLAINT_CASE_REFUSE, actor=str(user.id), tender_id=c.tender_id,
                       lot_id=c.lot_id, addr=addr,
                       body={"complaint": str(c.id), "accept_due": c.accept_due.isoformat(), "late": c.reviewed_late,
                             "reason_sha256": _sha256(reason)})
    return c


# 政府采购法 第五十七条: 暂停时间最长不得超过三十日 — counted from the complaint's first order, so lifting and ordering
# again does not restart it. The Bidding Law (条例 第六十二条) sets no limit.
GP_SUSPENSION_LIMIT = timedelta(days=30)


async def suspend_tender(conn: asyncpg.Connection, clock: Clock, complaint_id: UUID, data: ComplaintSuspendIn, *,
                         user: User, addr: str | None = None) -> Complaint:
    """条例 第六十二条: 必要时，行政监督部门可以责令暂停招标投标活动 — while it handles an accepted complaint. The
    order stands on the tender (tenders.regulator_suspended) until lifted or the complaint is decided; in government
    procurement at most 30 days from the complaint's first order (政府采购法 第五十七条), when it lapses by itself."""
    _require_regulator(user)
    c = await repo.get_complaint(conn, complaint_id, lock=True)
    if c.status != "accepted":
        raise ComplaintNotAccepted("the activity is suspended while an accepted complaint is handled "
                                   f"(条例 第六十二条); this complaint is {c.status}")
    now = clock.now()
    if c.suspended_at is not None and not (c.suspension_ends_at is not None and now >= c.suspension_ends_at):
        raise SuspensionStateWrong("this complaint's order to suspend already stands")
    tender = await tenders.lock_tender(conn, c.tender_id)
    ends_at = None
    if c.regime == "gov_procurement":
        ends_at = (c.first_suspended_at or now) + GP_SUSPENSION_LIMIT
        if ends_at <= now:
            raise SuspensionLimitReached(
                "a procurement is suspended for 30 days at most (政府采购法 第五十七条); this complaint's first order "
                f"was given on {show(ends_at - GP_SUSPENSION_LIMIT)}", ended_at=ends_at.isoformat())
    reason = unicodedata.normalize("NFC", data.reason or "").strip()[:5000] or None
    c = await repo.set_suspension(conn, complaint_id, at=now, by=user.id, reason=reason, ends_at=ends_at)
    _, until = await repo.standing_suspensions(conn, tender.id)
    await tenders.set_tender_regulator_suspended(conn, tender.id, True, now, until)
    await append_entry(conn, clock, Tag.COMPLAINT_TENDER_SUSPEND, actor=str(user.id), tender_id=c.tender_id,
                       lot_id=c.lot_id, addr=addr,
                       body={"complaint": str(c.id), "tender": str(c.tender_id),
                             **({"ends_at": ends_at.isoformat()} if ends_at else {}),
                             **({"reason_sha256": _sha256(reason)} if reason else {})})
    return c


async def resume_tender(conn: asyncpg.Connection, clock: Clock, complaint_id: UUID, *, user: User,
                        addr: str | None = None) -> Complaint:
    """The regulator lifts its order. The tender moves again once no other complaint's order stands; an objection's
    suspension (条例 第二十二条, tenders.suspended) is not touched."""
    _require_regulator(user)
    c = await repo.get_complaint(conn, complaint_id, lock=True)
    if c.suspended_at is None:
        raise SuspensionStateWrong("this complaint has no standing order to suspend")
    c = await repo.set_suspension(conn, complaint_id, at=None, by=None, reason=None)
    await _lift(conn, clock, c, user=user, addr=addr, by_decision=False)
    return c


async def _lift(conn, clock: Clock, c: Complaint, *, user: User | None, addr: str | None, by_decision: bool,
                lapsed: bool = False) -> None:
    tender = await tenders.lock_tender(conn, c.tender_id)
    standing, until = await repo.standing_suspensions(conn, c.tender_id)
    lifted = standing == 0
    if tender.regulator_suspended:
        await tenders.set_tender_regulator_suspended(conn, tender.id, not lifted, clock.now(), until)
    await append_entry(conn, clock, Tag.COMPLAINT_TENDER_RESUME, actor=str(user.id) if user else None,
                       tender_id=c.tender_id, lot_id=c.lot_id, addr=addr,
                       body={"complaint": str(c.id), "tender": str(c.tender_id), "lifted": lifted,
                             "by_decision": by_decision, **({"lapsed": True} if lapsed else {})})


async def lapse_suspensions(conn: asyncpg.Connection, clock: Clock) -> int:
    """Government procurement: orders to suspend that have run their 30 days (政府采购法 第五十七条) are lifted and
    logged (`complaint:tender:resume` with `lapsed`, no actor). Housekeeping only: the order stopped stopping the
    tender at its end already (tenders.regulator_suspended_until, read against the clock), whenever this runs."""
    ids = await repo.lapsed_suspensions(conn, clock.now())
    for complaint_id in ids:
        c = await repo.set_suspension(conn, complaint_id, at=None, by=None, reason=None)
        await _lift(conn, clock, c, user=None, addr=None, by_decision=False, lapsed=True)
    return len(ids)


async def decide_complaint(conn: asyncpg.Connection, clock: Clock, complaint_id: UUID, data: ComplaintDecisionIn, *,
                           user: User, addr: str | None = None) -> Complaint:
    """书面处理决定 (条例 第六十一条: within 30 working days of acceptance): after acceptance, once; late is taken
    and marked late. It lifts the suspension this complaint ordered."""
    _require_regulator(user)
    text = _text(data.text, "text", 20000)
    c = await repo.get_complaint(conn, complaint_id, lock=True)
    if c.status == "decided":
        raise ComplaintAlreadyDecided(f"the complaint was decided ({c.decision}) on {show(c.decided_at)}")
    if c.status != "accepted":
        raise ComplaintNotAccepted(f"a complaint is decided once accepted (条例 第六十一条); it is {c.status}")
    now = clock.now()
    suspended = c.suspended_at is not None
    c = await repo.set_decided(conn, complaint_id, decision=data.outcome, text=text, by=user.id, now=now,
                               late=now >= c.decision_due)
    await append_entry(conn, clock, Tag.COMPLAINT_CASE_DECIDE, actor=str(user.id), tender_id=c.tender_id,
                       lot_id=c.lot_id, addr=addr,
                       body={"complaint": str(c.id), "outcome": data.outcome, "text_sha256": _sha256(text),
                             "decision_due": c.decision_due.isoformat(), "late": c.decided_late})
    if suspended:
        await _lift(conn, clock, c, user=user, addr=addr, by_decision=True)
    return c


# ------------------------------------------------------------------------------------------- withdrawal (撤回)

async def withdraw_complaint(conn: asyncpg.Connection, clock: Clock, complaint_id: UUID, data: ComplaintWithdrawIn,
                             *, user: User, addr: str | None = None) -> Complaint:
    """The complainant withdraws its complaint, in writing with its reasons, before the decision.

    - Not yet accepted (either regime): the complaint ends now.
    - Government procurement, accepted: the handling ends now (政府采购质疑和投诉办法 第三十条, recalled).
    - Bidding Law, accepted: a request; the authority allows it, or refuses it where it has found a clear violation
      and goes on to its decision (工程建设项目招标投标活动投诉处理办法 第二十条, recalled) — `decide_withdrawal`.
    A complaint that ends withdrawn lifts the order to suspend it gave; the same objection is not complained of
    again (`file_complaint`)."""
    c = await repo.get_complaint(conn, complaint_id, lock=True)
    if user.org_id is None or user.org_id != c.org_id:
        raise ComplaintNotFound(f"complaint {complaint_id} not found")
    if c.status not in ("filed", "accepted"):
        raise ComplaintClosed(f"the complaint is {c.status}: there is nothing left to withdraw")
    if c.withdraw_requested_at is not None:
        raise WithdrawalPending(f"the withdrawal asked for on {show(c.withdraw_requested_at)} awaits the authority")
    reason = _text(data.reason, "reason", 5000)
    now = clock.now()
    if c.status == "accepted" and c.regime == "bidding_law":
        c = await repo.set_withdraw_request(conn, complaint_id, reason=reason, now=now)
        await append_entry(conn, clock, Tag.COMPLAINT_WITHDRAW_REQUEST, actor=str(user.id), tender_id=c.tender_id,
                           lot_id=c.lot_id, addr=addr,
                           body={"complaint": str(c.id), "reason_sha256": _sha256(reason)})
        return c
    return await _withdrawn(conn, clock, c, reason=reason, by=user, addr=addr, allowed_by=None)


async def decide_withdrawal(conn: asyncpg.Connection, clock: Clock, complaint_id: UUID, data: WithdrawalDecisionIn,
                            *, user: User, addr: str | None = None) -> Complaint:
    """Bidding Law: the authority allows the withdrawal asked for (the handling ends), or refuses it with its reason
    (a clear violation found: the handling goes on to a decision)."""
    _require_regulator(user)
    c = await repo.get_complaint(conn, complaint_id, lock=True)
    if c.status != "accepted" or c.withdraw_requested_at is None:
        raise WithdrawalNotRequested("no withdrawal of this complaint awaits a decision")
    now = clock.now()
    if data.allow:
        return await _withdrawn(conn, clock, c, reason=c.withdraw_reason or "", by=user, addr=addr,
                                allowed_by=user)
    reason = _text(data.reason, "reason", 5000)
    c = await repo.set_withdraw_refused(conn, complaint_id, reason=reason, now=now)
    await append_entry(conn, clock, Tag.COMPLAINT_WITHDRAW_REFUSE, actor=str(user.id), tender_id=c.tender_id,
                       lot_id=c.lot_id, addr=addr,
                       body={"complaint": str(c.id), "reason_sha256": _sha256(reason)})
    return c


async def _withdrawn(conn, clock: Clock, c: Complaint, *, reason: str, by: User, addr: str | None,
                     allowed_by: User | None) -> Complaint:
    suspended = c.suspended_at is not None
    c = await repo.set_withdrawn(conn, c.id, reason=reason, by=by.id, now=clock.now())
    await append_entry(conn, clock, Tag.COMPLAINT_CASE_WITHDRAW, actor=str(by.id), tender_id=c.tender_id,
                       lot_id=c.lot_id, addr=addr,
                       body={"complaint": str(c.id), "reason_sha256": _sha256(reason),
                             "allowed": allowed_by is not None})
    if suspended:
        await _lift(conn, clock, c, user=by, addr=addr, by_decision=False)
    return c


# ---------------------------------------------------------------------------------------- evidence (证明材料)

MAX_EVIDENCE_BYTES = 20 * 1024 * 1024


async def add_evidence(conn: asyncpg.Connection, clock: Clock, blobs: BlobStore, complaint_id: UUID, *,
                       filename: str, content_type: str | None, content: bytes, user: User,
                       addr: str | None = None) -> Evidence:
    """A file of 证明材料 (条例 第六十条), added by the complainant's organisation while the complaint is open."""
    c = await repo.get_complaint(conn, complaint_id, lock=True)
    if user.org_id is None or user.org_id != c.org_id:
        raise ComplaintNotFound(f"complaint {complaint_id} not found")
    if c.status not in ("filed", "accepted"):
        raise ComplaintClosed(f"the complaint is {c.status}: no more evidence is taken")
    name = unicodedata.normalize("NFC", filename or "").replace("/", "_").replace("\\", "_").strip()[:200]
    if not name:
        name = "evidence"
    if not content:
        raise ComplaintIncomplete("the file is empty", field="file")
    if len(content) > MAX_EVIDENCE_BYTES:
        raise ComplaintIncomplete(f"a file of evidence may have at most {MAX_EVIDENCE_BYTES} bytes", field="file")
    digest = blobs.put_bytes(content)
    evidence = await repo.insert_evidence(conn, complaint_id, filename=name,
                                          content_type=content_type or "application/octet-stream", sha256=digest,
                                          size=len(content), by=user.id, now=clock.now())
    await append_entry(conn, clock, Tag.COMPLAINT_EVIDENCE_ADD, actor=str(user.id), tender_id=c.tender_id,
                       lot_id=c.lot_id, addr=addr,
                       body={"complaint": str(c.id), "evidence": str(evidence.id), "sha256": digest,
                             "size": evidence.size})
    return evidence


async def evidence_file(conn: asyncpg.Connection, clock: Clock, blobs: BlobStore, complaint_id: UUID, sha256: str, *,
                        user: User) -> tuple[Evidence, bytes]:
    """Read by whoever may read the complaint; the blob's hash is checked on the read."""
    c = await get_complaint(conn, clock, complaint_id, user=user)
    evidence = next((e for e in c.evidence if e.sha256 == sha256), None)
    if evidence is None:
        raise EvidenceNotFound(f"no evidence {sha256} in this complaint")
    return evidence, blobs.get_bytes(sha256)


# ------------------------------------------------------------------------------------------------------ reading

def _as_seen_by(c: Complaint, user: User, now: datetime) -> Complaint:
    c.overdue = overdue(c, now)
    mine = user.org_id is not None and user.org_id == c.org_id
    if not user.has(Role.REGULATOR) and not mine and now < c.bid_deadline:
        # 招标投标法 第二十二条: who obtained the documents stays secret before the deadline.
        c.org_id = None
        c.org_name = None
    return c


async def get_complaint(conn: asyncpg.Connection, clock: Clock, complaint_id: UUID, *, user: User) -> Complaint:
    """Visible to the complainant's organisation, regulators, and — once accepted — the tender's agency and
    tenderer; to anyone else it does not exist."""
    c = await repo.get_complaint(conn, complaint_id)
    if not user.has(Role.REGULATOR) and not (user.org_id is not None and user.org_id == c.org_id):
        tender = await tenders.get_tender(conn, c.tender_id)
        party = user.org_id is not None and user.org_id in (tender.agency_org_id, tender.tenderer_org_id)
        if not (party and c.status in ("accepted", "decided")):
            raise ComplaintNotFound(f"complaint {complaint_id} not found")
    return _as_seen_by(c, user, clock.now())


async def list_complaints(conn: asyncpg.Connection, clock: Clock, *, user: User) -> list[Complaint]:
    now = clock.now()
    if user.has(Role.REGULATOR):
        items = await repo.list_complaints(conn, everything=True)
    elif user.org_id is None:
        items = []
    else:
        own = await repo.list_complaints(conn, org_id=user.org_id)
        seen = {c.id for c in own}
        items = own + [c for c in await repo.list_complaints(conn, party_org_id=user.org_id) if c.id not in seen]
    return [_as_seen_by(c, user, now) for c in items]
