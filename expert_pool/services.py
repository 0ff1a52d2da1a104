"""The rules of the expert pool: applications, review, availability, the draw (draw/v1), invitations, re-draws.

Services take the connection first, record the witness entry in the caller's transaction and never commit.
"""
from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from expert_pool import draw as protocol
from expert_pool import repository as repo
from expert_pool.eligibility import (
    TITLE_LEVELS,
    Facts,
    PoolRules,
    exclusion_reasons,
    load_rules,
    personal_reasons,
)
from expert_pool.errors import (
    ConflictAlreadyDeclared,
    DrawAlreadyExists,
    DrawForbidden,
    DrawLotNotReady,
    DrawPoolShort,
    DrawRequestInvalid,
    DrawStateInvalid,
    ExpertAlreadyApplied,
    ExpertApplicationInvalid,
    ExpertIneligible,
    ExpertNotFound,
    ExpertReasonRequired,
    ExpertStatusInvalid,
    InvitationClosed,
    InvitationExpired,
    InvitationNotFound,
    MemberNotFound,
    SpecialtyUnknown,
)
from expert_pool.notify import InboxSender, Sender
from expert_pool.schemas import (
    ConflictDeclare,
    DrawMemberView,
    DrawRequest,
    DrawView,
    Expert,
    ExpertApply,
    Invitation,
    Member,
    Notification,
    QuotaProgress,
    Unavailability,
)
from expert_pool.specialties import Classification, classification
from trading.accounts.credit_code import credit_code_problem
from trading.accounts.schemas import Role, User
from trading.clock import Clock, to_shanghai
from trading.dates import HORIZON, within_horizon
from trading.records import Tag, append_entry

# Lot states from which a committee may be drawn, and those in which its names are no longer secret.
DRAWABLE_LOT_STATES = {"published", "closed", "opening"}
# The issue fixes "evaluation start" as the moment names may be shown to the agency.
NAMES_VISIBLE_LOT_STATES = {"evaluation", "publicity", "awarded"}
CLOSED_LOT_STATES = {"failed", "cancelled"}
GP_LARGE_BUDGET_FEN = 10_000_000 * 100   # 87号令 第四十七条: 1000万元以上 → 7 members or more
MAX_ALTERNATES = 10
MAX_SIZE = 99

_PHONE = re.compile(r"^1[3-9][0-9]{9}$")
_REGION = re.compile(r"^[0-9]{6}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def today(clock: Clock) -> date:
    return to_shanghai(clock.now()).date()


def _actor(actor: Any) -> str | None:
    if actor is None:
        return None
    return str(getattr(actor, "id", actor))


def _has_control(value: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in value)


def _text(value: str | None, field: str, max_len: int, *, required: bool = True) -> str | None:
    value = unicodedata.normalize("NFC", value or "").strip()
    if _has_control(value):
        raise ExpertApplicationInvalid(f"{field} contains control characters", field=field)
    if not value:
        if required:
            raise ExpertApplicationInvalid(f"{field} is required", field=field)
        return None
    if len(value) > max_len:
        raise ExpertApplicationInvalid(f"{field} must be at most {max_len} characters", field=field)
    return value


def id_number_birth_date(id_number: str) -> date | None:
    """The birth date of a valid 18-character 居民身份证号码 (GB 11643-1999, ISO 7064 MOD 11-2), else None."""
    if len(id_number) != 18 or not id_number[:17].isdigit():
        return None
    total = sum(int(c) * w for c, w in zip(id_number[:17], _ID_WEIGHTS, strict=True))
    if "10X98765432"[total % 11] != id_number[17]:
        return None
    try:
        return date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
    except ValueError:
        return None


def _credit_code(code: str, field: str) -> str:
    code = code.strip().upper()
    problem = credit_code_problem(code)
    if problem:
        raise ExpertApplicationInvalid(problem, field=field)
    return code


# --------------------------------------------------------------------------------------- applications


async def apply_expert(conn: asyncpg.Connection, clock: Clock, user: User, data: ExpertApply, *,
                       addr: str | None = None, specialties: Classification | None = None) -> Expert:
    """An expert-role user applies to join the pool (or re-applies after a rejection)."""
    specialties = specialties or classification()
    on = today(clock)
    id_number = data.id_number.strip().upper()
    born = id_number_birth_date(id_number)
    if born is None:
        raise ExpertApplicationInvalid("居民身份证号码无效 (the identity number fails the GB 11643 check)",
                                       field="id_number")
    if born != data.birth_date:
        raise ExpertApplicationInvalid("出生日期与身份证号码不符 (date of birth differs from the identity number)",
                                       field="birth_date")
    if data.title_level not in TITLE_LEVELS:
        raise ExpertApplicationInvalid(f"title_level must be one of {', '.join(TITLE_LEVELS)}", field="title_level")
    if not (data.birth_date < data.practice_since <= on):
        raise ExpertApplicationInvalid("practice_since must be after the date of birth and not in the future",
                                       field="practice_since")
    codes = sorted(set(c.strip().upper() for c in data.specialties))
    if not codes or len(codes) > 10:
        raise ExpertApplicationInvalid("choose 1 to 10 specialties", field="specialties")
    for code in codes:
        s = specialties.get(code)
        if s is None or s.level != 2:
            raise SpecialtyUnknown(f"unknown specialty {code!r} (choose second-level codes such as A0101)",
                                   field="specialties")
    if not _REGION.match(data.region):
        raise ExpertApplicationInvalid("region must be a 6-digit division code", field="region")
    if not _PHONE.match(data.phone):
        raise ExpertApplicationInvalid("phone must be an 11-digit mobile number", field="phone")
    employers = []
    for i, e in enumerate(data.former_employers):
        if e.ended_on > on:
            raise ExpertApplicationInvalid("a former employment cannot end in the future",
                                           field=f"former_employers[{i}].ended_on")
        employers.append(type(e)(org_name=_text(e.org_name, f"former_employers[{i}].org_name", 200),
                                 credit_code=_credit_code(e.credit_code, f"former_employers[{i}].credit_code"),
                                 ended_on=e.ended_on))
    fields = {
        "full_name": _text(data.full_name, "full_name", 50),
        "id_number": id_number,
        "birth_date": data.birth_date,
        "employer_name": _text(data.employer_name, "employer_name", 200),
        "employer_credit_code": _credit_code(data.employer_credit_code, "employer_credit_code"),
        "title": _text(data.title, "title", 50),
        "title_level": data.title_level,
        "practice_since": data.practice_since,
        "region": data.region,
        "phone": data.phone,
        "email": _text(data.email, "email", 200, required=False),
    }
    existing = await repo.find_expert_by_user(conn, user.id)
    other = await repo.find_expert_by_id_number(conn, id_number)
    if other is not None and (existing is None or other != existing.id):
        raise ExpertAlreadyApplied("an expert with this identity number is already registered")
    now = clock.now()
    if existing is None:
        try:
            async with conn.transaction():   # a savepoint: a concurrent twin application loses cleanly
                expert_id = await repo.insert_expert(conn, user_id=user.id, fields=fields, now=now)
        except asyncpg.UniqueViolationError as exc:
            raise ExpertAlreadyApplied("an application for this account or identity number already exists") from exc
    elif existing.status == "rejected":
        expert_id = existing.id
        await repo.reapply_expert(conn, expert_id, fields=fields, now=now)
    else:
        raise ExpertAlreadyApplied(f"you already have an expert record (status {existing.status})")
    await repo.insert_specialties(conn, expert_id, codes)
    await repo.insert_employments(conn, expert_id, employers)
    await repo.set_expert_status(conn, expert_id, status="pending", reason=None, actor=user.id, now=now)
    await append_entry(conn, clock, Tag.EXPERT_APPLICATION_SUBMIT, actor=str(user.id), addr=addr,
                       body={"expert": str(expert_id), "user": str(user.id), "specialties": codes})
    return await repo.get_expert(conn, expert_id)


async def my_expert(conn: asyncpg.Connection, user: User) -> Expert:
    expert = await repo.find_expert_by_user(conn, user.id)
    if expert is None:
        raise ExpertNotFound("you have not applied to the expert pool yet")
    return expert


def _reason(reason: str | None) -> str:
    reason = unicodedata.normalize("NFC", reason or "").strip()
    if _has_control(reason.replace("\n", " ")):
        raise ExpertReasonRequired("the reason contains control characters", field="reason")
    if not reason:
        raise ExpertReasonRequired("a reason is required", field="reason")
    if len(reason) > 500:
        raise ExpertReasonRequired("the reason must be at most 500 characters", field="reason")
    return reason


async def approve_expert(conn: asyncpg.Connection, clock: Clock, expert_id: UUID, *, actor: User,
                         addr: str | None = None, rules: PoolRules | None = None) -> Expert:
    rules = rules or load_rules()
    expert = await repo.lock_expert(conn, expert_id)
    if expert.status != "pending":
        raise ExpertStatusInvalid(f"only a pending application can be approved (status {expert.status})")
    # 招标投标法 第三十七条 (8 years, senior title) and the age limit, checked again at every draw.
    reasons = personal_reasons(title_level=expert.title_level, practice_since=expert.practice_since,
                               birth_date=expert.birth_date, on=today(clock), rules=rules)
    if reasons:
        raise ExpertIneligible("the applicant does not meet: " + ", ".join(reasons), reasons=reasons)
    await repo.set_expert_status(conn, expert_id, status="approved", reason=None, actor=actor.id,
                                 now=clock.now(), reviewed=True)
    await append_entry(conn, clock, Tag.EXPERT_APPLICATION_APPROVE, actor=str(actor.id), addr=addr,
                       body={"expert": str(expert_id)})
    return await repo.get_expert(conn, expert_id)


async def reject_expert(conn: asyncpg.Connection, clock: Clock, expert_id: UUID, *, reason: str, actor: User,
                        addr: str | None = None) -> Expert:
    reason = _reason(reason)
    expert = await repo.lock_expert(conn, expert_id)
    if expert.status != "pending":
        raise ExpertStatusInvalid(f"only a pending application can be rejected (status {expert.status})")
    await repo.set_expert_status(conn, expert_id, status="rejected", reason=reason, actor=actor.id,
                                 now=clock.now(), reviewed=True)
    await append_entry(conn, clock, Tag.EXPERT_APPLICATION_REJECT, actor=str(actor.id), addr=addr,
                       body={"expert": str(expert_id)})
    return await repo.get_expert(conn, expert_id)


_TRANSITIONS = {
    # action: (allowed from, to, tag)
    "suspend": ({"approved"}, "suspended", Tag.EXPERT_STATUS_SUSPEND),
    "retire": ({"approved", "suspended"}, "retired", Tag.EXPERT_STATUS_RETIRE),
    "reinstate": ({"suspended"}, "approved", Tag.EXPERT_STATUS_REINSTATE),
}


async def change_expert_status(conn: asyncpg.Connection, clock: Clock, expert_id: UUID, action: str, *,
                               reason: str, actor: User, addr: str | None = None,
                               rules: PoolRules | None = None) -> Expert:
    """Suspend, retire or reinstate an expert, with a reason (kept in expert_status_events and logged)."""
    reason = _reason(reason)
    allowed, to, tag = _TRANSITIONS[action]
    expert = await repo.lock_expert(conn, expert_id)
    if expert.status not in allowed:
        raise ExpertStatusInvalid(f"cannot {action} an expert whose status is {expert.status}")
    if action == "reinstate":
        reasons = personal_reasons(title_level=expert.title_level, practice_since=expert.practice_since,
                                   birth_date=expert.birth_date, on=today(clock), rules=rules or load_rules())
        if reasons:
            raise ExpertIneligible("the expert no longer meets: " + ", ".join(reasons), reasons=reasons)
    await repo.set_expert_status(conn, expert_id, status=to, reason=reason, actor=actor.id, now=clock.now())
    await append_entry(conn, clock, tag, actor=str(actor.id), addr=addr, body={"expert": str(expert_id)})
    return await repo.get_expert(conn, expert_id)


async def set_unavailability(conn: asyncpg.Connection, clock: Clock, user: User, data: Unavailability, *,
                             addr: str | None = None) -> list[date]:
    expert = await my_expert(conn, user)
    on = today(clock)
    if any(d < on for d in data.add):
        raise ExpertApplicationInvalid("unavailable dates must be today or later", field="add")
    if len(data.add) + len(data.remove) > 366:
        raise ExpertApplicationInvalid("at most 366 dates at a time", field="add")
    await repo.add_unavailable_days(conn, expert.id, sorted(set(data.add)))
    await repo.remove_unavailable_days(conn, expert.id, sorted(set(data.remove)))
    await append_entry(conn, clock, Tag.EXPERT_AVAILABILITY_SET, actor=str(user.id), addr=addr,
                       body={"expert": str(expert.id), "add": [d.isoformat() for d in sorted(set(data.add))],
                             "remove": [d.isoformat() for d in sorted(set(data.remove))]})
    return await repo.list_unavailable_days(conn, expert.id, since=on)


async def declare_conflict(conn: asyncpg.Connection, clock: Clock, user: User, data: ConflictDeclare, *,
                           addr: str | None = None) -> UUID:
    """A standing conflict with an organisation (e.g. a relative is its legal representative): never drawn for
    its lots (政府采购法实施条例 第九条)."""
    expert = await my_expert(conn, user)
    code = _credit_code(data.credit_code, "credit_code")
    if await repo.standing_conflict(conn, expert.id, code) is not None:
        raise ConflictAlreadyDeclared(f"a conflict with {code} is already declared", field="credit_code")
    conflict_id = await repo.insert_conflict(conn, expert_id=expert.id, lot_id=None, credit_code=code,
                                             reason=_reason(data.reason), now=clock.now())
    await append_entry(conn, clock, Tag.EXPERT_CONFLICT_DECLARE, actor=str(user.id), addr=addr,
                       body={"expert": str(expert.id), "conflict": str(conflict_id)})
    return conflict_id


# ------------------------------------------------------------------------------------------------- drawing


def validate_request(data: DrawRequest, *, regime: str, estimated_price_fen: int,
                     specialties: Classification) -> list[protocol.Quota]:
    """招标投标法 第三十七条: ≥ 5 members, an odd number, technical and economic experts ≥ 2/3 of the members."""
    problems: list[str] = []
    if data.size > MAX_SIZE or any(not 0 <= q.count <= MAX_SIZE for q in data.quotas) \
            or not 0 <= data.tenderer_representatives <= MAX_SIZE:
        raise DrawRequestInvalid(f"a committee has at most {MAX_SIZE} members", field="size")
    if data.size < 5 or data.size % 2 == 0:
        problems.append(f"the committee must have 5 or more members, an odd number (got {data.size})")
    # 政府采购货物和服务招标投标管理办法 第四十七条: 采购预算金额在1000万元以上 → 7人以上单数
    if regime == "gov_procurement" and estimated_price_fen >= GP_LARGE_BUDGET_FEN and data.size < 7:
        problems.append("a government-procurement project of 10 million yuan or more needs 7 or more members")
    reps = data.tenderer_representatives
    if reps < 0:
        problems.append("tenderer_representatives cannot be negative")
    experts = data.size - reps
    if experts * 3 < data.size * 2:
        problems.append(f"technical and economic experts must be at least 2/3 of the committee "
                        f"({experts} of {data.size})")
    if not data.quotas:
        problems.append("at least one specialty quota is required")
    total = sum(q.count for q in data.quotas)
    if data.quotas and total != experts:
        problems.append(f"the quotas add up to {total} but the committee needs {experts} experts "
                        f"({data.size} members − {reps} tenderer representatives)")
    seen: set[str] = set()
    quotas: list[protocol.Quota] = []
    for q in data.quotas:
        code = q.specialty.strip().upper()
        if specialties.get(code) is None:
            raise SpecialtyUnknown(f"unknown specialty {code!r}", field="quotas")
        if code in seen:
            problems.append(f"specialty {code} appears in two quotas")
        if q.count < 1:
            problems.append(f"quota {code} must draw at least one expert")
        seen.add(code)
        quotas.append(protocol.Quota(specialty=code, count=q.count))
    if not 0 <= data.alternates <= MAX_ALTERNATES:
        problems.append(f"alternates per quota must be 0 to {MAX_ALTERNATES}")
    if problems:
        raise DrawRequestInvalid("; ".join(problems), problems=problems)
    return quotas


async def _lot(conn: asyncpg.Connection, lot_id: UUID) -> dict[str, Any]:
    lot = await repo.get_lot_context(conn, lot_id)
    if lot is None:
        raise DrawLotNotReady(f"lot {lot_id} not found")
    return lot


def _require_agency(lot: dict[str, Any], user: User) -> None:
    if not (user.has(Role.AGENCY) and user.org_id == lot["agency_org_id"]):
        raise DrawForbidden("only the tender's agency may request and run its committee draw")


async def _facts(conn: asyncpg.Connection, clock: Clock, lot: dict[str, Any], quota_codes: list[str],
                 evaluation_at: datetime, rules: PoolRules,
                 expert_ids: list[UUID] | None = None) -> list[tuple[str, list[int], list[str]]]:
    """(expert id, quota indexes, exclusion reasons) for every pool member matching a quota."""
    now = clock.now()
    on = to_shanghai(evaluation_at).date()
    lookback = on.replace(year=on.year - rules.employment_lookback_years) if not (on.month == 2 and on.day == 29) \
        else on.replace(year=on.year - rules.employment_lookback_years, day=28)
    tenderer_codes = [lot["tenderer_credit_code"]]
    # 政府采购货物和服务招标投标管理办法 第四十七条: agency staff may not evaluate their own projects.
    tenderer_codes.append(lot["agency_credit_code"])
    rows = await repo.candidate_facts(
        conn, quota_codes=quota_codes, lot_id=lot["lot_id"], tenderer_org_id=lot["tenderer_org_id"],
        tenderer_codes=tenderer_codes, bidder_codes=await repo.bidder_credit_codes(conn, lot["lot_id"]),
        employment_cutoff=lookback, repeat_since=now - timedelta(days=365), evaluation_day=on,
        expert_ids=expert_ids,
    )
    out = []
    for r in rows:
        f = Facts(expert_id=str(r["expert_id"]), status=r["status"], title_level=r["title_level"],
                  practice_since=r["practice_since"], birth_date=r["birth_date"],
                  employee_tenderer=r["employee_tenderer"], employee_bidder=r["employee_bidder"],
                  tenderer_draws=r["tenderer_draws"], unavailable=r["unavailable"], conflict=r["conflict"])
        out.append((f.expert_id, list(r["quotas"]), exclusion_reasons(f, on, rules)))
    return out


def split_eligible(facts: list[tuple[str, list[int], list[str]]],
                   n_quotas: int) -> tuple[list[list[str]], list[tuple[str, list[str]]]]:
    eligible: list[list[str]] = [[] for _ in range(n_quotas)]
    excluded: list[tuple[str, list[str]]] = []
    for expert_id, quotas, reasons in facts:
        if reasons:
            excluded.append((expert_id, reasons))
            continue
        for i in quotas:
            eligible[i].append(expert_id)
    return [sorted(ids) for ids in eligible], excluded


async def request_draw(conn: asyncpg.Connection, clock: Clock, user: User, data: DrawRequest, *,
                       addr: str | None = None, rules: PoolRules | None = None,
                       specialties: Classification | None = None) -> DrawView:
    """Steps 1 and 2 of draw/v1: snapshot the eligible set per quota and commit to the server's random value."""
    rules = rules or load_rules()
    specialties = specialties or classification()
    lot = await _lot(conn, data.lot_id)
    _require_agency(lot, user)
    if lot["status"] not in DRAWABLE_LOT_STATES:
        raise DrawLotNotReady(f"a committee cannot be drawn for a lot in status {lot['status']}")
    if data.evaluation_at <= clock.now():
        raise DrawRequestInvalid("the evaluation time must be in the future", field="evaluation_at")
    if not within_horizon(data.evaluation_at, clock.now()):
        raise DrawRequestInvalid(f"the evaluation time must lie within {HORIZON.days // 365} years of now",
                                 field="evaluation_at")
    if data.evaluation_at < lot["bid_deadline"]:
        # Evaluation follows the opening, which is at the bid deadline (招标投标法 第三十四条).
        raise DrawRequestInvalid("the evaluation cannot start before the bid deadline", field="evaluation_at")
    quotas = validate_request(data, regime=lot["regime"], estimated_price_fen=lot["estimated_price_fen"],
                              specialties=specialties)
    # 招标投标法实施条例 第四十六条: one random draw per lot; replacements come from the same order.
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1::text))", f"expert-draw:{data.lot_id}")
    if await repo.find_draw_by_lot(conn, data.lot_id):
        raise DrawAlreadyExists("this lot already has a committee draw")
    facts = await _facts(conn, clock, lot, [q.specialty for q in quotas], data.evaluation_at, rules)
    eligible, excluded = split_eligible(facts, len(quotas))
    short = protocol.shortfalls(quotas, eligible, data.alternates)
    if short:
        detail = "; ".join(f"{s['specialty']} needs {s['needed']}, {s['eligible']} eligible, short by {s['short']}"
                           for s in short)
        raise DrawPoolShort(f"the pool cannot satisfy the request: {detail}", shortages=short)
    r_s = secrets.token_bytes(32)
    commit = protocol.commitment(r_s)
    # The checkpoint is fixed now, with the commitment: at the reveal the server, knowing r_s and r_a, must have no
    # choice left (it could otherwise sign checkpoints until one gave a seed it liked).
    checkpoint = await repo.latest_checkpoint(conn)
    root, tree_size = checkpoint if checkpoint else (protocol.EMPTY_TREE_ROOT, 0)
    e_hash = protocol.eligible_hash(eligible)
    quota_json = [{"specialty": q.specialty, "count": q.count, "eligible_hash": protocol.quota_hash(ids).hex()}
                  for q, ids in zip(quotas, eligible, strict=True)]
    draw = await repo.insert_draw(
        conn, lot_id=data.lot_id, tender_id=lot["tender_id"], requested_by=user.id, size=data.size,
        tenderer_representatives=data.tenderer_representatives, alternates=data.alternates,
        evaluation_at=data.evaluation_at, quotas=quota_json, eligible=eligible, eligible_hash=e_hash,
        server_secret=r_s, server_commit=commit, checkpoint_root=root, checkpoint_size=tree_size,
        status="committed", created_at=clock.now(),
    )
    await repo.insert_exclusions(conn, draw["id"], excluded)
    # Step 2 (DESIGN.md §8): the commitment is logged before the agency can contribute. Hashes only.
    entry = await append_entry(
        conn, clock, Tag.EXPERT_DRAW_COMMIT, actor=str(user.id), addr=addr, tender_id=lot["tender_id"],
        lot_id=data.lot_id,
        body={"draw": str(draw["id"]), "protocol": protocol.PROTOCOL, "eligible_hash": e_hash.hex(),
              "quotas": quota_json, "alternates": data.alternates, "server_commit": commit.hex(),
              "checkpoint_root": root.hex(), "checkpoint_size": tree_size,
              "evaluation_at": data.evaluation_at.isoformat()})
    await repo.update_draw(conn, draw["id"], commit_seq=entry.seq)
    return await draw_view(conn, draw["id"], user)


async def contribute(conn: asyncpg.Connection, clock: Clock, user: User, draw_id: UUID, agency_value: str, *,
                     addr: str | None = None, rules: PoolRules | None = None) -> DrawView:
    """Steps 3–5 of draw/v1: take the agency's value, fix the seed with the latest checkpoint root, select."""
    rules = rules or load_rules()
    draw = await repo.get_draw(conn, draw_id, lock=True)
    lot = await _lot(conn, draw["lot_id"])
    _require_agency(lot, user)
    if draw["status"] != "committed":
        raise DrawStateInvalid("the agency's value was already contributed for this draw")
    if not 8 <= len(agency_value) <= 256 or agency_value != agency_value.strip() or _has_control(agency_value):
        raise DrawRequestInvalid("the agency's random value must be 8 to 256 printable characters without "
                                 "surrounding spaces", field="agency_value")
    root, size = bytes(draw["checkpoint_root"]), draw["checkpoint_size"]   # fixed at the commit
    seed = protocol.seed(draw["server_secret"], agency_value, root)
    quotas = [protocol.Quota(specialty=q["specialty"], count=q["count"]) for q in draw["quotas"]]
    picks = protocol.select(seed, quotas, draw["eligible"], draw["alternates"])
    now = clock.now()
    selection = [{"members": p.members, "alternates": p.alternates} for p in picks]
    entry = await append_entry(
        conn, clock, Tag.EXPERT_DRAW_REVEAL, actor=str(user.id), addr=addr, tender_id=lot["tender_id"],
        lot_id=lot["lot_id"],
        body={"draw": str(draw_id), "server_secret": draw["server_secret"].hex(), "agency_value": agency_value,
              "checkpoint_root": root.hex(), "checkpoint_size": size, "seed": seed.hex(),
              # the committee stays secret; its hash binds the outcome to this entry
              "selection_hash": protocol.selection_hash(selection).hex()})
    await repo.update_draw(conn, draw_id, agency_value=agency_value, seed=seed, status="drawn", drawn_at=now,
                           reveal_seq=entry.seq)
    for qi, pick in enumerate(picks):
        for pos, expert_id in enumerate(pick.members + pick.alternates):
            is_member = pos < len(pick.members)
            row = await repo.insert_member(
                conn, draw_id=draw_id, expert_id=UUID(expert_id), quota=qi, position=pick.ranked.index(expert_id),
                initial_role="member" if is_member else "alternate", step=0,
                status="invited" if is_member else "alternate",
                invited_at=now if is_member else None,
                respond_by=now + timedelta(minutes=rules.confirm_minutes) if is_member else None)
            if is_member:
                await _invite(conn, clock, lot, row, actor=str(user.id))
    return await draw_view(conn, draw_id, user)


async def _invite(conn: asyncpg.Connection, clock: Clock, lot: dict[str, Any], member: dict, *,
                  actor: str | None) -> None:
    await repo.insert_notification(
        conn, expert_id=member["expert_id"], member_id=member["id"], kind="invitation",
        payload={"lot": str(lot["lot_id"]), "tender_code": lot["tender_code"], "lot_name": lot["lot_name"],
                 "respond_by": member["respond_by"].isoformat()},
        now=clock.now())
    await append_entry(conn, clock, Tag.EXPERT_INVITATION_SEND, actor=actor, tender_id=lot["tender_id"],
                       lot_id=lot["lot_id"],
                       body={"draw": str(member["draw_id"]), "member": str(member["id"]), "quota": member["quota"],
                             "step": member["step"], "respond_by": member["respond_by"].isoformat()})


async def _bring_in_next(conn: asyncpg.Connection, clock: Clock, draw: dict, lot: dict[str, Any], quota: int, *,
                         replaces: UUID | None, actor: str | None, rules: PoolRules) -> dict | None:
    """The re-draw rule (DESIGN.md §8 step 5; 招标投标法实施条例 第四十六条: replaced by the same random draw):
    the quota's next candidate in the draw order, re-checked against every rule now; an expert who no longer
    qualifies is skipped with the reasons recorded. None when the quota's order is exhausted."""
    if lot["status"] in CLOSED_LOT_STATES:
        return None   # a failed or cancelled lot needs no committee: nobody more is invited
    quotas = [protocol.Quota(specialty=q["specialty"], count=q["count"]) for q in draw["quotas"]]
    picks = protocol.select(draw["seed"], quotas, draw["eligible"], draw["alternates"])
    ranked = picks[quota].ranked
    members = await repo.list_members(conn, draw["id"])
    used = {str(m["expert_id"]) for m in members}
    reserve = {str(m["expert_id"]): m for m in members if m["quota"] == quota and m["status"] == "alternate"}
    step = await repo.max_step(conn, draw["id"])
    now = clock.now()
    while True:
        candidate = protocol.next_candidate(ranked, used, set(reserve))
        if candidate is None:
            await repo.update_draw(conn, draw["id"], status="short")
            await append_entry(conn, clock, Tag.EXPERT_DRAW_EXHAUST, actor=actor, tender_id=lot["tender_id"],
                               lot_id=lot["lot_id"], body={"draw": str(draw["id"]), "quota": quota})
            return None
        step += 1
        facts = await _facts(conn, clock, lot, [draw["quotas"][quota]["specialty"]], draw["evaluation_at"], rules,
                             expert_ids=[UUID(candidate)])
        reasons = facts[0][2] if facts else ["not_approved"]
        fields: dict[str, Any] = {"step": step}
        if reasons:
            fields.update(status="skipped", reason=",".join(reasons))
        else:
            fields.update(status="invited", invited_at=now,
                          respond_by=now + timedelta(minutes=rules.confirm_minutes), replaces=replaces)
        if candidate in reserve:
            row = await repo.update_member(conn, reserve.pop(candidate)["id"], **fields)
        else:
            row = await repo.insert_member(conn, draw_id=draw["id"], expert_id=UUID(candidate), quota=quota,
                                           position=ranked.index(candidate), initial_role=None, **fields)
        used.add(candidate)
        if reasons:
            await append_entry(conn, clock, Tag.EXPERT_INVITATION_SKIP, actor=actor, tender_id=lot["tender_id"],
                               lot_id=lot["lot_id"], body={"draw": str(draw["id"]), "member": str(row["id"]),
                                                           "quota": quota, "step": step, "reasons": reasons})
            continue
        await _invite(conn, clock, lot, row, actor=actor)
        if draw["status"] == "complete":
            await repo.update_draw(conn, draw["id"], status="drawn", completed_at=None)
        return row


async def _after_change(conn: asyncpg.Connection, clock: Clock, draw_id: UUID, lot: dict[str, Any]) -> None:
    """Mark the draw complete once every quota has its count of confirmed members."""
    draw = await repo.get_draw(conn, draw_id)
    if draw["status"] != "drawn":
        return
    members = await repo.list_members(conn, draw_id)
    for qi, q in enumerate(draw["quotas"]):
        if sum(1 for m in members if m["quota"] == qi and m["status"] == "confirmed") < q["count"]:
            return
    await repo.update_draw(conn, draw_id, status="complete", completed_at=clock.now())
    await append_entry(conn, clock, Tag.EXPERT_DRAW_COMPLETE, actor=None, tender_id=lot["tender_id"],
                       lot_id=lot["lot_id"], body={"draw": str(draw_id)})


async def _own_invitation(conn: asyncpg.Connection, user: User, member_id: UUID) -> tuple[dict, Expert]:
    expert = await repo.find_expert_by_user(conn, user.id)
    member = await repo.lock_member(conn, member_id)
    if expert is None or member["expert_id"] != expert.id:
        raise InvitationNotFound(f"invitation {member_id} not found")
    return member, expert


async def confirm_invitation(conn: asyncpg.Connection, clock: Clock, user: User, member_id: UUID, *,
                             addr: str | None = None) -> Invitation:
    member, expert = await _own_invitation(conn, user, member_id)
    if member["status"] != "invited":
        raise InvitationClosed(f"this invitation is {member['status']}")
    now = clock.now()
    if now > member["respond_by"]:
        raise InvitationExpired("the time to confirm has passed; the next alternate is being invited")
    # Lock order everywhere: the member row, then its draw (so completion is decided once).
    draw = await repo.get_draw(conn, member["draw_id"], lock=True)
    lot = await _lot(conn, draw["lot_id"])
    if lot["status"] in CLOSED_LOT_STATES:
        raise InvitationClosed(f"the lot is {lot['status']}: no committee is needed any more")
    await repo.update_member(conn, member_id, status="confirmed", responded_at=now)
    # The actor of an expert's answer is the member row id, a pseudonym regulators resolve: the user id next to
    # the lot id would put the committee's names into the log (招标投标法 第三十七条).
    await append_entry(conn, clock, Tag.EXPERT_INVITATION_CONFIRM, actor=str(member_id), addr=addr,
                       tender_id=lot["tender_id"], lot_id=lot["lot_id"],
                       body={"draw": str(draw["id"]), "member": str(member_id)})
    await _after_change(conn, clock, draw["id"], lot)
    return _find(await repo.list_invitations_for_expert(conn, expert.id), member_id)


def _find(invitations: list[Invitation], member_id: UUID) -> Invitation:
    for inv in invitations:
        if inv.member_id == member_id:
            return inv
    raise InvitationNotFound(f"invitation {member_id} not found")


async def decline_invitation(conn: asyncpg.Connection, clock: Clock, user: User, member_id: UUID, *, reason: str,
                             conflict: bool = False, addr: str | None = None,
                             rules: PoolRules | None = None) -> Invitation:
    """A decline brings in the next alternate under the same rules. A declared conflict is remembered for the lot."""
    rules = rules or load_rules()
    reason = _reason(reason)
    member, expert = await _own_invitation(conn, user, member_id)
    if member["status"] != "invited":
        raise InvitationClosed(f"this invitation is {member['status']}")
    now = clock.now()
    await repo.update_member(conn, member_id, status="declined", responded_at=now, reason=reason)
    draw = await repo.get_draw(conn, member["draw_id"], lock=True)
    lot = await _lot(conn, draw["lot_id"])
    if conflict:
        # 招标投标法 第三十七条: 与投标人有利害关系的人不得进入评标委员会
        await repo.insert_conflict(conn, expert_id=expert.id, lot_id=lot["lot_id"], credit_code=None,
                                   reason=reason, now=now)
    await append_entry(conn, clock, Tag.EXPERT_INVITATION_DECLINE, actor=str(member_id), addr=addr,
                       tender_id=lot["tender_id"], lot_id=lot["lot_id"],
                       body={"draw": str(draw["id"]), "member": str(member_id), "conflict": conflict})
    await _bring_in_next(conn, clock, draw, lot, member["quota"], replaces=member_id, actor=None,
                         rules=rules)
    return _find(await repo.list_invitations_for_expert(conn, expert.id), member_id)


async def sweep(conn: asyncpg.Connection, clock: Clock, *, sender: Sender | None = None,
                rules: PoolRules | None = None) -> dict[str, int]:
    """Time out unanswered invitations (judged by the injected clock), bring in the next alternates, and deliver
    the outbox. Called by the background task and by tests."""
    rules = rules or load_rules()
    timed_out = brought_in = 0
    for member in await repo.lock_expired_invitations(conn, clock.now()):
        await repo.update_member(conn, member["id"], status="timed_out", responded_at=clock.now(),
                                 reason="no answer in time")
        draw = await repo.get_draw(conn, member["draw_id"], lock=True)
        lot = await _lot(conn, draw["lot_id"])
        await append_entry(conn, clock, Tag.EXPERT_INVITATION_TIMEOUT, actor=None, tender_id=lot["tender_id"],
                           lot_id=lot["lot_id"], body={"draw": str(draw["id"]), "member": str(member["id"])})
        timed_out += 1
        if await _bring_in_next(conn, clock, draw, lot, member["quota"], replaces=member["id"], actor=None,
                                rules=rules):
            brought_in += 1
    delivered, failed = await deliver_notifications(conn, clock, sender or InboxSender())
    return {"timed_out": timed_out, "brought_in": brought_in, "delivered": delivered, "failed": failed}


async def deliver_notifications(conn: asyncpg.Connection, clock: Clock, sender: Sender) -> tuple[int, int]:
    delivered = failed = 0
    for note in await repo.lock_pending_notifications(conn):
        try:
            channel = await sender.send(note)
        except Exception as exc:  # a gateway failure must not stop the sweep; retried next time
            await repo.mark_notification(conn, note.id, sent_at=None, channel=None, error=str(exc)[:500])
            failed += 1
            continue
        await repo.mark_notification(conn, note.id, sent_at=clock.now(), channel=channel, error=None)
        delivered += 1
    return delivered, failed


# --------------------------------------------------------------------------------- for the evaluation package


def _member(row: dict, draw: dict, specialties: Classification) -> Member:
    code = draw["quotas"][row["quota"]]["specialty"]
    s = specialties.get(code)
    return Member(member_id=row["id"], expert_id=row["expert_id"], user_id=row["user_id"], name=row["full_name"],
                  specialty=code, confirmed=row["status"] == "confirmed",
                  role=s.kind if s and s.kind in ("technical", "economic") else "technical", quota=row["quota"])


async def committee_for_lot(conn: asyncpg.Connection, lot_id: UUID) -> list[Member]:
    """The confirmed members of the lot's committee (experts only; tenderer representatives are not drawn)."""
    draw = await repo.find_draw_by_lot(conn, lot_id)
    if draw is None:
        return []
    specialties = classification()
    return [_member(m, draw, specialties) for m in await repo.list_members(conn, draw["id"])
            if m["status"] == "confirmed"]


async def replace_member(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, expert_id: UUID, *, reason: str,
                         actor: Any, rules: PoolRules | None = None) -> Member | None:
    """Replace a member for a statutory reason (e.g. a conflict declared at the start of evaluation) by the next
    candidate of the same quota (招标投标法实施条例 第四十六条). Returns the invited replacement (not yet
    confirmed), or None when the pool is exhausted. The replaced member is remembered as conflicted for the lot."""
    rules = rules or load_rules()
    reason = _reason(reason)
    draw = await repo.find_draw_by_lot(conn, lot_id)
    if draw is None:
        raise MemberNotFound(f"lot {lot_id} has no committee draw")
    member = await repo.find_member_of_expert(conn, draw["id"], expert_id)
    if member is None or member["status"] not in ("invited", "confirmed"):
        raise MemberNotFound(f"expert {expert_id} is not a member of this committee")
    draw = await repo.get_draw(conn, draw["id"], lock=True)
    lot = await _lot(conn, lot_id)
    now = clock.now()
    await repo.update_member(conn, member["id"], status="replaced", responded_at=now, reason=reason)
    await repo.insert_conflict(conn, expert_id=expert_id, lot_id=lot_id, credit_code=None, reason=reason, now=now)
    await append_entry(conn, clock, Tag.EXPERT_MEMBER_REPLACE, actor=_actor(actor), tender_id=lot["tender_id"],
                       lot_id=lot_id, body={"draw": str(draw["id"]), "member": str(member["id"])})
    if draw["status"] == "complete":
        await repo.update_draw(conn, draw["id"], status="drawn", completed_at=None)
        draw["status"] = "drawn"
    row = await _bring_in_next(conn, clock, draw, lot, member["quota"], replaces=member["id"], actor=_actor(actor),
                               rules=rules)
    if row is None:
        return None
    full = next(m for m in await repo.list_members(conn, draw["id"]) if m["id"] == row["id"])
    return _member(full, draw, classification())


async def withdraw_draw(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, *, reason: str) -> int:
    """The lot failed or was cancelled: withdraw every open invitation and reserve of its draw, tell the invited
    and confirmed experts, close the draw. Returns how many were withdrawn (0 without a draw)."""
    draw = await repo.find_draw_by_lot(conn, lot_id)
    if draw is None or draw["status"] == "cancelled":
        return 0
    draw = await repo.get_draw(conn, draw["id"], lock=True)
    lot = await _lot(conn, lot_id)
    now = clock.now()
    withdrawn = 0
    for m in await repo.list_members(conn, draw["id"]):
        if m["status"] not in ("invited", "confirmed", "alternate"):
            continue
        if m["status"] in ("invited", "confirmed"):
            await repo.insert_notification(
                conn, expert_id=m["expert_id"], member_id=m["id"], kind="withdrawal",
                payload={"lot": str(lot_id), "tender_code": lot["tender_code"], "lot_name": lot["lot_name"],
                         "reason": reason[:200]}, now=now)
        await repo.update_member(conn, m["id"], status="withdrawn", responded_at=m["responded_at"] or now,
                                 reason=reason[:500])
        withdrawn += 1
    await repo.update_draw(conn, draw["id"], status="cancelled", completed_at=now)
    await append_entry(conn, clock, Tag.EXPERT_DRAW_CANCEL, actor=None, tender_id=lot["tender_id"], lot_id=lot_id,
                       body={"draw": str(draw["id"]), "withdrawn": withdrawn})
    return withdrawn


# ------------------------------------------------------------------------------------------- views, secrecy


def names_visible(user: User, lot_status: str) -> bool:
    """招标投标法 第三十七条: 评标委员会成员的名单在中标结果确定前应当保密 — here, until evaluation starts, only
    regulators see names; the agency sees counts and progress."""
    return user.has(Role.REGULATOR) or lot_status in NAMES_VISIBLE_LOT_STATES


async def _visible_draw(conn: asyncpg.Connection, draw_id: UUID, user: User) -> tuple[dict, dict[str, Any]]:
    draw = await repo.get_draw(conn, draw_id)
    lot = await _lot(conn, draw["lot_id"])
    if not (user.has(Role.REGULATOR, Role.ADMIN) or (user.has(Role.AGENCY) and user.org_id == lot["agency_org_id"])):
        raise DrawForbidden("only the tender's agency, administrators and regulators may see this draw")
    return draw, lot


async def draw_view(conn: asyncpg.Connection, draw_id: UUID, user: User) -> DrawView:
    draw, lot = await _visible_draw(conn, draw_id, user)
    specialties = classification()
    members = await repo.list_members(conn, draw_id)
    show = names_visible(user, lot["status"])
    progress = []
    for qi, q in enumerate(draw["quotas"]):
        mine = [m for m in members if m["quota"] == qi]
        count = lambda s: sum(1 for m in mine if m["status"] == s)  # noqa: E731
        progress.append(QuotaProgress(
            specialty=q["specialty"], specialty_name=specialties.label(q["specialty"]), count=q["count"],
            eligible=len(draw["eligible"][qi]), eligible_hash=q["eligible_hash"], invited=count("invited"),
            confirmed=count("confirmed"), declined=count("declined"), timed_out=count("timed_out"),
            alternates_left=count("alternate")))
    revealed = draw["status"] != "committed"
    return DrawView(
        id=draw["id"], lot_id=draw["lot_id"], tender_id=draw["tender_id"], status=draw["status"], size=draw["size"],
        tenderer_representatives=draw["tenderer_representatives"], alternates=draw["alternates"],
        evaluation_at=draw["evaluation_at"], created_at=draw["created_at"], drawn_at=draw["drawn_at"],
        eligible_hash=draw["eligible_hash"].hex(), server_commit=draw["server_commit"].hex(), quotas=progress,
        exclusions=await repo.exclusion_counts(conn, draw_id),
        confirmed=sum(p.confirmed for p in progress), needed=sum(p.count for p in progress), names_visible=show,
        agency_value=draw["agency_value"], server_secret=draw["server_secret"].hex() if revealed else None,
        checkpoint_root=draw["checkpoint_root"].hex() if draw["checkpoint_root"] else None,
        checkpoint_size=draw["checkpoint_size"], seed=draw["seed"].hex() if draw["seed"] else None,
        members=[DrawMemberView(member_id=m["id"], quota=m["quota"], status=m["status"], step=m["step"],
                                expert_id=m["expert_id"], name=m["full_name"], respond_by=m["respond_by"])
                 for m in members if m["status"] != "alternate"] if show else [],
    )


async def draw_for_lot(conn: asyncpg.Connection, lot_id: UUID, user: User) -> DrawView | None:
    draw = await repo.find_draw_by_lot(conn, lot_id)
    return await draw_view(conn, draw["id"], user) if draw else None


async def draw_record(conn: asyncpg.Connection, draw_id: UUID) -> dict[str, Any]:
    """DRAW.json: everything a regulator needs to replay the draw (`tenderhall experts replay DRAW.json`)."""
    draw = await repo.get_draw(conn, draw_id)
    members = await repo.list_members(conn, draw_id)
    revealed = draw["status"] != "committed"
    selection = []
    for qi in range(len(draw["quotas"])):
        initial = sorted((m for m in members if m["quota"] == qi and m["initial_role"]), key=lambda m: m["position"])
        selection.append({
            "members": [str(m["expert_id"]) for m in initial if m["initial_role"] == "member"],
            "alternates": [str(m["expert_id"]) for m in initial if m["initial_role"] == "alternate"],
        })
    redraws = [{"step": m["step"], "quota": m["quota"], "expert": str(m["expert_id"]),
                "action": "skip" if m["status"] == "skipped" else "bring_in", "reason": m["reason"]}
               for m in sorted((m for m in members if m["step"] > 0), key=lambda m: m["step"])]
    return {
        "protocol": protocol.PROTOCOL,
        "draw": str(draw["id"]),
        "lot": str(draw["lot_id"]),
        "tender": str(draw["tender_id"]),
        "evaluation_at": draw["evaluation_at"].isoformat(),
        "size": draw["size"],
        "tenderer_representatives": draw["tenderer_representatives"],
        "alternates": draw["alternates"],
        "quotas": [{**q, "eligible": draw["eligible"][i]} for i, q in enumerate(draw["quotas"])],
        "eligible_hash": draw["eligible_hash"].hex(),
        "server_commit": draw["server_commit"].hex(),
        "server_secret": draw["server_secret"].hex() if revealed else None,
        "agency_value": draw["agency_value"],
        "checkpoint": {"root": draw["checkpoint_root"].hex() if draw["checkpoint_root"] else None,
                       "tree_size": draw["checkpoint_size"]},
        "seed": draw["seed"].hex() if draw["seed"] else None,
        "selection": selection if revealed else [],
        "redraws": redraws,
        "members": [{"member": str(m["id"]), "expert": str(m["expert_id"]), "name": m["full_name"],
                     "quota": m["quota"], "position": m["position"], "status": m["status"], "step": m["step"],
                     "reason": m["reason"]} for m in members],
        "exclusions": await repo.list_exclusions(conn, draw_id),
        "log": {"commit": await repo.log_entry(conn, draw["commit_seq"]),
                "reveal": await repo.log_entry(conn, draw["reveal_seq"])},
    }


async def conflicts_for(conn: asyncpg.Connection, user: User) -> list[dict]:
    expert = await my_expert(conn, user)
    return await repo.list_conflicts(conn, expert.id)


async def invitations_for(conn: asyncpg.Connection, user: User) -> list[Invitation]:
    expert = await my_expert(conn, user)
    return await repo.list_invitations_for_expert(conn, expert.id)


async def inbox_for(conn: asyncpg.Connection, user: User) -> list[Notification]:
    expert = await my_expert(conn, user)
    return await repo.list_notifications_for_expert(conn, expert.id)
