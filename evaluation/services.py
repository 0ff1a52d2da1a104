"""The rules of online evaluation (网上评标), publicity (中标候选人公示) and award (中标通知书).

Services take the connection first, run inside the caller's transaction, record the witness entry and never
commit. The arithmetic lives in `evaluation.scoring`; the inputs (opened bids, confirmed committee) come through
`evaluation.sources`.
"""
from __future__ import annotations

import hashlib
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from evaluation import repository as repo
from evaluation import scoring, sources
from evaluation.errors import (
    AgencyRequired,
    AttachmentNotFound,
    AwardAlreadyIssued,
    AwardNotIssued,
    BidNotFound,
    ChairRequired,
    ClarificationClosed,
    ClarificationNotFound,
    PriceCorrectionClosed,
    PriceCorrectionExists,
    PriceCorrectionInvalid,
    PriceCorrectionNotFound,
    ChallengePeriodClosed,
    ChallengeUpheld,
    CommitteeInvalid,
    ContractAlreadyRecorded,
    ContractInvalid,
    ContractTermsMismatch,
    DeclarationAlreadySigned,
    DeclarationRequired,
    DecisionPeriodOver,
    EvaluationAlreadyStarted,
    EvaluationStateWrong,
    EvaluationTimeOver,
    FlagAlreadyAnswered,
    FlagsOpen,
    GovProcurementOnly,
    LotNotEvaluating,
    MemberRequired,
    NotYourBid,
    NoTimeLimit,
    NotInGovProcurement,
    ObjectionAlreadyAnswered,
    ObjectionsUnanswered,
    ObjectionUpheld,
    ObjectorNotEntitled,
    PerformanceBondTooHigh,
    PublicityClosed,
    PublicityRunning,
    PublicityTooShort,
    PurchaserRequired,
    ReasonRequired,
    RejectionNotAllowed,
    ReportAlreadyConfirmed,
    ReportAlreadySent,
    ReportNotSent,
    ReportSigningOpen,
    ReviewNotAllowed,
    SchemeFrozen,
    SchemeInvalid,
    SchemeMissing,
    ScoresHidden,
    SupervisorReportSubmitted,
    SheetInvalid,
    SheetLocked,
    TimeAlreadyRequested,
    TimeLimitInvalid,
    WinnerAlreadyDetermined,
    WinnerNotCandidate,
    WinnerNotDetermined,
)
from evaluation.recordings.services import require_recordings
from evaluation.schemas import (
    AwardIn,
    Clarification,
    ClarificationAnswerIn,
    ClarificationIn,
    PriceCorrection,
    PriceCorrectionDecisionIn,
    PriceCorrectionIn,
    ConfirmIn,
    Contract,
    ContractIn,
    CorrectionIn,
    DeclarationIn,
    Determination,
    FlagAnswerIn,
    Member,
    ObjectionAnswerIn,
    ObjectionIn,
    OverdueAwardObjection,
    OverdueDuty,
    PublicityIn,
    ReviewIn,
    SchemeIn,
    SchemeOut,
    SheetIn,
    TimeLimitIn,
    TimeRequestIn,
    TimeStatus,
    WinnerDecisionIn,
)
from evaluation.sources import BidView
from trading.accounts.schemas import Role, User
from trading.clock import Clock
from trading.events import emit
from trading.records import Tag, append_entry
from trading.dates import calendar, local_date, start_of_day, within_horizon
from trading.money import fen_to_yuan, yuan_to_fen
from trading.tenders.rules import rules_for
from trading.tenders.schemas import under_order
from trading.tenders.services import answer_due

MIN_PUBLICITY_DAYS = 3  # 招标投标法实施条例 第五十四条
MAX_PUBLICITY_DAYS = 30
MAX_CANDIDATES = 3      # 招标投标法实施条例 第五十三条
# Government procurement (政府采购货物和服务招标投标管理办法 = 87号令; 政府采购法): periods in working days.
GP_REPORT_SEND_DAYS = 2     # 87号令 第六十八条: the report to the purchaser within 2 working days of the evaluation
GP_DECISION_DAYS = 5        # 87号令 第六十八条: the purchaser determines the winner within 5 working days of receipt
GP_AWARD_DAYS = 2           # 87号令 第六十九条: the result announced within 2 working days of the determination
GP_ANNOUNCEMENT_DAYS = 1    # 87号令 第六十九条: the result announcement lasts 1 working day
GP_CHALLENGE_DAYS = 7       # 政府采购法 第五十二条: 质疑 within 7 working days
# Declared bid-form fields shown on the public candidates page when the lot asks for them.
PUBLICITY_FORM_FIELDS = ("quality", "project_manager", "project_manager_certificate")


# ------------------------------------------------------------------------------------------------- helpers

def _sha256(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _canonical(value: Any) -> bytes:
    return msgspec.json.encode(value, order="sorted")


def _text(value: str | None, field: str, *, max_len: int = 5000, required: bool = True) -> str:
    text = unicodedata.normalize("NFC", value or "").strip()
    if required and not text:
        raise ReasonRequired(f"{field} is required", field=field)
    if len(text) > max_len:
        raise SchemeInvalid(f"{field} is longer than {max_len} characters", field=field)
    return text


def _decimal(text: str | None, field: str, error: type[Exception] = SheetInvalid) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise error(f"{field}: {text!r} is not a decimal number", field=field) from None
    if not value.is_finite():
        raise error(f"{field}: {text!r} is not a decimal number", field=field)
    return value


def _four(value: Fraction | None) -> Decimal | None:
    """A rational as a 4-place decimal for storage/display (the exact value is recomputed from the sheets)."""
    if value is None:
        return None
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.0001"))


async def _lot(conn: asyncpg.Connection, lot_id: UUID, *, lock: bool = False):
    from trading.tenders import repository as tenders

    return await (tenders.lock_lot if lock else tenders.get_lot)(conn, lot_id)


def _require_agency(user: User, lot) -> None:
    if user.has(Role.ADMIN):
        return
    if not (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id):
        raise AgencyRequired("only the lot's tendering agency may do this")


async def _sync_committee(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, src=None) -> None:
    """An alternate invited after a replacement joins the sitting committee once it has confirmed."""
    members = await repo.list_members(conn, lot_id)
    ev = await repo.find_evaluation(conn, lot_id)
    if ev is None:
        return
    sitting = sum(1 for m in members if m.status == "active")
    known_experts = {m.expert_id for m in members}
    sitting_users = {m.user_id for m in members if m.status == "active"}
    for c in await (src or sources.current).committee(conn, lot_id):
        if sitting >= ev.committee_size:
            return
        if c.expert_id not in known_experts and c.user_id not in sitting_users:
            await repo.insert_member(conn, lot_id, expert_id=c.expert_id, user_id=c.user_id, name=c.name,
                                     now=clock.now())
            sitting += 1


async def _member(conn: asyncpg.Connection, lot_id: UUID, user: User, clock: Clock | None = None,
                  src=None) -> Member:
    member = await repo.find_active_member_by_user(conn, lot_id, user.id)
    if member is None and clock is not None:
        await _sync_committee(conn, clock, lot_id, src)
        member = await repo.find_active_member_by_user(conn, lot_id, user.id)
    if member is None or not user.has(Role.EXPERT):
        raise MemberRequired("only a confirmed member of this lot's committee may do this")
    return member


async def _declared(conn: asyncpg.Connection, lot_id: UUID, member: Member) -> None:
    row = await repo.find_declaration(conn, lot_id, member.expert_id)
    if row is None:
        raise DeclarationRequired("sign the declaration of no conflict of interest (回避声明) first")


def _scheme(row: dict[str, Any], method: str) -> scoring.Scheme:
    return scoring.Scheme(
        method=method,  # type: ignore[arg-type]
        items=tuple(scoring.Item(i["id"], i["grp"], i["max_points"], i["name"]) for i in row["items"]),
        criteria=tuple(scoring.Criterion(c["id"], c["reason_code"], c["name"]) for c in row["criteria"]),
        technical_weight=row["technical_weight"], commercial_weight=row["commercial_weight"],
        price_weight=row["price_weight"], outlier_share=row["outlier_share"],
        comment_below_share=row["comment_below_share"],
    )


async def _scheme_for(conn: asyncpg.Connection, lot) -> tuple[scoring.Scheme, dict[str, Any]]:
    row = await repo.find_scheme(conn, lot.id)
    if row is None:
        raise SchemeMissing("the agency has not set the scoring scheme of this lot")
    return _scheme(row, lot.evaluation_method), row


def _bids_hash(bids: list[BidView]) -> str:
    return _sha256("\n".join(sorted(f"{b.bid_id}:{b.manifest_sha256}" for b in bids)))


# --------------------------------------------------------------------------------------------------- scheme

async def set_scheme(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: SchemeIn, *, actor: User,
                     addr: str | None = None) -> SchemeOut:
    """The agency sets the lot's items, criteria and weights before evaluation starts (条例 第四十九条: the
    committee uses only the criteria of the tender documents)."""
    lot = await _lot(conn, lot_id, lock=True)
    _require_agency(actor, lot)
    if await repo.find_evaluation(conn, lot_id) or lot.status in ("publicity", "awarded", "failed", "cancelled"):
        raise SchemeFrozen("the scheme is frozen once evaluation has started")
    items = [{"id": i.id, "name": _text(i.name, "item name", max_len=200), "group": i.group,
              "max_points": _decimal(i.max_points, f"items.{i.id}.max_points", SchemeInvalid),
              "guidance": i.guidance.strip()[:2000]}
             for i in data.items]
    criteria = [{"id": c.id, "name": _text(c.name, "criterion name", max_len=200), "reason_code": c.reason_code}
                for c in data.criteria]
    weights = {g: _decimal(getattr(data, f"{g}_weight"), f"{g}_weight", SchemeInvalid)
               for g in ("technical", "commercial", "price")}
    shares = {k: _decimal(getattr(data, k), k, SchemeInvalid) for k in ("outlier_share", "comment_below_share")}
    scheme = scoring.Scheme(
        method=lot.evaluation_method,  # type: ignore[arg-type]
        items=tuple(scoring.Item(i["id"], i["group"], i["max_points"], i["name"]) for i in items),
        criteria=tuple(scoring.Criterion(c["id"], c["reason_code"], c["name"]) for c in criteria),
        technical_weight=weights["technical"], commercial_weight=weights["commercial"],
        price_weight=weights["price"], **shares)
    problems = scoring.scheme_problems(scheme)
    if not criteria:
        problems.append(scoring.Problem("criteria_missing", "qualification review needs at least one criterion"))
    if lot.regime == "gov_procurement" and lot.evaluation_method == "comprehensive":
        # 政府采购货物和服务招标投标管理办法 第五十五条: price weight ≥ 30% for goods, ≥ 10% for services.
        floor = {"goods": Decimal("0.30"), "services": Decimal("0.10")}.get(lot.procurement_type, Decimal(0))
        if weights["price"] < floor:
            problems.append(scoring.Problem("price_weight_too_low", f"the price weight must be at least {floor} "
                                            f"for {lot.procurement_type} (87号令 第五十五条)"))
    if not MIN_PUBLICITY_DAYS <= data.publicity_days <= MAX_PUBLICITY_DAYS:
        problems.append(scoring.Problem("publicity_days_invalid", f"publicity lasts 3 to {MAX_PUBLICITY_DAYS} days"
                                        " (条例 第五十四条: at least 3)"))
    if problems:
        raise SchemeInvalid("; ".join(p.message for p in problems), problems=[p.code for p in problems])
    # The scheme's hash, logged now and printed in the report: what the committee evaluated against.
    digest = _sha256(_canonical({
        "method": lot.evaluation_method, "criteria": criteria, "publicity_days": data.publicity_days,
        "items": [{**i, "max_points": str(i["max_points"])} for i in items],
        "weights": {k: str(v) for k, v in weights.items()}, **{k: str(v) for k, v in shares.items()}}))
    try:
        await repo.replace_scheme(conn, lot_id, weights=weights, outlier_share=shares["outlier_share"],
                                  comment_below_share=shares["comment_below_share"],
                                  publicity_days=data.publicity_days, items=items, criteria=criteria,
                                  scheme_sha256=digest, set_by=actor.id, now=clock.now())
    except (asyncpg.CheckViolationError, asyncpg.NumericValueOutOfRangeError) as exc:
        raise SchemeInvalid(f"the scheme breaks a constraint: {getattr(exc, 'constraint_name', None) or exc}") from exc
    await append_entry(conn, clock, Tag.EVALUATION_SCHEME_SET, actor=str(actor.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "scheme_sha256": digest,
                                                       "items": len(items), "criteria": len(criteria)})
    return await get_scheme(conn, lot_id)


async def get_scheme(conn: asyncpg.Connection, lot_id: UUID) -> SchemeOut:
    lot = await _lot(conn, lot_id)
    _, row = await _scheme_for(conn, lot)
    return SchemeOut(
        lot_id=lot_id, method=lot.evaluation_method,
        items=[{"id": i["id"], "name": i["name"], "group": i["grp"], "max_points": str(i["max_points"]),
                "guidance": i["guidance"]} for i in row["items"]],
        criteria=row["criteria"], technical_weight=str(row["technical_weight"]),
        commercial_weight=str(row["commercial_weight"]), price_weight=str(row["price_weight"]),
        outlier_share=str(row["outlier_share"]), comment_below_share=str(row["comment_below_share"]),
        publicity_days=row["publicity_days"], scheme_sha256=row["scheme_sha256"])


# ---------------------------------------------------------------------------------------------------- start

async def start_evaluation(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, *, actor: User,
                           addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """Open the evaluation of a lot in 'evaluation' with its confirmed committee and its opened bids."""
    src = src or sources.current
    lot = await _lot(conn, lot_id, lock=True)
    _require_agency(actor, lot)
    if lot.status != "evaluation":
        raise LotNotEvaluating(f"the lot is {lot.status!r}; evaluation starts after the opening is closed")
    if await repo.find_evaluation(conn, lot_id):
        raise EvaluationAlreadyStarted("this lot's evaluation has already started")
    await _scheme_for(conn, lot)
    committee = await src.committee(conn, lot_id)
    n = len(committee)
    # 招标投标法 第三十七条: five or more, an odd number (government procurement: three or more, 87号令 第四十七条).
    minimum = 5 if lot.regime == "bidding_law" else 3
    if n < minimum or n % 2 == 0:
        raise CommitteeInvalid(f"the committee has {n} confirmed members; it needs an odd number ≥ {minimum}")
    if len({m.user_id for m in committee}) != n:
        raise CommitteeInvalid("a user sits twice on the committee")
    bids = await src.opened_bids(conn, lot_id)
    if not bids:
        raise LotNotEvaluating("the lot has no opened bid to evaluate")
    now = clock.now()
    await repo.insert_evaluation(conn, lot_id=lot_id, tender_id=lot.tender_id, method=lot.evaluation_method,
                                 committee_size=n, bids_hash=_bids_hash(bids), started_by=actor.id, now=now)
    for m in committee:
        await repo.insert_member(conn, lot_id, expert_id=m.expert_id, user_id=m.user_id, name=m.name, now=now)
    # Names stay out of the log: committee names are confidential until the result (招标投标法 第三十七条).
    await append_entry(conn, clock, Tag.EVALUATION_SESSION_START, actor=str(actor.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "method": lot.evaluation_method, "bids_hash": _bids_hash(bids),
                             "bids": len(bids), "experts": sorted(str(m.expert_id) for m in committee)})
    return {"lot_id": str(lot_id), "status": "scoring", "members": n, "bids": len(bids)}


# ------------------------------------------------------------------------------------------ evaluation time

def _extension_needed(committee_size: int) -> int:
    """More than a third of the members (超过三分之一): 2 of 5, 3 of 7, 2 of 3."""
    return committee_size // 3 + 1


async def time_status(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, ev=None) -> TimeStatus:
    ev = ev or await repo.get_evaluation(conn, lot_id)
    requests = await repo.count_time_requests(conn, lot_id, ev.time_round) if ev.time_limit else 0
    needed = _extension_needed(ev.committee_size)
    due = ev.time_limit is not None and requests >= needed
    return TimeStatus(time_limit=ev.time_limit, requests=requests, committee_size=ev.committee_size, needed=needed,
                      extension_due=due, open=ev.time_limit is None or clock.now() < ev.time_limit or due)


async def _require_time(conn: asyncpg.Connection, clock: Clock, ev) -> None:
    """Scoring happens within the evaluation time; a limit the members asked to extend does not bind until the
    agency has extended it (招标投标法实施条例 第四十八条第二款)."""
    status = await time_status(conn, clock, ev.lot_id, ev)
    if not status.open:
        raise EvaluationTimeOver(
            f"评标时间已于 {ev.time_limit.isoformat()} 截止 (the evaluation time ended); if it is not enough, more than"
            f" a third of the members ({status.needed} of {status.committee_size}) can say so and the agency must"
            " extend it (招标投标法实施条例 第四十八条)", time_limit=ev.time_limit.isoformat())


async def set_time_limit(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: TimeLimitIn, *, actor: User,
                         addr: str | None = None) -> TimeStatus:
    """The agency sets the evaluation time, or extends it: a new limit is always later than the last one."""
    lot = await _lot(conn, lot_id)
    _require_agency(actor, lot)
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "scoring":
        raise EvaluationStateWrong("the evaluation time applies while the members score")
    now = clock.now()
    until = data.until
    if until.tzinfo is None:
        raise TimeLimitInvalid("give the time with its offset, e.g. 2026-12-08T17:00:00+08:00", field="until")
    if until <= now:
        raise TimeLimitInvalid("the evaluation time must end in the future", field="until")
    if not within_horizon(until, now):
        # A limit can only be extended, so one past any sensible date (or past what can be shown in Asia/Shanghai)
        # could never be corrected.
        raise TimeLimitInvalid("the evaluation time must end within ten years", field="until")
    if ev.time_limit is not None and until <= ev.time_limit:
        raise TimeLimitInvalid(f"the evaluation time can only be extended: it ends at {ev.time_limit.isoformat()}",
                               field="until")
    before = await time_status(conn, clock, lot_id, ev)
    round_ = await repo.set_time_limit(conn, lot_id, until)
    await append_entry(conn, clock, Tag.EVALUATION_TIME_SET, actor=str(actor.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "until": until.isoformat(), "round": round_,
                             "previous": ev.time_limit.isoformat() if ev.time_limit else None,
                             "requests": before.requests, "extension_due": before.extension_due,
                             "reason": _text(data.reason, "reason", max_len=2000, required=False)})
    return await time_status(conn, clock, lot_id)


async def request_more_time(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: TimeRequestIn, *,
                            user: User, addr: str | None = None) -> TimeStatus:
    """A member says the evaluation time is not enough; once more than a third have, the agency must extend it."""
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    member = await _member(conn, lot_id, user)
    if ev.status != "scoring":
        raise EvaluationStateWrong("the evaluation time applies while the members score")
    if ev.time_limit is None:
        raise NoTimeLimit("no evaluation time is set for this lot, so there is nothing to extend")
    reason = _text(data.reason, "reason", max_len=2000)
    if not await repo.insert_time_request(conn, lot_id, ev.time_round, member.expert_id, reason, clock.now()):
        raise TimeAlreadyRequested("you have already said the time is not enough; the agency has not set a new one")
    status = await time_status(conn, clock, lot_id, ev)
    await append_entry(conn, clock, Tag.EVALUATION_TIME_REQUEST, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "expert": str(member.expert_id), "round": ev.time_round,
                             "requests": status.requests, "needed": status.needed,
                             "extension_due": status.extension_due})
    return status


# ------------------------------------------------------------------------------------ declaration, replacement

async def declare(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: DeclarationIn, *, user: User,
                  addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """回避声明, before seeing any bid. A member who declares a conflict is replaced from the alternates
    (招标投标法实施条例 第四十六条) and leaves the committee."""
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status not in ("scoring", "review"):
        raise EvaluationStateWrong("declarations are signed while the committee is scoring")
    member = await _member(conn, lot_id, user, clock, src)
    if await repo.find_declaration(conn, lot_id, member.expert_id):
        raise DeclarationAlreadySigned("you have already signed your declaration for this lot")
    statement = _text(data.statement, "statement", required=data.conflict)
    now = clock.now()
    digest = _sha256(_canonical({"lot": str(lot_id), "expert": str(member.expert_id), "conflict": data.conflict,
                                 "statement": statement}))
    await repo.insert_declaration(conn, lot_id, member.expert_id, conflict=data.conflict, statement=statement,
                                  statement_sha256=digest, now=now, addr=addr)
    await append_entry(conn, clock, Tag.EVALUATION_DECLARATION_SIGN, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "expert": str(member.expert_id),
                                                       "conflict": data.conflict, "statement_sha256": digest})
    result: dict[str, Any] = {"expert_id": str(member.expert_id), "conflict": data.conflict}
    if data.conflict:
        new = await _replace(conn, clock, ev, member, reason=f"回避: {statement}", actor=str(user.id), addr=addr,
                             src=src)
        result["replaced_by"] = str(new) if new else None
    return result


async def replace_member(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, expert_id: UUID, *, reason: str,
                         actor: User, addr: str | None = None,
                         src: sources.Sources | None = None) -> dict[str, Any]:
    """The agency replaces a member for a statutory reason found later (招标投标法实施条例 第四十六条)."""
    lot = await _lot(conn, lot_id)
    _require_agency(actor, lot)
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    member = await repo.find_member(conn, lot_id, expert_id)
    if member is None or member.status != "active":
        raise MemberRequired("that expert is not an active member of this committee")
    new = await _replace(conn, clock, ev, member, reason=_text(reason, "reason", max_len=500), actor=str(actor.id),
                         addr=addr, src=src)
    return {"replaced": str(expert_id), "replaced_by": str(new) if new else None}


async def _replace(conn, clock, ev, member: Member, *, reason: str, actor: str, addr, src) -> UUID | None:
    """The alternate comes from the expert pool's draw order (招标投标法实施条例 第四十六条); it sits once it has
    confirmed. With the pool exhausted the seat stays empty and the evaluation cannot complete (87号令 第四十九条:
    stop and seal) until the agency acts."""
    if ev.status not in ("scoring", "review"):
        raise EvaluationStateWrong("members are replaced only before the report is drafted")
    src = src or sources.current
    alternate = await src.replace_member(conn, clock, ev.lot_id, member.expert_id, reason=reason, actor=actor)
    now = clock.now()
    await repo.set_member_replaced(conn, ev.lot_id, member.expert_id, reason=reason,
                                   by=alternate.expert_id if alternate else None, now=now)
    await repo.clear_votes_for(conn, ev.lot_id, member.expert_id)
    await repo.set_chair_vote(conn, ev.lot_id, member.expert_id, None)
    if ev.chair_expert_id == member.expert_id:
        await repo.set_chair(conn, ev.lot_id, None)
    await append_entry(conn, clock, Tag.EVALUATION_MEMBER_REPLACE, actor=actor, tender_id=ev.tender_id,
                       lot_id=ev.lot_id, addr=addr,
                       body={"lot": str(ev.lot_id), "expert": str(member.expert_id),
                             "replacement": str(alternate.expert_id) if alternate else None,
                             "reason_sha256": _sha256(reason)})
    # 招标投标法实施条例 第四十八条: the replaced member's scores are void; the new member scores everything.
    if await repo.set_sheet_void(conn, ev.lot_id, member.expert_id):
        await append_entry(conn, clock, Tag.EVALUATION_SCORE_VOID, actor=actor, tender_id=ev.tender_id,
                           lot_id=ev.lot_id, addr=addr, body={"lot": str(ev.lot_id), "expert": str(member.expert_id)})
    if ev.status == "review":
        # The table was visible to a committee that no longer sits: hide it until the new member submits.
        await repo.void_open_flags(conn, ev.lot_id)
        await repo.delete_results(conn, ev.lot_id)
        await repo.set_evaluation_status(conn, ev.lot_id, "scoring", revealed_at=None)
    await _sync_committee(conn, clock, ev.lot_id, src)
    return alternate.expert_id if alternate else None


# ------------------------------------------------------------------------------------------------------ chair

async def vote_chair(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, candidate: UUID, *, user: User,
                     addr: str | None = None) -> dict[str, Any]:
    """Members elect the chair (评标委员会负责人): a strict majority of the sitting members' votes elects."""
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status not in ("scoring", "review"):
        raise EvaluationStateWrong("the chair is chosen before the report is drafted")
    member = await _member(conn, lot_id, user)
    target = await repo.find_member(conn, lot_id, candidate)
    if target is None or target.status != "active":
        raise MemberRequired("the candidate is not a sitting member of this committee")
    await repo.set_chair_vote(conn, lot_id, member.expert_id, candidate)
    await append_entry(conn, clock, Tag.EVALUATION_CHAIR_VOTE, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "expert": str(member.expert_id),
                                                       "candidate": str(candidate)})
    members = await repo.list_members(conn, lot_id, active_only=True)
    votes = sum(1 for m in members if m.chair_vote == candidate)
    elected = votes * 2 > len(members)
    if elected and ev.chair_expert_id != candidate:
        await _set_chair(conn, clock, ev, candidate, actor=str(user.id), addr=addr, how="elected")
    return {"candidate": str(candidate), "votes": votes, "members": len(members), "elected": elected}


async def appoint_chair(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, expert_id: UUID, *, actor: User,
                        addr: str | None = None) -> dict[str, Any]:
    lot = await _lot(conn, lot_id)
    _require_agency(actor, lot)
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status not in ("scoring", "review"):
        raise EvaluationStateWrong("the chair is chosen before the report is drafted")
    target = await repo.find_member(conn, lot_id, expert_id)
    if target is None or target.status != "active":
        raise MemberRequired("the chair must be a sitting member of this committee")
    await _set_chair(conn, clock, ev, expert_id, actor=str(actor.id), addr=addr, how="appointed")
    return {"chair": str(expert_id)}


async def _set_chair(conn, clock, ev, expert_id: UUID, *, actor: str, addr, how: str) -> None:
    await repo.set_chair(conn, ev.lot_id, expert_id)
    await append_entry(conn, clock, Tag.EVALUATION_CHAIR_SET, actor=actor, tender_id=ev.tender_id, lot_id=ev.lot_id,
                       addr=addr, body={"lot": str(ev.lot_id), "chair": str(expert_id), "how": how})


# ------------------------------------------------------------------------------------------------- bid access

async def _bids(conn, lot_id: UUID, src=None) -> list[BidView]:
    """The opened bids as the committee evaluates them: a price the bidder confirmed corrected (87号令 第五十九条)
    replaces the price as opened."""
    bids = await (src or sources.current).opened_bids(conn, lot_id)
    corrected = {r["bid_id"]: r["corrected_fen"] for r in await repo.list_price_corrections(conn, lot_id)
                 if r["decision"] == "confirmed"}
    if not corrected:
        return bids
    return [msgspec.structs.replace(b, price_fen=corrected[b.bid_id]) if b.bid_id in corrected else b for b in bids]


async def _reader(conn, lot_id: UUID, user: User) -> tuple[Any, Member]:
    """Experts read bids of their own lot, during evaluation only, after their declaration (电子 第三十三条)."""
    lot = await _lot(conn, lot_id)
    if lot.status != "evaluation":
        raise LotNotEvaluating("bids are readable by the committee during evaluation only")
    ev = await repo.get_evaluation(conn, lot_id)
    member = await _member(conn, lot_id, user)
    await _declared(conn, lot_id, member)
    return ev, member


async def read_bids(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, *, user: User, addr: str | None = None,
                    src: sources.Sources | None = None) -> list[BidView]:
    ev, member = await _reader(conn, lot_id, user)
    bids = await _bids(conn, lot_id, src)
    now = clock.now()
    for b in bids:
        await repo.insert_access(conn, lot_id, member.expert_id, b.bid_id, "form", now, addr)
    return bids


async def download_attachment(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, bid_id: UUID, sha256: str, *,
                              user: User, blobs, addr: str | None = None,
                              src: sources.Sources | None = None) -> tuple[str, bytes]:
    ev, member = await _reader(conn, lot_id, user)
    bid = next((b for b in await _bids(conn, lot_id, src) if b.bid_id == bid_id), None)
    if bid is None:
        raise BidNotFound(f"bid {bid_id} is not an opened bid of this lot")
    att = next((a for a in bid.attachments if a.get("sha256") == sha256), None)
    if att is None:
        raise AttachmentNotFound("no such attachment in this bid")
    data = blobs.get_bytes(sha256)
    await repo.insert_access(conn, lot_id, member.expert_id, bid_id, sha256, clock.now(), addr)
    await append_entry(conn, clock, Tag.EVALUATION_ATTACHMENT_DOWNLOAD, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "expert": str(member.expert_id),
                                                       "bid": str(bid_id), "sha256": sha256})
    return str(att.get("name") or sha256), data


# ----------------------------------------------------------------------------------------------------- sheets

def _sheet_from_rows(expert_id: UUID, scores, marks, *, comments: bool = True) -> scoring.Sheet:
    return scoring.Sheet(
        expert_id=str(expert_id),
        points={(r["bid_id"], r["item_id"]): r["points"] for r in scores},
        marks={(r["bid_id"], r["criterion_id"]): r["passed"] for r in marks},
        comments={**{(r["bid_id"], r["item_id"]): r["comment"] for r in scores if r["comment"]},
                  **{(r["bid_id"], r["criterion_id"]): r["comment"] for r in marks if r["comment"]}}
        if comments else {})


async def _sheets(conn, lot_id: UUID, expert_ids: list[UUID], *,
                  comments: bool = True) -> dict[UUID, scoring.Sheet]:
    if not comments:
        score_rows, mark_rows = await repo.list_sheet_arrays(conn, lot_id, expert_ids)
        points = {r["expert_id"]: dict(zip(zip(r["bids"], r["items"]), map(Decimal, r["points"])))
                  for r in score_rows}
        marks_ = {r["expert_id"]: dict(zip(zip(r["bids"], r["criteria"]), r["passed"])) for r in mark_rows}
        return {e: scoring.Sheet(expert_id=str(e), points=points.get(e, {}), marks=marks_.get(e, {}))
                for e in expert_ids}
    scores, marks = await repo.list_sheet_rows(conn, lot_id, expert_ids, comments=comments)
    by_s: dict[UUID, list] = {e: [] for e in expert_ids}
    by_m: dict[UUID, list] = {e: [] for e in expert_ids}
    for r in scores:
        by_s[r["expert_id"]].append(r)
    for r in marks:
        by_m[r["expert_id"]].append(r)
    return {e: _sheet_from_rows(e, by_s[e], by_m[e], comments=comments) for e in expert_ids}


def _problems(problems: list[scoring.Problem]) -> list[dict[str, Any]]:
    return [{"code": p.code, "message": p.message, "bid_id": p.bid_id, "target": p.item_id} for p in problems]


async def save_sheet(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: SheetIn, *, user: User,
                     addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """Save (part of) the expert's own sheet. Drafts are private working state; the submission is witnessed
    with a hash over every value."""
    ev, member = await _reader(conn, lot_id, user)
    if ev.status != "scoring":
        raise SheetLocked("scoring is closed")
    await _require_time(conn, clock, ev)
    sheet = await repo.find_sheet(conn, lot_id, member.expert_id, lock=True)
    if sheet is not None and sheet["status"] != "draft":
        raise SheetLocked("your sheet is submitted and locked (政府采购货物和服务招标投标管理办法 第六十四条)")
    lot = await _lot(conn, lot_id)
    scheme, _ = await _scheme_for(conn, lot)
    bids = [scoring.Bid(str(b.bid_id), b.price_fen) for b in await _bids(conn, lot_id, src)]
    scores = [(s.bid_id, s.item_id, _decimal(s.points, f"{s.bid_id}/{s.item_id}"), s.comment.strip())
              for s in data.scores]
    marks = [(m.bid_id, m.criterion_id, m.passed, m.comment.strip()) for m in data.marks]
    partial = scoring.Sheet(expert_id=str(member.expert_id),
                            points={(str(b), i): p for b, i, p, _ in scores},
                            marks={(str(b), c): ok for b, c, ok, _ in marks},
                            comments={**{(str(b), i): c for b, i, _, c in scores},
                                      **{(str(b), c): t for b, c, _, t in marks}})
    problems = scoring.sheet_problems(scheme, bids, partial, complete=False)
    if problems:
        raise SheetInvalid(problems[0].message if len(problems) == 1 else f"{len(problems)} problems in the sheet",
                           problems=_problems(problems))
    await repo.ensure_sheet(conn, lot_id, member.expert_id, clock.now())
    await repo.upsert_scores(conn, lot_id, member.expert_id, scores)
    await repo.upsert_marks(conn, lot_id, member.expert_id, marks)
    return await my_sheet(conn, lot_id, user=user, src=src)


async def my_sheet(conn: asyncpg.Connection, lot_id: UUID, *, user: User,
                   src: sources.Sources | None = None) -> dict[str, Any]:
    """The expert's own sheet — never anyone else's before every member has submitted."""
    member = await _member(conn, lot_id, user)
    sheet = await repo.find_sheet(conn, lot_id, member.expert_id)
    scores, marks = await repo.list_sheet_rows(conn, lot_id, [member.expert_id])
    lot = await _lot(conn, lot_id)
    scheme, _ = await _scheme_for(conn, lot)
    bids = [scoring.Bid(str(b.bid_id), b.price_fen) for b in await _bids(conn, lot_id, src)]
    missing = scoring.sheet_problems(scheme, bids, _sheet_from_rows(member.expert_id, scores, marks), complete=True)
    return {
        "expert_id": str(member.expert_id), "status": sheet["status"] if sheet else "draft",
        "submitted_at": sheet["submitted_at"].isoformat() if sheet and sheet["submitted_at"] else None,
        "scores": [{"bid_id": str(r["bid_id"]), "item_id": r["item_id"], "points": str(r["points"]),
                    "comment": r["comment"]} for r in scores],
        "marks": [{"bid_id": str(r["bid_id"]), "criterion_id": r["criterion_id"], "passed": r["passed"],
                   "comment": r["comment"]} for r in marks],
        "remaining": len(missing),
    }


def _sheet_digest(lot_id: UUID, sheet: scoring.Sheet) -> str:
    return _sha256(_canonical({
        "lot": str(lot_id), "expert": sheet.expert_id,
        "points": sorted([b, i, str(p), sheet.comments.get((b, i), "")] for (b, i), p in sheet.points.items()),
        "marks": sorted([b, c, ok, sheet.comments.get((b, c), "")] for (b, c), ok in sheet.marks.items())}))


async def submit_sheet(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, *, user: User,
                       addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """Submit and lock the sheet: every criterion marked, every item scored, within range, comments where
    required. When the last sitting member submits, the table is computed and revealed to the committee."""
    ev, member = await _reader(conn, lot_id, user)
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "scoring":
        raise SheetLocked("scoring is closed")
    await _require_time(conn, clock, ev)
    row = await repo.find_sheet(conn, lot_id, member.expert_id, lock=True)
    if row is not None and row["status"] != "draft":
        raise SheetLocked("your sheet is already submitted and locked")
    lot = await _lot(conn, lot_id)
    scheme, _ = await _scheme_for(conn, lot)
    bids = await _bids(conn, lot_id, src)
    sheet = (await _sheets(conn, lot_id, [member.expert_id]))[member.expert_id]
    problems = scoring.sheet_problems(scheme, [scoring.Bid(str(b.bid_id), b.price_fen) for b in bids], sheet,
                                      complete=True)
    if problems:
        raise SheetInvalid(f"the sheet is not complete: {len(problems)} problems ({problems[0].message})",
                           problems=_problems(problems[:50]))
    now = clock.now()
    digest = _sheet_digest(lot_id, sheet)
    await repo.ensure_sheet(conn, lot_id, member.expert_id, now)
    await repo.set_sheet_submitted(conn, lot_id, member.expert_id, digest, now)
    await append_entry(conn, clock, Tag.EVALUATION_SCORE_SUBMIT, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "expert": str(member.expert_id),
                                                       "sheet_sha256": digest})
    revealed = await _reveal_when_complete(conn, clock, ev, lot_id, src=src, actor=str(user.id), addr=addr)
    return {"status": "submitted", "sheet_sha256": digest, "revealed": revealed}


async def _reveal_when_complete(conn, clock, ev, lot_id: UUID, *, src, actor: str, addr) -> bool:
    """Compute and reveal the results once every sitting member has submitted and no price correction still
    awaits its bidder's decision (the price score needs the final prices)."""
    members = await repo.list_members(conn, lot_id, active_only=True)
    statuses = await repo.list_sheet_statuses(conn, lot_id)
    complete = len(members) == ev.committee_size and all(statuses.get(m.expert_id) == "submitted" for m in members)
    if not complete or await repo.count_pending_price_corrections(conn, lot_id):
        return False
    lot = await _lot(conn, lot_id)
    scheme, _ = await _scheme_for(conn, lot)
    await _reveal(conn, clock, ev, lot, scheme, await _bids(conn, lot_id, src), members, actor=actor, addr=addr)
    return True


RELATED_BIDDERS = "related_bidders"  # the failure's criterion id when 条例 第三十四条 makes bids invalid
CONSORTIUM_AGREEMENT = "consortium_agreement"  # … and when 条例 第五十一条(二) does


def consortium_agreement_ok(bid: BidView) -> bool:
    """False for a consortium bid whose sealed form names no joint bidding agreement (共同投标协议) among its opened
    attachments (招标投标法实施条例 第五十一条(二)); True for any other bid. The sealing tools refuse to seal one
    (trading/bids/package.write_package); this catches a bid sealed by other means."""
    if not bid.form.get("consortium"):
        return True
    name = bid.form.get("consortium_agreement")
    return bool(name) and any(a.get("name") == name for a in bid.attachments)


async def bidder_relations(conn, bids: list[BidView]) -> list[dict[str, Any]]:
    """Relations between the bidders of the lot that make bids invalid or need the committee's look:
    control/management by credit code invalidates (条例 第三十四条); the same name as 单位负责人 is shown to verify;
    a consortium member that also bids alone or in another consortium invalidates every bid concerned
    (条例 第三十七条), from the consortium members each sealed form declares."""
    from trading.accounts import repository as accounts
    from trading.accounts.relations import find_relations

    bids_of: dict[UUID, list[str]] = {}
    for b in bids:
        bids_of.setdefault(b.bidder_org_id, []).append(str(b.bid_id))
    orgs = await accounts.get_organisations(conn, list(bids_of))
    out = [{"kind": r.kind, "detail": r.detail, "invalidates": r.kind == "control",
            "bids": sorted(bid for org in r.org_ids for bid in bids_of.get(org, []))}
           for r in find_relations(orgs)]
    code_of = {o.id: o.credit_code for o in orgs}
    name_of = {o.credit_code: o.name for o in orgs}
    # Every bid a member takes part in: as the bidder itself, or named in a consortium bid's form.
    takes_part: dict[str, list[BidView]] = {}
    for b in bids:
        for code in {code_of.get(b.bidder_org_id), *(b.form.get("consortium") or [])} - {None}:
            takes_part.setdefault(code, []).append(b)
    for code, group in sorted(takes_part.items()):
        if len(group) > 1 and any(b.form.get("consortium") for b in group):
            out.append({"kind": "consortium", "invalidates": True, "bids": sorted(str(b.bid_id) for b in group),
                        "detail": f"{name_of.get(code, code)}（{code}）以自己名义单独投标或参加多个联合体投标："
                                  + "、".join(b.bidder_name for b in group)})
    return out


# 87号令 第六十条: a price "clearly lower" than the other compliant bids' may affect quality or performance: the
# committee asks for a written explanation (a clarification) and treats the bid as invalid if the price is not
# shown to be reasonable. The regulation sets no figure; the platform points at prices below this share of the
# mean of the other valid bids (a platform policy, shown as such).
LOW_PRICE_SHARE = Decimal("0.8")


def low_prices(prices: dict[str, int]) -> list[dict[str, Any]]:
    """Valid bids priced below LOW_PRICE_SHARE × the mean of the other valid bids, for the committee to look at."""
    out = []
    for bid_id, price in sorted(prices.items()):
        others = [p for b, p in prices.items() if b != bid_id]
        if others and price * len(others) < LOW_PRICE_SHARE * sum(others):
            out.append({"bid_id": bid_id, "price_fen": price, "others_mean_fen": sum(others) // len(others)})
    return out


async def _outcome(conn, lot_id: UUID, scheme: scoring.Scheme, bids: list[BidView],
                   members: list[Member]) -> tuple[scoring.Outcome, dict[UUID, scoring.Sheet]]:
    sheets = await _sheets(conn, lot_id, [m.expert_id for m in members], comments=False)
    # 招标投标法实施条例 第三十四条、第三十七条: bids of units in a control or management relationship, and of a
    # consortium member that also bids alone or in another consortium, are all invalid.
    failure = scoring.Failure(RELATED_BIDDERS, "bidder_unqualified", 0, len(sheets))
    relations = await bidder_relations(conn, bids)
    excluded = {bid: [failure] for rel in relations if rel["invalidates"] for bid in rel["bids"]}
    for bid, why in (await _price_correction_failures(conn, lot_id, len(sheets))).items():
        excluded.setdefault(bid, []).extend(why)
    # 招标投标法实施条例 第五十一条(二): a consortium bid without its joint bidding agreement is rejected.
    for b in bids:
        if not consortium_agreement_ok(b):
            excluded.setdefault(str(b.bid_id), []).append(
                scoring.Failure(CONSORTIUM_AGREEMENT, "consortium_agreement_missing", 0, len(sheets)))
    outcome = scoring.aggregate(scheme, [scoring.Bid(str(b.bid_id), b.price_fen) for b in bids],
                                list(sheets.values()), with_expert_totals=False, excluded=excluded)
    return outcome, sheets


async def _store_outcome(conn, lot_id: UUID, outcome: scoring.Outcome) -> str:
    rows = []
    for r in outcome.results:
        rows.append((UUID(r.bid_id), r.valid, [msgspec.to_builtins(f) for f in r.failures], r.price_fen,
                     _four(r.price_score), _four(r.technical), _four(r.commercial), _four(r.total), r.rank, r.tied))
    await repo.replace_results(conn, lot_id, rows)
    return _sha256(_canonical([[str(x) for x in row] for row in rows]))


async def _reveal(conn, clock, ev, lot, scheme, bids, members, *, actor: str, addr) -> None:
    outcome, sheets = await _outcome(conn, lot.id, scheme, bids, members)
    valid_ids = [r.bid_id for r in outcome.valid]
    found = scoring.outliers(scheme, valid_ids, list(sheets.values()))
    await repo.insert_flags(conn, lot.id, [(UUID(o.expert_id), UUID(o.bid_id), o.item_id, o.points,
                                            _four(o.others_mean), o.max_points) for o in found], clock.now())
    digest = await _store_outcome(conn, lot.id, outcome)
    await repo.set_evaluation_status(conn, lot.id, "review", revealed_at=clock.now())
    await append_entry(conn, clock, Tag.EVALUATION_RESULT_COMPUTE, actor=actor, tender_id=ev.tender_id,
                       lot_id=lot.id, addr=addr,
                       body={"lot": str(lot.id), "results_sha256": digest, "valid": len(valid_ids),
                             "invalid": len(outcome.results) - len(valid_ids), "flags": len(found),
                             "ranking": valid_ids[:MAX_CANDIDATES]})


# ------------------------------------------------------------------------------------------- committee table

async def _committee_view_allowed(conn, lot_id: UUID, user: User) -> tuple[Any, Member | None]:
    ev = await repo.get_evaluation(conn, lot_id)
    member = await repo.find_active_member_by_user(conn, lot_id, user.id)
    lot = await _lot(conn, lot_id)
    is_agency = user.has(Role.ADMIN, Role.REGULATOR) or (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id)
    if member is None and not is_agency:
        raise MemberRequired("only the committee, the agency and regulators see the evaluation table")
    if ev.status == "scoring":
        # 87号令 第五十五条, 第六十二条: each member evaluates independently; nobody sees others' scores before
        # every member has submitted.
        raise ScoresHidden("the table is shown once every member has submitted")
    return ev, member


async def committee_table(conn: asyncpg.Connection, lot_id: UUID, *, user: User,
                          src: sources.Sources | None = None) -> dict[str, Any]:
    ev, _ = await _committee_view_allowed(conn, lot_id, user)
    return await _table(conn, lot_id, ev, src=src)


async def _table(conn, lot_id: UUID, ev, *, src=None, with_sheets: bool = True) -> dict[str, Any]:
    lot = await _lot(conn, lot_id)
    scheme, scheme_row = await _scheme_for(conn, lot)
    bids = {b.bid_id: b for b in await _bids(conn, lot_id, src)}
    members = await repo.list_members(conn, lot_id)
    active = [m for m in members if m.status == "active"]
    results = await repo.list_results(conn, lot_id)
    sheets = await _sheets(conn, lot_id, [m.expert_id for m in active]) if with_sheets else {}
    flags = await repo.list_flags(conn, lot_id)
    corrections = await repo.list_corrections(conn, lot_id)
    names = {m.expert_id: m.name for m in members}
    relations = await bidder_relations(conn, list(bids.values()))
    return {
        "relations": relations,
        "low_prices": low_prices({str(r["bid_id"]): r["price_fen"] for r in results if r["valid"]}),
        "lot_id": str(lot_id), "status": ev.status, "method": ev.method,
        "chair": str(ev.chair_expert_id) if ev.chair_expert_id else None,
        "members": [{"expert_id": str(m.expert_id), "name": m.name, "status": m.status,
                     "replaced_reason": m.replaced_reason, "replaced_by": str(m.replaced_by) if m.replaced_by else None}
                    for m in members],
        "scheme": {"items": [{"id": i.id, "name": i.name, "group": i.group, "max_points": str(i.max_points)}
                             for i in scheme.items],
                   "criteria": [{"id": c.id, "name": c.name, "reason_code": c.reason_code} for c in scheme.criteria],
                   "weights": {"technical": str(scheme.technical_weight), "commercial": str(scheme.commercial_weight),
                               "price": str(scheme.price_weight)},
                   "outlier_share": str(scheme.outlier_share), "scheme_sha256": scheme_row["scheme_sha256"]},
        "results": [{"bid_id": str(r["bid_id"]), "bidder_name": bids[r["bid_id"]].bidder_name if r["bid_id"] in bids
                     else "", "bidder_org_id": str(bids[r["bid_id"]].bidder_org_id) if r["bid_id"] in bids else None,
                     "price_fen": r["price_fen"], "duration_days": bids[r["bid_id"]].duration_days
                     if r["bid_id"] in bids else None, "valid": r["valid"], "failures": r["failures"],
                     "price_score": _disp(r["price_score"]), "technical": _disp(r["technical"]),
                     "commercial": _disp(r["commercial"]), "total": _disp(r["total"]), "rank": r["rank"],
                     "tied": r["tied"]} for r in results],
        "sheets": [{"expert_id": str(e), "name": names[e],
                    "points": [[b, i, str(p)] for (b, i), p in sorted(s.points.items())],
                    "marks": [[b, c, ok, s.comments.get((b, c), "")] for (b, c), ok in sorted(s.marks.items())]}
                   for e, s in sheets.items()],
        "flags": [{"id": str(f.id), "expert_id": str(f.expert_id), "expert": names.get(f.expert_id, ""),
                   "bid_id": str(f.bid_id), "item_id": f.item_id, "points": f.points, "others_mean": f.others_mean,
                   "max_points": f.max_points, "status": f.status, "new_points": f.new_points, "answer": f.answer}
                  for f in flags],
        "corrections": [{"id": str(c["id"]), "expert_id": str(c["expert_id"]), "expert": names.get(c["expert_id"], ""),
                         "bid_id": str(c["bid_id"]), "item_id": c["item_id"], "old_points": str(c["old_points"]),
                         "new_points": str(c["new_points"]), "reason_code": c["reason_code"], "reason": c["reason"]}
                        for c in corrections],
    }


def _disp(value: Decimal | None) -> str | None:
    return None if value is None else str(scoring.display(value))


# ------------------------------------------------------------------------------------------------------ flags

async def answer_flag(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, flag_id: UUID, data: FlagAnswerIn, *,
                      user: User, addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """The flagged expert confirms the score or revises it, in writing (87号令 第六十四条: extreme scores)."""
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "review":
        raise EvaluationStateWrong("flags are answered after every member has submitted, before the report")
    member = await _member(conn, lot_id, user)
    flag = await repo.lock_flag(conn, lot_id, flag_id)
    if flag.expert_id != member.expert_id:
        raise MemberRequired("only the expert whose score is flagged answers the flag")
    if flag.status != "open":
        raise FlagAlreadyAnswered("this flag is already answered")
    reason = _text(data.reason, "reason", max_len=2000)
    new_points = None
    if data.action == "revise":
        new_points = _decimal(data.new_points, "new_points")
        if not (Decimal(0) <= new_points <= Decimal(flag.max_points)) or new_points.as_tuple().exponent < -2:
            raise SheetInvalid(f"new_points must be within 0..{flag.max_points} with at most two decimals",
                               field="new_points")
        await repo.update_score(conn, lot_id, member.expert_id, flag.bid_id, flag.item_id, new_points)
    await repo.answer_flag(conn, flag_id, status="revised" if new_points is not None else "confirmed",
                           answer=reason, new_points=new_points, now=clock.now())
    body: dict[str, Any] = {"lot": str(lot_id), "flag": str(flag_id), "expert": str(member.expert_id),
                            "action": data.action, "points": flag.points, "reason_sha256": _sha256(reason)}
    if new_points is not None:
        body["new_points"] = str(new_points)
        lot = await _lot(conn, lot_id)
        scheme, _ = await _scheme_for(conn, lot)
        members = await repo.list_members(conn, lot_id, active_only=True)
        outcome, _ = await _outcome(conn, lot_id, scheme, await _bids(conn, lot_id, src), members)
        body["results_sha256"] = await _store_outcome(conn, lot_id, outcome)
    await append_entry(conn, clock, Tag.EVALUATION_FLAG_ANSWER, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr, body=body)
    return {"flag_id": str(flag_id), "status": "revised" if new_points is not None else "confirmed"}


async def correct_score(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: CorrectionIn, *, user: User,
                        addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """Once totalled, a score changes only for an adding-up error, a score out of range, inconsistent objective
    scores or an extreme score — by the expert who gave it, with the reason, logged
    (政府采购货物和服务招标投标管理办法 第六十四条). The results are recomputed."""
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "review":
        raise EvaluationStateWrong("scores are corrected after every member has submitted, before the report")
    member = await _member(conn, lot_id, user)
    old = await repo.find_score(conn, lot_id, member.expert_id, data.bid_id, data.item_id)
    if old is None:
        raise SheetInvalid("you gave no score for that bid and item", field="item_id")
    lot = await _lot(conn, lot_id)
    scheme, _ = await _scheme_for(conn, lot)
    item = next(i for i in scheme.items if i.id == data.item_id)
    new = _decimal(data.new_points, "new_points")
    if not (Decimal(0) <= new <= item.max_points) or new.as_tuple().exponent < -2:
        raise SheetInvalid(f"new_points must be within 0..{item.max_points} with at most two decimals",
                           field="new_points")
    reason = _text(data.reason, "reason", max_len=2000)
    await repo.update_score(conn, lot_id, member.expert_id, data.bid_id, data.item_id, new)
    correction = await repo.insert_correction(conn, lot_id, member.expert_id, data.bid_id, data.item_id,
                                              old_points=old, new_points=new, reason_code=data.reason_code,
                                              reason=reason, now=clock.now())
    members = await repo.list_members(conn, lot_id, active_only=True)
    outcome, _ = await _outcome(conn, lot_id, scheme, await _bids(conn, lot_id, src), members)
    digest = await _store_outcome(conn, lot_id, outcome)
    await append_entry(conn, clock, Tag.EVALUATION_SCORE_CORRECT, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "correction": str(correction), "expert": str(member.expert_id),
                             "bid": str(data.bid_id), "item": data.item_id, "old": str(old), "new": str(new),
                             "reason_code": data.reason_code, "reason_sha256": _sha256(reason),
                             "results_sha256": digest})
    return {"correction_id": str(correction), "old_points": str(old), "new_points": str(new)}


# ------------------------------------------------------------------------------------------- reject, report

async def _chair(conn, lot_id: UUID, user: User, ev) -> Member:
    member = await _member(conn, lot_id, user)
    if ev.chair_expert_id != member.expert_id:
        raise ChairRequired("only the committee's chair may do this")
    return member


# ------------------------------------------------------------------------------------------- clarifications

def _clarification(row) -> Clarification:
    return msgspec.convert({k: row[k] for k in Clarification.__struct_fields__}, Clarification)


async def request_clarification(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: ClarificationIn, *,
                                user: User, addr: str | None = None,
                                src: sources.Sources | None = None) -> Clarification:
    """招标投标法实施条例 第五十二条: the committee asks a bidder in writing (through its chair) to clarify something
    unclear or an obvious error in its bid. The request names no expert."""
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status not in ("scoring", "review"):
        raise EvaluationStateWrong("clarifications are asked while the committee evaluates")
    chair = await _chair(conn, lot_id, user, ev)
    bid = next((b for b in await _bids(conn, lot_id, src) if b.bid_id == data.bid_id), None)
    if bid is None:
        raise BidNotFound("no opened bid of this lot has that id")
    question = _text(data.question, "question", max_len=2000)
    row = await repo.insert_clarification(conn, lot_id, bid.bid_id, bid.bidder_org_id, question, chair.expert_id,
                                          clock.now())
    await append_entry(conn, clock, Tag.EVALUATION_CLARIFICATION_REQUEST, actor=str(user.id),
                       tender_id=ev.tender_id, lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "clarification": str(row["id"]), "bid": str(bid.bid_id),
                             "question_sha256": _sha256(question)})
    return _clarification(row)


async def answer_clarification(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, clarification_id: UUID,
                               data: ClarificationAnswerIn, *, user: User, addr: str | None = None) -> Clarification:
    """The bidder answers in writing, once, while the committee still evaluates. Its answer cannot change the bid:
    it is text beside the sealed bid, never a new price or form (条例 第五十二条)."""
    row = await repo.lock_clarification(conn, lot_id, clarification_id)
    if row is None:
        raise ClarificationNotFound("no such request for clarification on this lot (a bidder cannot volunteer one)")
    if user.org_id != row["org_id"]:
        raise NotYourBid("only the bidder asked may answer")
    if row["answered_at"] is not None:
        raise ClarificationClosed("this request is already answered")
    ev = await repo.get_evaluation(conn, lot_id)
    if ev.status not in ("scoring", "review"):
        raise ClarificationClosed("the committee has finished evaluating")
    answer = _text(data.answer, "answer", max_len=5000)
    row = await repo.answer_clarification(conn, clarification_id, answer, user.id, clock.now())
    await append_entry(conn, clock, Tag.EVALUATION_CLARIFICATION_ANSWER, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "clarification": str(clarification_id),
                             "answer_sha256": _sha256(answer)})
    return _clarification(row)


_NOBODY = object()


async def _exchange_scope(conn, lot_id: UUID, user: User) -> Any:
    """Whose exchanges with the committee (clarifications, price corrections) `user` reads on this lot: None for
    every bidder's (the committee, the lot's agency, regulators), an organisation id for its own, or _NOBODY."""
    lot = await _lot(conn, lot_id)
    if user.has(Role.REGULATOR, Role.ADMIN) or (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id):
        return None
    if user.has(Role.EXPERT) and await repo.find_active_member_by_user(conn, lot_id, user.id):
        return None
    return user.org_id if user.org_id is not None else _NOBODY


async def list_clarifications(conn: asyncpg.Connection, lot_id: UUID, *, user: User) -> list[Clarification]:
    """The committee and the agency read every request and answer; a bidder only those to itself."""
    scope = await _exchange_scope(conn, lot_id, user)
    rows = [] if scope is _NOBODY else await repo.list_clarifications(conn, lot_id, org_id=scope)
    return [_clarification(r) for r in rows]


# ---------------------------------------------------------------------------------------- price corrections

PRICE_CORRECTION = "price_correction"  # the failure's criterion id when a correction makes a bid invalid


def _price_correction(row) -> PriceCorrection:
    return PriceCorrection(
        id=row["id"], lot_id=row["lot_id"], bid_id=row["bid_id"], org_id=row["org_id"], rule=row["rule"],
        explanation=row["explanation"], opened_price_yuan=fen_to_yuan(row["opened_fen"]),
        corrected_price_yuan=fen_to_yuan(row["corrected_fen"]), proposed_at=row["proposed_at"],
        decision=row["decision"], decided_at=row["decided_at"])


async def _price_correction_failures(conn, lot_id: UUID, experts: int) -> dict[str, list[scoring.Failure]]:
    """Bids made invalid by a correction: the bidder did not confirm it (第五十九条第二款), or the corrected price
    passes the lot's maximum price (条例 第五十一条)."""
    lot = await _lot(conn, lot_id)
    out: dict[str, list[scoring.Failure]] = {}
    for r in await repo.list_price_corrections(conn, lot_id):
        if r["decision"] == "refused":
            out.setdefault(str(r["bid_id"]), []).append(
                scoring.Failure(PRICE_CORRECTION, "price_correction_refused", 0, experts))
        elif r["decision"] == "confirmed" and lot.max_price_fen is not None and r["corrected_fen"] > lot.max_price_fen:
            out.setdefault(str(r["bid_id"]), []).append(
                scoring.Failure(PRICE_CORRECTION, "price_below_cost_or_above_max", 0, experts))
    return out


async def propose_price_correction(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: PriceCorrectionIn, *,
                                   user: User, addr: str | None = None,
                                   src: sources.Sources | None = None) -> PriceCorrection:
    """The chair records the committee's correction of an inconsistent price by a fixed rule, while the members
    score (the results wait for the bidder's decision). The bidder is asked to confirm it in writing."""
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "scoring":
        raise EvaluationStateWrong("prices are corrected while the members score, before the results are computed")
    chair = await _chair(conn, lot_id, user, ev)
    bid = next((b for b in await (src or sources.current).opened_bids(conn, lot_id) if b.bid_id == data.bid_id), None)
    if bid is None:
        raise BidNotFound("no opened bid of this lot has that id")
    if data.rule not in scoring.PRICE_RULES:
        raise PriceCorrectionInvalid(f"rule must be one of {', '.join(scoring.PRICE_RULES)} (政府采购货物和服务招标投标管理办法 "
                                     "第五十九条); the other rules keep the price as opened", field="rule")
    corrected = yuan_to_fen(data.corrected_price_yuan, "corrected_price_yuan")
    if corrected <= 0:
        raise PriceCorrectionInvalid("the corrected price must be positive", field="corrected_price_yuan")
    if corrected == bid.price_fen:
        raise PriceCorrectionInvalid("the corrected price is the price as opened: nothing to correct",
                                     field="corrected_price_yuan")
    explanation = _text(data.explanation, "explanation", max_len=2000)
    row = await repo.insert_price_correction(conn, lot_id, bid.bid_id, bid.bidder_org_id, data.rule, explanation,
                                             bid.price_fen, corrected, chair.expert_id, clock.now())
    if row is None:
        raise PriceCorrectionExists("this bid's price is already corrected (several inconsistencies are corrected "
                                    "in the rules' order into one price)")
    await append_entry(conn, clock, Tag.EVALUATION_PRICE_CORRECT, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "correction": str(row["id"]), "bid": str(bid.bid_id),
                             "rule": data.rule, "opened_fen": bid.price_fen, "corrected_fen": corrected,
                             "explanation_sha256": _sha256(explanation)})
    return _price_correction(row)


async def decide_price_correction(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, correction_id: UUID,
                                  data: PriceCorrectionDecisionIn, *, user: User, addr: str | None = None,
                                  src: sources.Sources | None = None) -> PriceCorrection:
    """The bidder confirms the corrected price (it then binds) or does not (its bid is invalid), once, while the
    committee scores. The last decision, with every sheet in, computes the results."""
    row = await repo.lock_price_correction(conn, lot_id, correction_id)
    if row is None:
        raise PriceCorrectionNotFound("no such price correction on this lot")
    if user.org_id != row["org_id"]:
        raise NotYourBid("only the bidder whose price was corrected may confirm it")
    if row["decision"] is not None:
        raise PriceCorrectionClosed(f"this correction is already {row['decision']}")
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "scoring":
        raise PriceCorrectionClosed("the committee has finished scoring")
    decision = "confirmed" if data.confirm else "refused"
    row = await repo.decide_price_correction(conn, correction_id, decision, user.id, clock.now())
    await append_entry(conn, clock, Tag.EVALUATION_PRICE_DECIDE, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "correction": str(correction_id), "bid": str(row["bid_id"]),
                             "decision": decision})
    await _reveal_when_complete(conn, clock, ev, lot_id, src=src, actor=str(user.id), addr=addr)
    return _price_correction(row)


async def list_price_corrections(conn: asyncpg.Connection, lot_id: UUID, *, user: User) -> list[PriceCorrection]:
    """The committee, the agency and regulators read every correction; a bidder only its own."""
    scope = await _exchange_scope(conn, lot_id, user)
    rows = [] if scope is _NOBODY else await repo.list_price_corrections(conn, lot_id, org_id=scope)
    return [_price_correction(r) for r in rows]


async def reject_all(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, reason: str, *, user: User,
                     addr: str | None = None) -> dict[str, Any]:
    """招标投标法 第四十二条 / 条例 第五十一条: with fewer than three valid bids competition is lacking and the
    committee may reject every bid; the lot fails and is re-tendered."""
    from trading.tenders.lifecycle import transition_lot

    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "review":
        raise EvaluationStateWrong("bids are rejected after every member has submitted, before the report")
    await _chair(conn, lot_id, user, ev)
    reason = _text(reason, "reason", max_len=2000)
    valid = sum(1 for r in await repo.list_results(conn, lot_id) if r["valid"])
    if valid >= 3:
        raise RejectionNotAllowed(f"{valid} valid bids remain; all bids may be rejected only when fewer than three "
                                  "valid bids remain (招标投标法 第四十二条)")
    await repo.set_evaluation_status(conn, lot_id, "rejected", reject_reason=reason)
    await append_entry(conn, clock, Tag.EVALUATION_BIDS_REJECT, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "valid": valid,
                                                       "reason_sha256": _sha256(reason)})
    await transition_lot(conn, clock, lot_id, "failed", actor=str(user.id), reason=f"否决所有投标: {reason}",
                         addr=addr)
    return {"status": "rejected", "valid": valid}


async def draft_report(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, *, user: User,
                       addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """The chair drafts the report once every flag is answered; every member then confirms or dissents."""
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "review":
        raise EvaluationStateWrong("the report is drafted after every member has submitted")
    await _chair(conn, lot_id, user, ev)
    flags = await repo.list_flags(conn, lot_id)
    open_flags = [f for f in flags if f.status == "open"]
    if open_flags:
        raise FlagsOpen(f"{len(open_flags)} outlier flags still await the expert's written answer")
    table = await _table(conn, lot_id, ev, src=src)
    if not any(r["valid"] for r in table["results"]):
        raise RejectionNotAllowed("no valid bid remains: reject all bids instead of drafting a report")
    lot = await _lot(conn, lot_id)
    content = {
        "lot": {"id": str(lot.id), "tender_id": str(lot.tender_id), "tender_code": lot.tender_code,
                "tender_title": lot.tender_title, "number": lot.number, "name": lot.name,
                "regime": lot.regime, "max_price_fen": lot.max_price_fen},
        **{k: table[k] for k in ("method", "chair", "members", "scheme", "results", "sheets", "flags",
                                 "corrections", "relations")},
        # 评标报告: the minutes of the clarifications (招标投标法实施条例 第五十二条)
        "clarifications": [{"bid_id": str(r["bid_id"]), "question": r["question"],
                            "asked_at": r["asked_at"].isoformat(), "answer": r["answer"],
                            "answered_at": r["answered_at"].isoformat() if r["answered_at"] else None}
                           for r in await repo.list_clarifications(conn, lot_id)],
        # 报价修正 and the bidders' decisions (87号令 第五十九条; 评标规定 第十九条)
        "price_corrections": [{"bid_id": str(r["bid_id"]), "rule": r["rule"], "explanation": r["explanation"],
                               "opened_fen": r["opened_fen"], "corrected_fen": r["corrected_fen"],
                               "decision": r["decision"],
                               "decided_at": r["decided_at"].isoformat() if r["decided_at"] else None}
                              for r in await repo.list_price_corrections(conn, lot_id)],
        "candidates": [r for r in table["results"] if r["valid"]][:MAX_CANDIDATES],
        "drafted_at": clock.now().isoformat(),
    }
    digest = _sha256(_canonical(content))
    await repo.insert_report(conn, lot_id, content, digest, user.id, clock.now())
    await repo.set_evaluation_status(conn, lot_id, "report")
    await append_entry(conn, clock, Tag.EVALUATION_REPORT_DRAFT, actor=str(user.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "content_sha256": digest})
    return {"status": "report", "content_sha256": digest,
            "candidates": [c["bid_id"] for c in content["candidates"]]}


async def confirm_report(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: ConfirmIn, *, user: User,
                         settings, addr: str | None = None) -> dict[str, Any]:
    """招标投标法实施条例 第五十三条: every member signs; a member who disagrees records the dissent in writing.
    When the last member has answered, the report PDF is rendered, signed by the platform and archived."""
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "report":
        raise EvaluationStateWrong("there is no drafted report awaiting confirmation")
    member = await _member(conn, lot_id, user)
    dissent = None if data.agrees else _text(data.dissent, "dissent", max_len=5000)
    if not await repo.insert_confirmation(conn, lot_id, member.expert_id, data.agrees, dissent, clock.now()):
        raise ReportAlreadyConfirmed("you have already answered this report")
    report = await repo.find_report(conn, lot_id)
    tag = Tag.EVALUATION_REPORT_CONFIRM if data.agrees else Tag.EVALUATION_REPORT_DISSENT
    body = {"lot": str(lot_id), "expert": str(member.expert_id), "content_sha256": report["content_sha256"]}
    if dissent:
        body["dissent_sha256"] = _sha256(dissent)
    await append_entry(conn, clock, tag, actor=str(user.id), tender_id=ev.tender_id, lot_id=lot_id, addr=addr,
                       body=body)
    members = await repo.list_members(conn, lot_id, active_only=True)
    answers = await repo.list_confirmations(conn, lot_id)
    signed = None
    if all(m.expert_id in answers for m in members):
        signed = await _sign_report(conn, clock, ev, report, members, answers, settings=settings,
                                    actor=str(user.id), addr=addr)
    return {"status": "signed" if signed else "report", "pdf_sha256": signed}


# How long members have to sign or dissent before the agency may close the signing (a platform policy: the
# regulation sets no period, only the consequence).
REPORT_SIGNING_PERIOD = timedelta(hours=2)


async def close_report_signing(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, *, actor: User, settings,
                               addr: str | None = None) -> dict[str, Any]:
    """招标投标法实施条例 第五十三条: a member who refuses to sign without stating a dissent and its reasons in
    writing is deemed to agree. Once REPORT_SIGNING_PERIOD has passed since the draft, the agency closes the
    signing: every member who has not answered is recorded as deemed to agree, and the report is signed."""
    lot = await _lot(conn, lot_id)
    _require_agency(actor, lot)
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "report":
        raise EvaluationStateWrong("there is no drafted report awaiting confirmation")
    report = await repo.find_report(conn, lot_id)
    now = clock.now()
    opens = report["drafted_at"] + REPORT_SIGNING_PERIOD
    if now < opens:
        raise ReportSigningOpen(f"the members have until {opens.isoformat()} to sign or state a dissent",
                                until=opens.isoformat())
    members = await repo.list_members(conn, lot_id, active_only=True)
    answers = await repo.list_confirmations(conn, lot_id)
    for m in members:
        if m.expert_id not in answers:
            await repo.insert_confirmation(conn, lot_id, m.expert_id, True, None, now, deemed=True)
    answers = await repo.list_confirmations(conn, lot_id)
    digest = await _sign_report(conn, clock, ev, report, members, answers, settings=settings, actor=str(actor.id),
                                addr=addr)
    return {"status": "signed", "pdf_sha256": digest,
            "deemed": sorted(str(e) for e, a in answers.items() if a["deemed"])}


async def _archive_pdf(conn, clock, settings, *, tender_id, lot_id, kind: str, filename: str, data: bytes,
                       actor: str) -> str:
    """Store a signed PDF in the blob store and register it in the tender archive (record:document:add)."""
    from trading.records.services import record_document

    return await record_document(conn, clock, tender_id=tender_id, lot_id=lot_id, kind=kind, filename=filename,
                                 data=data, actor=actor, settings=settings)


async def _sign_report(conn, clock, ev, report, members, answers, *, settings, actor: str, addr) -> str:
    from evaluation import pdfs

    content = dict(report["content"])
    content["confirmations"] = [{"expert_id": str(m.expert_id), "name": m.name, "agrees": a["agrees"],
                                 "dissent": a["dissent"], "deemed": a["deemed"], "at": a["confirmed_at"].isoformat()}
                                for m in members for a in [answers[m.expert_id]]]
    pdf = await pdfs.report_pdf_signed(content, report["content_sha256"], settings)
    digest = await _archive_pdf(conn, clock, settings, tender_id=ev.tender_id, lot_id=ev.lot_id,
                                kind="evaluation_report", filename=f"evaluation-report-{ev.lot_id}.pdf", data=pdf,
                                actor=actor)
    await repo.set_report_signed(conn, ev.lot_id, digest, clock.now())
    await repo.set_evaluation_status(conn, ev.lot_id, "signed")
    await append_entry(conn, clock, Tag.EVALUATION_REPORT_SIGN, actor=actor, tender_id=ev.tender_id,
                       lot_id=ev.lot_id, addr=addr,
                       body={"lot": str(ev.lot_id), "content_sha256": report["content_sha256"], "pdf_sha256": digest,
                             "dissents": sum(1 for a in answers.values() if not a["agrees"]),
                             "deemed": sorted(str(e) for e, a in answers.items() if a["deemed"])})
    return digest


async def report_pdf(conn: asyncpg.Connection, lot_id: UUID, *, user: User, settings) -> bytes:
    ev, _ = await _committee_view_allowed(conn, lot_id, user)
    report = await repo.find_report(conn, lot_id)
    if report is None or not report["pdf_sha256"]:
        raise EvaluationStateWrong("the report is not signed yet")
    from trading.blobs import blob_store

    return blob_store(settings).get_bytes(report["pdf_sha256"])


# -------------------------------------------------------------------------------------------------- publicity

async def publish_candidates(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: PublicityIn, *,
                             actor: User, addr: str | None = None,
                             src: sources.Sources | None = None) -> dict[str, Any]:
    """中标候选人公示 (招标投标法实施条例 第五十四条): the candidates in rank order, for at least 3 days."""
    from trading.tenders.lifecycle import transition_lot

    lot = await _lot(conn, lot_id)
    _require_agency(actor, lot)
    if lot.regime == "gov_procurement":
        raise NotInGovProcurement("政府采购不进行中标候选人公示: the agency sends the report to the purchaser, who "
                                  "determines the winner (政府采购货物和服务招标投标管理办法 (财政部87号令) 第六十八条)")
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if ev.status != "signed":
        raise EvaluationStateWrong("candidates are published once the report is signed")
    scheme_row = await repo.find_scheme(conn, lot_id)
    days = data.days if data.days is not None else scheme_row["publicity_days"]
    if days < MIN_PUBLICITY_DAYS:
        raise PublicityTooShort("publicity lasts at least 3 days (招标投标法实施条例 第五十四条)")
    if days > MAX_PUBLICITY_DAYS:
        raise PublicityTooShort(f"publicity lasts at most {MAX_PUBLICITY_DAYS} days here", field="days")
    report = await repo.find_report(conn, lot_id)
    # 中标候选人公示 content (RULES 5.2): rank, name, price, duration, quality, project manager, score.
    forms = {str(b.bid_id): b.form for b in await _bids(conn, lot_id, src)}
    candidates = [{"rank": c["rank"], "bid_id": c["bid_id"], "bidder_name": c["bidder_name"],
                   "price_fen": c["price_fen"], "duration_days": c["duration_days"], "total": c["total"],
                   **{k: forms.get(c["bid_id"], {}).get(k) for k in PUBLICITY_FORM_FIELDS}}
                  for c in report["content"]["candidates"]]
    starts = clock.now()
    ends = starts + timedelta(days=days)
    await repo.insert_publicity(conn, lot_id, candidates=candidates, starts_at=starts, ends_at=ends,
                                contact=_text(data.contact, "contact", max_len=500), by=actor.id)
    await transition_lot(conn, clock, lot_id, "publicity", actor=str(actor.id), addr=addr)
    await append_entry(conn, clock, Tag.AWARD_PUBLICITY_START, actor=str(actor.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "candidates": [c["bid_id"] for c in candidates],
                             "starts_at": starts.isoformat(), "ends_at": ends.isoformat(),
                             "report_pdf_sha256": report["pdf_sha256"]})
    return {"lot_id": str(lot_id), "starts_at": starts.isoformat(), "ends_at": ends.isoformat(),
            "candidates": candidates}


async def file_objection(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: ObjectionIn, *, user: User,
                         addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """A bidder (or other interested party with an organisation) objects during publicity (条例 第五十四条)."""
    lot = await _lot(conn, lot_id)
    if lot.regime == "gov_procurement":
        raise NotInGovProcurement("政府采购不进行中标候选人公示 (财政部87号令 第六十八、六十九条): a 质疑 to the "
                                  "result is raised after the result announcement (POST /api/lots/{lot}/award/"
                                  "challenges; 政府采购法 第五十二条)")
    pub = await repo.get_publicity(conn, lot_id)
    now = clock.now()
    if lot.status != "publicity" or not (pub.starts_at <= now < pub.ends_at):
        raise PublicityClosed("objections to the result are filed during the publicity period only")
    return await _record_objection(conn, clock, lot, user, data.content, now, addr, src)


async def _record_objection(conn: asyncpg.Connection, clock: Clock, lot, user: User, content: str, now, addr,
                            src, *, challenge: bool = False) -> dict:
    """An objection (Bidding Law, during publicity) or a GP 质疑 (after the announcement), once its window is
    checked: by a bidder of the lot, answer due by the regime's rule, logged with it."""
    await _require_bidder_of(conn, lot.id, user, src)
    objection = await repo.insert_objection(conn, lot.id, user.org_id, user.id,
                                            _text(content, "content", max_len=5000), now,
                                            answer_due(now, rules_for(lot.regime)))
    body = {"lot": str(lot.id), "objection": str(objection.id), "org": str(user.org_id)}
    if challenge:
        body["challenge"] = True
    body["content_sha256"] = _sha256(objection.content)
    await append_entry(conn, clock, Tag.AWARD_OBJECTION_FILE, actor=str(user.id), tender_id=lot.tender_id,
                       lot_id=lot.id, addr=addr, body=body)
    return msgspec.to_builtins(objection)


async def _require_bidder_of(conn, lot_id: UUID, user: User, src) -> None:
    if user.org_id is None or not user.has(Role.BIDDER):
        raise ObjectorNotEntitled("objections are filed by bidders or other interested organisations")
    bidders = {b.bidder_org_id for b in await _bids(conn, lot_id, src)}
    if user.org_id not in bidders:
        raise ObjectorNotEntitled("only a bidder of this lot may object here; others complain to the supervisor")


async def answer_objection(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, objection_id: UUID,
                           data: ObjectionAnswerIn, *, actor: User, addr: str | None = None) -> dict[str, Any]:
    """The agency answers in writing; until then the award waits (条例 第五十四条: 作出答复前暂停招标投标活动)."""
    lot = await _lot(conn, lot_id)
    _require_agency(actor, lot)
    objection = await repo.lock_objection(conn, lot_id, objection_id)
    if objection.answered_at is not None:
        raise ObjectionAlreadyAnswered("this objection has already been answered")
    answer = _text(data.answer, "answer", max_len=5000)
    objection = await repo.answer_objection(conn, objection_id, answer=answer, upheld=data.upheld, by=actor.id,
                                            now=clock.now())
    await append_entry(conn, clock, Tag.AWARD_OBJECTION_ANSWER, actor=str(actor.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "objection": str(objection_id),
                                                       "upheld": data.upheld, "answer_sha256": _sha256(answer),
                                                       "late": objection.answered_at >= objection.answer_due})
    return msgspec.to_builtins(objection)


async def flag_overdue_objections(conn: asyncpg.Connection, clock: Clock) -> int:
    """Log every objection to a result still unanswered at its due time, once (`award:objection:overdue`); the
    award keeps waiting for the answer (条例 第五十四条)."""
    rows = await repo.mark_overdue_objections(conn, clock.now())
    for r in rows:
        await append_entry(conn, clock, Tag.AWARD_OBJECTION_OVERDUE, tender_id=r["tender_id"], lot_id=r["lot_id"],
                           body={"lot": str(r["lot_id"]), "objection": str(r["id"]),
                                 "answer_due": r["answer_due"].isoformat()})
    return len(rows)


async def list_overdue_objections(conn: asyncpg.Connection, clock: Clock) -> list[OverdueAwardObjection]:
    """Objections to results unanswered past their due time, by the clock (regulators: the route's guard)."""
    return await repo.list_overdue_objections(conn, clock.now())


async def review_again(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: ReviewIn, *, actor: User,
                       addr: str | None = None) -> dict[str, Any]:
    """复核: an objection to the result was upheld (招标投标法实施条例 第五十四条), so the same committee evaluates
    again. The round's results, flags, report, publicity and objections are archived (`evaluation_rounds`; they
    stay in the log), the members' sheets open again as drafts, the lot goes back from publicity to evaluation;
    then a new report, a new publicity of at least 3 days, and only then the award."""
    from trading.tenders.lifecycle import transition_lot

    lot = await _lot(conn, lot_id, lock=True)
    _require_agency(actor, lot)
    if lot.status != "publicity":
        raise EvaluationStateWrong(f"the lot is {lot.status!r}; a review follows an upheld objection in publicity")
    objections = await repo.list_objections(conn, lot_id)
    if any(o.answered_at is None for o in objections):
        raise ObjectionsUnanswered("answer every objection to the result first (招标投标法实施条例 第五十四条)")
    upheld = [o for o in objections if o.upheld]
    if not upheld:
        raise ReviewNotAllowed("only an upheld objection to the result reopens the evaluation")
    reason = _text(data.reason, "reason", max_len=2000)
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    round_ = await repo.archive_round(conn, lot_id, reason, actor.id, clock.now())
    await transition_lot(conn, clock, lot_id, "evaluation", actor=str(actor.id), addr=addr)
    await append_entry(conn, clock, Tag.EVALUATION_SESSION_REVIEW, actor=str(actor.id), tender_id=ev.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "round": round_ + 1, "objections": [str(o.id) for o in upheld],
                             "reason_sha256": _sha256(reason)})
    return {"lot_id": str(lot_id), "round": round_ + 1, "status": "scoring"}


# ------------------------------------------------------------- government procurement: the purchaser decides
#
# 政府采购货物和服务招标投标管理办法 (财政部87号令) 第六十八、六十九条; 政府采购法 第五十二、五十三条: no candidate
# publicity. The agency sends the signed report to the purchaser (采购人 = the lot's tenderer organisation), the
# purchaser determines the winner among the report's candidates in their order (or rank 1 is deemed the winner),
# then the award: the 中标通知书 and the 中标结果公告 (1 working day), and 质疑 for 7 working days after it.

def _end_of_working_days(day: date, n: int) -> datetime:
    """24:00 Asia/Shanghai of the n-th working day after `day` (`day` not counted, 87号令 第八十五条)."""
    return start_of_day(calendar().add_working_days(day, n) + timedelta(days=1))


def _last_day(due: datetime) -> date:
    """The last day of a period whose due instant is 24:00 of that day."""
    return local_date(due) - timedelta(days=1)


def _require_gp(lot) -> None:
    if lot.regime != "gov_procurement":
        raise GovProcurementOnly("this step belongs to government procurement (政府采购货物和服务招标投标管理办法 "
                                 "第六十八条); a Bidding-Law lot publishes its candidates instead")


async def send_report_to_purchaser(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, *, actor: User,
                                   addr: str | None = None) -> Determination:
    """87号令 第六十八条: the agency sends the evaluation report to the purchaser within 2 working days of the end of
    the evaluation (the report's signing). A late sending is taken, and marked late in the record."""
    lot = await _lot(conn, lot_id, lock=True)
    _require_agency(actor, lot)
    _require_gp(lot)
    ev = await repo.get_evaluation(conn, lot_id, lock=True)
    if lot.status != "evaluation" or ev.status != "signed":
        raise EvaluationStateWrong("the report is sent to the purchaser once it is signed")
    if await repo.find_determination(conn, lot_id) is not None:
        raise ReportAlreadySent("the report of this lot has already been sent to the purchaser")
    await require_recordings(conn, lot)  # 87号令 第三十九条: the procurement file is complete with its recordings
    report = await repo.find_report(conn, lot_id)
    candidates = [{k: c.get(k) for k in ("rank", "bid_id", "bidder_name", "price_fen", "duration_days", "total",
                                         "tied")}
                  for c in report["content"]["candidates"]]
    now = clock.now()
    send_due = _end_of_working_days(local_date(report["signed_at"]), GP_REPORT_SEND_DAYS)
    det = await repo.insert_determination(
        conn, lot_id, candidates=candidates, report_pdf_sha256=report["pdf_sha256"], evaluated_at=report["signed_at"],
        by=actor.id, now=now, send_due=send_due, late=now >= send_due,
        decision_due=_end_of_working_days(local_date(now), GP_DECISION_DAYS))
    await append_entry(conn, clock, Tag.AWARD_PURCHASER_SEND, actor=str(actor.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "purchaser_org": str(lot.tenderer_org_id),
                             "report_pdf_sha256": det.report_pdf_sha256,
                             "candidates": [c["bid_id"] for c in candidates], "send_due": send_due.isoformat(),
                             "late": det.sent_late, "decision_due": det.decision_due.isoformat()})
    return det


async def decide_winner(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: WinnerDecisionIn, *,
                        user: User, addr: str | None = None) -> Determination:
    """87号令 第六十八条: the purchaser determines the winner among the report's candidates in their order — rank 1,
    or a lower one with a stated reason — within 5 working days of receiving the report; once."""
    lot = await _lot(conn, lot_id, lock=True)
    _require_gp(lot)
    if user.org_id is None or user.org_id != lot.tenderer_org_id:
        raise PurchaserRequired("the winner is determined by the purchaser (采购人: the lot's tenderer organisation)")
    det = await repo.find_determination(conn, lot_id, lock=True)
    if det is None:
        raise ReportNotSent("the purchaser decides once the agency has sent it the evaluation report "
                            "(87号令 第六十八条)")
    if det.how is not None:
        raise WinnerAlreadyDetermined(f"the winner of this lot is already determined ({det.how})")
    now = clock.now()
    if now >= det.decision_due:
        raise DecisionPeriodOver(f"the 5 working days ended at {det.decision_due.isoformat()}: rank 1 is deemed the "
                                 "winner (87号令 第六十八条)")
    winner, reason = _choose_winner(det.candidates, data.winner_bid_id, data.reason,
                                    "the winner is one of the report's candidates")
    det = await repo.set_winner_determined(conn, lot_id, how="decided", bid_id=UUID(winner["bid_id"]),
                                           rank=winner["rank"], reason=reason, by=user.id, now=now,
                                           award_due=_end_of_working_days(local_date(now), GP_AWARD_DAYS))
    await append_entry(conn, clock, Tag.AWARD_WINNER_DECIDE, actor=str(user.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "bid": winner["bid_id"], "rank": winner["rank"],
                             "purchaser_org": str(user.org_id), "award_due": det.award_due.isoformat(),
                             **({"reason_sha256": _sha256(reason)} if reason else {})})
    return det


async def _deem_rank_one(conn, clock: Clock, det: Determination, *, tender_id: UUID,
                         addr: str | None = None) -> Determination:
    """87号令 第六十八条: no decision within 5 working days and no reason given → rank 1 is the winner. Logged with
    the change, in the caller's transaction."""
    first = det.candidates[0]
    det = await repo.set_winner_determined(conn, det.lot_id, how="deemed", bid_id=UUID(first["bid_id"]),
                                           rank=first["rank"], reason=None, by=None, now=clock.now(),
                                           award_due=_end_of_working_days(_last_day(det.decision_due),
                                                                          GP_AWARD_DAYS))
    await append_entry(conn, clock, Tag.AWARD_WINNER_DEEM, tender_id=tender_id, lot_id=det.lot_id, addr=addr,
                       body={"lot": str(det.lot_id), "bid": first["bid_id"], "rank": first["rank"],
                             "decision_due": det.decision_due.isoformat(), "award_due": det.award_due.isoformat()})
    return det


async def deem_overdue_determinations(conn: asyncpg.Connection, clock: Clock) -> int:
    """The background sweep: every lot whose purchaser let the 5 working days pass gets rank 1 as its winner,
    once (`award:winner:deem`)."""
    rows = await repo.lock_undetermined_past_due(conn, clock.now())
    for det, tender_id in rows:
        await _deem_rank_one(conn, clock, det, tender_id=tender_id)
    return len(rows)


async def _determined(conn, clock: Clock, lot, data: AwardIn, *, addr: str | None) -> Determination:
    """The award of a government-procurement lot needs its winner determined (87号令 第六十八条); a period the
    sweep has not yet closed is closed here, in the award's transaction."""
    if lot.status != "evaluation":
        raise EvaluationStateWrong(f"the lot is {lot.status!r}; the award follows the evaluation")
    det = await repo.find_determination(conn, lot.id, lock=True)
    if det is None:
        raise WinnerNotDetermined("send the report to the purchaser first: the purchaser determines the winner "
                                  "(87号令 第六十八条)")
    if det.how is None:
        if clock.now() < det.decision_due:
            raise WinnerNotDetermined(f"the purchaser determines the winner until {det.decision_due.isoformat()} "
                                      "(87号令 第六十八条)")
        det = await _deem_rank_one(conn, clock, det, tender_id=lot.tender_id, addr=addr)
    if data.winner_bid_id is not None and data.winner_bid_id != det.winner_bid_id:
        raise WinnerAlreadyDetermined("the purchaser determined the winner; the award names that bid")
    return det


async def _announce_result(conn, det: Determination, now: datetime) -> dict[str, Any]:
    """87号令 第六十九条: the 中标结果公告 from the award, for 1 working day; 质疑 to it within 7 working days of the
    announcement's last day (政府采购法 第五十二条; 政府采购法实施条例 第五十三条: the day the supplier should know is
    the day the result announcement period ends)."""
    ends = _end_of_working_days(local_date(now), GP_ANNOUNCEMENT_DAYS)
    challenge_due = _end_of_working_days(_last_day(ends), GP_CHALLENGE_DAYS)
    await repo.set_result_announced(conn, det.lot_id, now=now, ends_at=ends, challenge_due=challenge_due)
    return {"determined": det.how, "award_due": det.award_due.isoformat(), "late": now >= det.award_due,
            "announcement_ends_at": ends.isoformat(), "challenge_due": challenge_due.isoformat()}


async def get_determination(conn: asyncpg.Connection, lot_id: UUID, *, user: User) -> Determination:
    """The lot's agency, its purchaser and regulators follow the determination."""
    lot = await _lot(conn, lot_id)
    _require_gp(lot)
    if not (user.has(Role.REGULATOR, Role.ADMIN) or user.org_id in (lot.agency_org_id, lot.tenderer_org_id)):
        raise PurchaserRequired("the determination is read by the lot's agency, its purchaser and regulators")
    det = await repo.find_determination(conn, lot_id)
    if det is None:
        raise ReportNotSent("the report of this lot has not been sent to the purchaser yet")
    return det


async def purchaser_report_pdf(conn: asyncpg.Connection, lot_id: UUID, *, user: User, settings) -> bytes:
    """The signed report as sent to the purchaser: readable by the purchaser from the sending on (87号令 第六十八条),
    and by the agency and regulators."""
    det = await get_determination(conn, lot_id, user=user)
    from trading.blobs import blob_store

    return blob_store(settings).get_bytes(det.report_pdf_sha256)


async def file_challenge(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: ObjectionIn, *, user: User,
                         addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """质疑 to a government-procurement result (政府采购法 第五十二条): by a bidder of the lot, in writing, from the
    result announcement until 7 working days after its last day. The agency answers within 7 working days
    (第五十三条: `answer_due`, the sweep logs it overdue) through `answer_objection`."""
    lot = await _lot(conn, lot_id)
    _require_gp(lot)
    det = await repo.find_determination(conn, lot_id)
    now = clock.now()
    if lot.status != "awarded" or det is None or det.announced_at is None:
        raise ChallengePeriodClosed("a 质疑 to the result is raised once the result is announced (政府采购法 第五十二条)")
    if now >= det.challenge_due:
        raise ChallengePeriodClosed(f"质疑 to the result were due by {det.challenge_due.isoformat()}: 7 working days "
                                    "after the announcement (政府采购法 第五十二条; 实施条例 第五十三条)")
    return await _record_objection(conn, clock, lot, user, data.content, now, addr, src, challenge=True)


# ------------------------------------------------------------------------------------------------------ award

async def issue_award(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: AwardIn, *, actor: User,
                      settings, addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """中标通知书 to the winner, 中标结果通知书 to every other bidder (招标投标法 第四十五条), after publicity with
    every objection answered; emits "lot.awarded" in this transaction (deposit refunds hang on it)."""
    from trading.tenders.lifecycle import transition_lot

    lot = await _lot(conn, lot_id, lock=True)
    _require_agency(actor, lot)
    if lot.status == "awarded" or await repo.list_notices(conn, lot_id):
        raise AwardAlreadyIssued("the award of this lot has already been issued")
    det = None
    if lot.regime == "gov_procurement":
        # 87号令 第六十八、六十九条: no publicity; the award names the winner the purchaser determined (or rank 1,
        # deemed) and is the result announcement.
        now = clock.now()
        det = await _determined(conn, clock, lot, data, addr=addr)
        winner = next(c for c in det.candidates if c["bid_id"] == str(det.winner_bid_id))
        reason = det.reason
    else:
        pub = await repo.get_publicity(conn, lot_id)
        now = clock.now()
        if lot.status != "publicity":
            raise EvaluationStateWrong(f"the lot is {lot.status!r}; the award follows the publicity")
        if now < pub.ends_at:
            raise PublicityRunning(f"the publicity runs until {pub.ends_at.isoformat()} (招标投标法实施条例 第五十四条)")
        objections = await repo.list_objections(conn, lot_id)
        if any(o.answered_at is None for o in objections):
            raise ObjectionsUnanswered("an objection to the result is unanswered (招标投标法实施条例 第五十四条)")
        if any(o.upheld for o in objections):
            raise ObjectionUpheld("an objection was upheld: the result must be re-examined before any award")
        # 招标投标法实施条例 第五十五条: rank 1 wins; another candidate only in rank order with a stated reason.
        winner, reason = _choose_winner(pub.candidates, data.winner_bid_id, data.reason,
                                        "the winner must be one of the published candidates")
    await transition_lot(conn, clock, lot_id, "awarded", actor=str(actor.id), addr=addr)
    announcement: dict[str, Any] = {}
    if det is not None:
        announcement = await _announce_result(conn, det, now)
    return await issue_notices(conn, clock, lot, winner, reason, actor=actor, settings=settings, now=now,
                               addr=addr, src=src, log_extra=announcement)


async def issue_notices(conn: asyncpg.Connection, clock: Clock, lot, winner: dict[str, Any], reason: str | None, *,
                        actor: User, settings, now: datetime, addr: str | None, src: sources.Sources | None,
                        award_round: int = 1, rescinded: dict[str, Any] | None = None,
                        log_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """One round of notices: the 中标通知书 to `winner` (a candidate dict), a 中标结果通知书 to every other opened bid
    with its own score and rank (87号令 第六十九条), each a signed PDF in the archive, each logged; then
    "lot.awarded". `rescinded` (a later round): the earlier winner, whose notice says it lost the award and why."""
    from evaluation import pdfs

    lot_id = lot.id
    bids = {str(b.bid_id): b for b in await _bids(conn, lot_id, src)}
    win_bid = bids[winner["bid_id"]]
    results = {str(r["bid_id"]): r for r in await repo.list_results(conn, lot_id)}
    common = {"tender_code": lot.tender_code, "tender_title": lot.tender_title, "lot_number": lot.number,
              "lot_name": lot.name, "winner_name": win_bid.bidder_name, "price_fen": win_bid.price_fen,
              "duration_days": win_bid.duration_days, "issued_at": now, "award_round": award_round}
    suffix = "" if award_round == 1 else f"-r{award_round}"
    notices = []
    pdf = await pdfs.award_notice_signed({**common, "kind": "award", "to": win_bid.bidder_name}, settings)
    digest = await _archive_pdf(conn, clock, settings, tender_id=lot.tender_id, lot_id=lot_id, kind="award_notice",
                                filename=f"award-notice-{lot_id}{suffix}.pdf", data=pdf, actor=str(actor.id))
    await repo.insert_notice(conn, lot_id, bid_id=win_bid.bid_id, org_id=win_bid.bidder_org_id, kind="award",
                             rank=winner["rank"], pdf_sha256=digest, by=actor.id, now=now, reason=reason,
                             award_round=award_round)
    notices.append({"bid_id": str(win_bid.bid_id), "kind": "award", "pdf_sha256": digest})
    for bid_id, b in bids.items():
        if b.bid_id == win_bid.bid_id:
            continue
        r = results.get(bid_id)
        lost = rescinded if rescinded is not None and rescinded["bid_id"] == bid_id else None
        # 87号令 第六十九条: each bidder that did not win is told its own score and rank.
        pdf = await pdfs.award_notice_signed({**common, "kind": "result", "to": b.bidder_name,
                                              "rank": r["rank"] if r else None,
                                              "total": _disp(r["total"]) if r else None,
                                              "valid": r["valid"] if r else False, "rescinded": lost}, settings)
        d = await _archive_pdf(conn, clock, settings, tender_id=lot.tender_id, lot_id=lot_id, kind="result_notice",
                               filename=f"result-notice-{lot_id}-{bid_id}{suffix}.pdf", data=pdf,
                               actor=str(actor.id))
        await repo.insert_notice(conn, lot_id, bid_id=b.bid_id, org_id=b.bidder_org_id, kind="result",
                                 rank=r["rank"] if r else None, pdf_sha256=d, by=actor.id, now=now, reason=None,
                                 award_round=award_round)
        notices.append({"bid_id": bid_id, "kind": "result", "pdf_sha256": d})
    round_note = {} if award_round == 1 else {"round": award_round}
    await append_entry(conn, clock, Tag.AWARD_NOTICE_ISSUE, actor=str(actor.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "bid": winner["bid_id"], "winner_org": str(win_bid.bidder_org_id),
                             "rank": winner["rank"], "pdf_sha256": digest, **round_note,
                             **({"reason_sha256": _sha256(reason)} if reason else {}), **(log_extra or {})})
    for n in notices[1:]:
        await append_entry(conn, clock, Tag.AWARD_RESULT_NOTIFY, actor=str(actor.id), tender_id=lot.tender_id,
                           lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "bid": n["bid_id"],
                                                           "pdf_sha256": n["pdf_sha256"], **round_note})
    await emit(conn, clock, "lot.awarded", {"lot_id": lot_id, "tender_id": lot.tender_id,
                                            "winner_org_id": win_bid.bidder_org_id, "notice_at": now})
    return {"lot_id": str(lot_id), "winner_bid_id": winner["bid_id"], "winner_org_id": str(win_bid.bidder_org_id),
            "notices": notices, **(log_extra or {}), **({"award_round": award_round} if award_round > 1 else {})}


def _choose_winner(candidates: list[dict[str, Any]], winner_bid_id: UUID | None, reason: str | None,
                   not_candidate: str) -> tuple[dict[str, Any], str | None]:
    """Rank 1 wins; another candidate only with a stated reason (招标投标法实施条例 第五十五条; for government
    procurement 87号令 第六十八条: in the report's order, a lower one only with a reason)."""
    if winner_bid_id is None or str(winner_bid_id) == candidates[0]["bid_id"]:
        return candidates[0], None
    winner = next((c for c in candidates if c["bid_id"] == str(winner_bid_id)), None)
    if winner is None:
        raise WinnerNotCandidate(not_candidate)
    return winner, _text(reason, "reason", max_len=2000)


async def notice_pdf(conn: asyncpg.Connection, lot_id: UUID, *, user: User, settings) -> bytes:
    """A bidder fetches its own notice; the agency any."""
    lot = await _lot(conn, lot_id)
    notices = await repo.list_notices(conn, lot_id)
    agency = user.has(Role.ADMIN, Role.REGULATOR) or (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id)
    mine = [n for n in notices if agency and n.kind == "award" or n.org_id == user.org_id]
    if not mine:
        raise MemberRequired("no notice of this lot is addressed to your organisation")
    from trading.blobs import blob_store

    return blob_store(settings).get_bytes(mine[0].pdf_sha256)


# --------------------------------------------------------------------------------------------------- contract

async def _awarded_lot(conn: asyncpg.Connection, lot_id: UUID, actor: User, why: str):
    """The lot (locked) and its award notice, for a duty of the lot's agency after the award."""
    lot = await _lot(conn, lot_id, lock=True)
    _require_agency(actor, lot)
    notice = await repo.winner_notice(conn, lot_id)
    if lot.status != "awarded" or notice is None:
        raise AwardNotIssued(why)
    return lot, notice


async def challenge_upheld_against(conn: asyncpg.Connection, lot_id: UUID, notice) -> bool:
    """Whether a 质疑 was answered as upheld since this award notice (one upheld against an earlier award, since
    rescinded, no longer counts)."""
    return any(o.upheld and o.answered_at is not None and o.answered_at >= notice["issued_at"]
               for o in await repo.list_objections(conn, lot_id))


def require_not_suspended(lot, what: str, now) -> None:
    """招标投标法实施条例 第六十二条 (政府采购法 第五十七条): the supervising authority ordered the tender's activity
    suspended while it handles a complaint (evaluation/complaints); after the award, steps wait for the order (or
    for the instant the law ends it)."""
    if under_order(lot, now):
        from trading.tenders.errors import TenderSuspended

        raise TenderSuspended("the supervising authority has ordered the tender's activity suspended (招标投标法实施条例"
                              f" 第六十二条): {what}", by="regulator")


def contract_due(notice_at: datetime) -> datetime:
    """招标投标法 第四十六条: the contract within 30 days of the award notice, the day of issue not counted → due at
    24:00 Asia/Shanghai of the 30th day after it."""
    return duty_due("contract", notice_at)


async def record_contract(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, data: ContractIn, *, actor: User,
                          addr: str | None = None, src: sources.Sources | None = None) -> Contract:
    """The agency records the contract signed with the winner; emits "contract.signed" in this transaction (the
    winner's deposit refund hangs on it, 条例 第五十七条). A contract later than 30 days is still recorded, and
    marked late in the record."""
    lot, notice = await _awarded_lot(conn, lot_id, actor,
                                     "the contract follows the award notice (招标投标法 第四十六条)")
    if await repo.find_contract(conn, lot_id) is not None:
        raise ContractAlreadyRecorded("the contract of this lot is already recorded")
    require_not_suspended(lot, "the contract waits until the order is lifted", clock.now())
    if lot.regime == "gov_procurement" and await challenge_upheld_against(conn, lot_id, notice):
        # 政府采购质疑和投诉办法 第十六条: a 质疑 upheld against this award → another winner among the qualified
        # candidates, or procurement again (evaluation/rescission.py); the contract waits for that decision.
        raise ChallengeUpheld("a 质疑 to the result was upheld: no contract until the winner is determined again or "
                              "the procurement is repeated (政府采购质疑和投诉办法 第十六条; POST award/rescind)")
    now = clock.now()
    signed_at = data.signed_at
    if signed_at.tzinfo is None:
        raise ContractInvalid("give the signing time with its offset, e.g. 2026-12-20T10:00:00+08:00",
                              field="signed_at")
    if signed_at < notice["issued_at"] or signed_at > now:
        raise ContractInvalid("the contract is signed after the award notice and not in the future",
                              field="signed_at")
    price_fen = yuan_to_fen(data.price_yuan, "price_yuan")
    bond_fen = yuan_to_fen(data.performance_bond_yuan, "performance_bond_yuan")
    bids = {b.bid_id: b for b in await _bids(conn, lot_id, src)}
    win = bids[notice["bid_id"]]
    if price_fen != win.price_fen:
        # 招标投标法 第四十六条, 条例 第五十七条: the contract's terms are the tender's and the winning bid's.
        raise ContractTermsMismatch(f"合同价款应与中标价一致: the winning price is {fen_to_yuan(win.price_fen)} yuan",
                                    field="price_yuan")
    if bond_fen < 0 or bond_fen * 10 > price_fen:
        raise PerformanceBondTooHigh("履约保证金不得超过中标合同金额的10% (招标投标法实施条例 第五十八条): at most"
                                     f" {fen_to_yuan(price_fen // 10)} yuan", field="performance_bond_yuan")
    due = contract_due(notice["issued_at"])
    contract = await repo.insert_contract(conn, lot_id=lot_id, bid_id=win.bid_id, org_id=win.bidder_org_id,
                                          price_fen=price_fen, bond_fen=bond_fen, signed_at=signed_at, due_at=due,
                                          late=signed_at >= due, by=actor.id, now=now)
    await append_entry(conn, clock, Tag.AWARD_CONTRACT_SIGN, actor=str(actor.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "bid": str(win.bid_id), "org": str(win.bidder_org_id),
                             "price_fen": price_fen, "performance_bond_fen": bond_fen,
                             "signed_at": signed_at.isoformat(), "due_at": due.isoformat(), "late": contract.late})
    await emit(conn, clock, "contract.signed", {"lot_id": lot_id, "winner_org_id": win.bidder_org_id,
                                                "signed_at": signed_at})
    return contract


async def get_contract(conn: asyncpg.Connection, lot_id: UUID, *, user: User) -> Contract:
    lot = await _lot(conn, lot_id)
    contract = await repo.find_contract(conn, lot_id)
    allowed = (user.has(Role.REGULATOR, Role.ADMIN) or (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id)
               or (contract is not None and user.org_id == contract.org_id))
    if not allowed:
        raise AgencyRequired("the contract is read by the agency, the winner and regulators")
    if contract is None:
        raise AwardNotIssued("no contract is recorded for this lot yet")
    return contract


# The duties after the award: days after the notice (the day of issue not counted) and the tag logged when one is
# not done by then. The supervisor report applies to projects that must be tendered (repository._DUTY_TABLES).
AWARD_DUTIES: dict[str, tuple[int, Tag]] = {
    "contract": (30, Tag.AWARD_CONTRACT_OVERDUE),            # 招标投标法 第四十六条
    "supervisor_report": (15, Tag.AWARD_REPORT_OVERDUE),     # 招标投标法 第四十七条
}


def duty_due(duty: str, notice_at: datetime) -> datetime:
    """24:00 Asia/Shanghai of the last day of the duty's period after the award notice."""
    return start_of_day(local_date(notice_at) + timedelta(days=AWARD_DUTIES[duty][0] + 1))


def _notified_before(duty: str, now: datetime) -> datetime:
    """Awards notified before this instant are past the duty's due time at `now`."""
    return start_of_day(local_date(now) - timedelta(days=AWARD_DUTIES[duty][0]))


async def flag_overdue_duties(conn: asyncpg.Connection, clock: Clock) -> dict[str, int]:
    """Log, once per lot and duty, an award whose contract or supervisor report is not in by its due time."""
    now = clock.now()
    counts = {}
    for duty, (_, tag) in AWARD_DUTIES.items():
        counts[duty] = 0
        for r in await repo.awards_missing(conn, duty, _notified_before(duty, now)):
            due = duty_due(duty, r["issued_at"])
            if await repo.insert_overdue(conn, r["lot_id"], duty, due, now):
                await append_entry(conn, clock, tag, tender_id=r["tender_id"], lot_id=r["lot_id"],
                                   body={"lot": str(r["lot_id"]), "winner_org": str(r["org_id"]),
                                         "due_at": due.isoformat()})
                counts[duty] += 1
    return counts


async def list_overdue_duties(conn: asyncpg.Connection, clock: Clock, duty: str) -> list[OverdueDuty]:
    """Awards whose duty is not done past its due time, by the clock (regulators: the route's guard)."""
    rows = await repo.list_awards_missing(conn, duty, _notified_before(duty, clock.now()))
    return [OverdueDuty(**dict(r), duty=duty, due_at=duty_due(duty, r["notice_at"])) for r in rows]


# ------------------------------------------------------------------------------- report to the supervisor

async def submit_supervisor_report(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, *, actor: User, settings,
                                   addr: str | None = None, src: sources.Sources | None = None) -> dict[str, Any]:
    """招标投标法 第四十七条: the tenderer reports on the tender to the supervising authority within 15 days of
    determining the winner. The platform writes the report from the record, signs it, archives it; regulators read
    it. A late one is still taken, and marked late."""
    from evaluation import pdfs

    lot, notice = await _awarded_lot(conn, lot_id, actor,
                                     "the report to the supervisor follows the award (招标投标法 第四十七条)")
    if lot.regime == "gov_procurement":
        raise NotInGovProcurement("招标投标情况书面报告 (招标投标法 第四十七条) is a Bidding-Law duty; a government-"
                                  "procurement result is announced (87号令 第六十九条)")
    award_round = notice["award_round"]
    if await repo.find_supervisor_report(conn, lot_id, award_round) is not None:
        raise SupervisorReportSubmitted("the report on this award has already been submitted")
    now = clock.now()
    content = await _supervisor_report_content(conn, lot, notice, now, src)
    pdf = await pdfs.supervisor_report_signed(content, settings)
    suffix = "" if award_round == 1 else f"-r{award_round}"
    digest = await _archive_pdf(conn, clock, settings, tender_id=lot.tender_id, lot_id=lot_id,
                                kind="supervisor_report", filename=f"supervisor-report-{lot_id}{suffix}.pdf",
                                data=pdf, actor=str(actor.id))
    due = duty_due("supervisor_report", notice["issued_at"])
    row = await repo.insert_supervisor_report(conn, lot_id, award_round=award_round, pdf_sha256=digest, due_at=due,
                                              late=now >= due, by=actor.id, now=now)
    await append_entry(conn, clock, Tag.AWARD_REPORT_SUBMIT, actor=str(actor.id), tender_id=lot.tender_id,
                       lot_id=lot_id, addr=addr, body={"lot": str(lot_id), "pdf_sha256": digest,
                                                       "due_at": due.isoformat(), "late": row["late"],
                                                       **({"round": award_round} if award_round > 1 else {})})
    return {"lot_id": str(lot_id), "pdf_sha256": digest, "due_at": due.isoformat(), "late": row["late"],
            "submitted_at": now.isoformat()}


async def _supervisor_report_content(conn, lot, notice, now: datetime, src) -> dict[str, Any]:
    from trading.accounts import repository as accounts

    bids = await _bids(conn, lot.id, src)
    results = {r["bid_id"]: r for r in await repo.list_results(conn, lot.id)}
    orgs = {o.id: o.name for o in await accounts.get_organisations(conn, [lot.tenderer_org_id, lot.agency_org_id])}
    ev = await repo.get_evaluation(conn, lot.id)
    report = await repo.find_report(conn, lot.id)
    pub = await repo.get_publicity(conn, lot.id)
    objections = await repo.list_objections(conn, lot.id)
    contract = await repo.find_contract(conn, lot.id)
    winner = next(b for b in bids if b.bid_id == notice["bid_id"])
    names = {b.bid_id: b.bidder_name for b in bids}
    from evaluation.rescission import CAUSES

    rescinded = [{"round": r.award_round, "bidder": names.get(r.bid_id, str(r.bid_id)),
                  "cause": CAUSES[lot.regime].get(r.cause, r.cause), "at": r.decided_at}
                 for r in await repo.list_rescissions(conn, lot.id)]
    return {
        "tender": {"code": lot.tender_code, "title": lot.tender_title, "regime": lot.regime,
                   "must_tender": lot.must_tender, "procurement_type": lot.procurement_type,
                   "tenderer": orgs.get(lot.tenderer_org_id, ""), "agency": orgs.get(lot.agency_org_id, ""),
                   "published_at": lot.publish_at, "bid_deadline": lot.bid_deadline},
        "lot": {"number": lot.number, "name": lot.name, "estimated_price_fen": lot.estimated_price_fen,
                "max_price_fen": lot.max_price_fen, "reference_price_fen": lot.reference_price_fen},
        "bids": [{"bidder": b.bidder_name, "price_fen": b.price_fen,
                  "valid": results[b.bid_id]["valid"] if b.bid_id in results else None,
                  "rank": results[b.bid_id]["rank"] if b.bid_id in results else None}
                 for b in sorted(bids, key=lambda b: (results.get(b.bid_id, {}).get("rank") or 10**6, b.bidder_name))],
        "evaluation": {"method": ev.method, "members": [m.name for m in await repo.list_members(conn, lot.id,
                                                                                              active_only=True)],
                       "report_signed_at": report["signed_at"] if report else None},
        "publicity": {"starts_at": pub.starts_at, "ends_at": pub.ends_at,
                      "objections": len(objections), "upheld": sum(1 for o in objections if o.upheld)},
        "award": {"winner": winner.bidder_name, "price_fen": winner.price_fen, "notice_at": notice["issued_at"],
                  "contract_signed_at": contract.signed_at if contract else None, "rescinded": rescinded},
        "written_at": now,
    }


async def supervisor_report_pdf(conn: asyncpg.Connection, lot_id: UUID, *, user: User, settings) -> bytes:
    lot = await _lot(conn, lot_id)
    if not (user.has(Role.REGULATOR, Role.ADMIN) or user.org_id == lot.agency_org_id):
        raise AgencyRequired("the report is read by the lot's agency and the regulators")
    row = await repo.find_supervisor_report(conn, lot_id)
    if row is None:
        raise AwardNotIssued("no report to the supervisor has been submitted for this lot yet")
    from trading.blobs import blob_store

    return blob_store(settings).get_bytes(row["pdf_sha256"])



async def award_result(conn: asyncpg.Connection, lot_id: UUID, src: sources.Sources | None = None) -> dict[str, Any]:
    """中标结果公告, public once the award is issued (so within the 2 working days of 87号令 第六十九条): the
    winner, its price, the notice time and the committee's names — secret until the result is determined
    (招标投标法 第三十七条), published with it (87号令 第六十九条)."""
    lot = await _lot(conn, lot_id)
    notice = await repo.winner_notice(conn, lot_id)
    if lot.status != "awarded" or notice is None:
        raise AwardNotIssued("the result is published once the award is issued")
    winner = next(b for b in await _bids(conn, lot_id, src) if b.bid_id == notice["bid_id"])
    members = await repo.list_members(conn, lot_id, active_only=True)
    result = {"tender_code": lot.tender_code, "tender_title": lot.tender_title, "lot_number": lot.number,
              "lot_name": lot.name, "regime": lot.regime, "winner": winner.bidder_name, "price_fen": winner.price_fen,
              "duration_days": winner.duration_days, "notice_at": notice["issued_at"],
              "committee": [m.name for m in members]}
    det = await repo.find_determination(conn, lot_id) if lot.regime == "gov_procurement" else None
    if det is not None and det.announced_at is not None:
        # 87号令 第六十九条: the announcement lasts 1 working day; 质疑 until challenge_due (政府采购法 第五十二条).
        result.update(announcement_ends_at=det.announcement_ends_at, challenge_due=det.challenge_due,
                      determined=det.how)
    return result
