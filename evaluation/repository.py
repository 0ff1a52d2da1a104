"""All SQL of evaluation and award ($n parameters; returns Structs or plain rows)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from evaluation.errors import EvaluationNotFound, FlagNotFound, ObjectionNotFound, PublicityNotFound
from evaluation.schemas import (AwardObjection, Contract, Determination, Evaluation, Flag, Member, Notice,
                                OverdueAwardObjection, Publicity, Rescission)


def _to(row: asyncpg.Record | None, type_: type) -> Any:
    if row is None:
        return None
    d = {k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in dict(row).items()}
    return msgspec.convert(d, type_)


# schemes ------------------------------------------------------------------------------------------------------

async def find_scheme(conn, lot_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM evaluation_schemes WHERE lot_id = $1", lot_id)
    if row is None:
        return None
    items = await conn.fetch("SELECT id, name, grp, max_points, guidance FROM evaluation_items WHERE lot_id = $1"
                             " ORDER BY position", lot_id)
    criteria = await conn.fetch("SELECT id, name, reason_code FROM evaluation_criteria WHERE lot_id = $1"
                                " ORDER BY position", lot_id)
    return {**dict(row), "items": [dict(r) for r in items], "criteria": [dict(r) for r in criteria]}


async def replace_scheme(conn, lot_id: UUID, *, weights: dict[str, Decimal], outlier_share: Decimal,
                         comment_below_share: Decimal, publicity_days: int, items: list[dict], criteria: list[dict],
                         scheme_sha256: str, set_by: UUID, now: datetime) -> None:
    await conn.execute("DELETE FROM evaluation_schemes WHERE lot_id = $1", lot_id)
    await conn.execute(
        "INSERT INTO evaluation_schemes (lot_id, technical_weight, commercial_weight, price_weight, outlier_share,"
        " comment_below_share, publicity_days, scheme_sha256, set_by, set_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        lot_id, weights["technical"], weights["commercial"], weights["price"], outlier_share, comment_below_share,
        publicity_days, scheme_sha256, set_by, now)
    await conn.executemany(
        "INSERT INTO evaluation_items (lot_id, id, position, name, grp, max_points, guidance)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [(lot_id, i["id"], n, i["name"], i["group"], i["max_points"], i["guidance"]) for n, i in enumerate(items)])
    await conn.executemany(
        "INSERT INTO evaluation_criteria (lot_id, id, position, name, reason_code) VALUES ($1, $2, $3, $4, $5)",
        [(lot_id, c["id"], n, c["name"], c["reason_code"]) for n, c in enumerate(criteria)])


# evaluations and members --------------------------------------------------------------------------------------

async def find_evaluation(conn, lot_id: UUID) -> Evaluation | None:
    return _to(await conn.fetchrow("SELECT * FROM evaluations WHERE lot_id = $1", lot_id), Evaluation)


async def get_evaluation(conn, lot_id: UUID, *, lock: bool = False) -> Evaluation:
    row = await conn.fetchrow("SELECT * FROM evaluations WHERE lot_id = $1" + (" FOR UPDATE" if lock else ""),
                              lot_id)
    if row is None:
        raise EvaluationNotFound(f"lot {lot_id} has no evaluation yet")
    return _to(row, Evaluation)


async def insert_evaluation(conn, *, lot_id, tender_id, method, committee_size, bids_hash, started_by,
                            now) -> None:
    await conn.execute(
        "INSERT INTO evaluations (lot_id, tender_id, method, status, committee_size, bids_hash, started_by,"
        " started_at) VALUES ($1, $2, $3, 'scoring', $4, $5, $6, $7)",
        lot_id, tender_id, method, committee_size, bids_hash, started_by, now)


async def set_evaluation_status(conn, lot_id: UUID, status: str, **fields: Any) -> None:
    allowed = {"revealed_at", "reject_reason", "chair_expert_id"}
    sets, args = ["status = $2"], [lot_id, status]
    for name, value in fields.items():
        if name not in allowed:
            raise ValueError(name)
        args.append(value)
        sets.append(f"{name} = ${len(args)}")
    await conn.execute(f"UPDATE evaluations SET {', '.join(sets)} WHERE lot_id = $1", *args)


async def set_chair(conn, lot_id: UUID, expert_id: UUID | None) -> None:
    await conn.execute("UPDATE evaluations SET chair_expert_id = $2 WHERE lot_id = $1", lot_id, expert_id)


async def insert_member(conn, lot_id: UUID, *, expert_id: UUID, user_id: UUID, name: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO evaluation_members (lot_id, expert_id, user_id, name, status, joined_at)"
        " VALUES ($1, $2, $3, $4, 'active', $5)", lot_id, expert_id, user_id, name, now)


async def list_members(conn, lot_id: UUID, *, active_only: bool = False) -> list[Member]:
    rows = await conn.fetch(
        "SELECT * FROM evaluation_members WHERE lot_id = $1" + (" AND status = 'active'" if active_only else "")
        + " ORDER BY joined_at, expert_id", lot_id)
    return [_to(r, Member) for r in rows]


async def find_active_member_by_user(conn, lot_id: UUID, user_id: UUID) -> Member | None:
    return _to(await conn.fetchrow(
        "SELECT * FROM evaluation_members WHERE lot_id = $1 AND user_id = $2 AND status = 'active'",
        lot_id, user_id), Member)


async def find_member(conn, lot_id: UUID, expert_id: UUID) -> Member | None:
    return _to(await conn.fetchrow("SELECT * FROM evaluation_members WHERE lot_id = $1 AND expert_id = $2",
                                   lot_id, expert_id), Member)


async def set_member_replaced(conn, lot_id: UUID, expert_id: UUID, *, reason: str, by: UUID | None,
                              now: datetime) -> None:
    await conn.execute(
        "UPDATE evaluation_members SET status = 'replaced', replaced_at = $3, replaced_reason = $4, replaced_by = $5"
        " WHERE lot_id = $1 AND expert_id = $2", lot_id, expert_id, now, reason, by)


async def set_chair_vote(conn, lot_id: UUID, expert_id: UUID, candidate: UUID | None) -> None:
    await conn.execute("UPDATE evaluation_members SET chair_vote = $3 WHERE lot_id = $1 AND expert_id = $2",
                       lot_id, expert_id, candidate)


async def clear_votes_for(conn, lot_id: UUID, candidate: UUID) -> None:
    await conn.execute("UPDATE evaluation_members SET chair_vote = NULL WHERE lot_id = $1 AND chair_vote = $2",
                       lot_id, candidate)


# declarations -------------------------------------------------------------------------------------------------

async def find_declaration(conn, lot_id: UUID, expert_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM evaluation_declarations WHERE lot_id = $1 AND expert_id = $2",
                               lot_id, expert_id)


async def insert_declaration(conn, lot_id: UUID, expert_id: UUID, *, conflict: bool, statement: str,
                             statement_sha256: str, now: datetime, addr: str | None) -> None:
    await conn.execute(
        "INSERT INTO evaluation_declarations (lot_id, expert_id, conflict, statement, statement_sha256,"
        " declared_at, addr) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        lot_id, expert_id, conflict, statement, statement_sha256, now, addr)


async def list_declarations(conn, lot_id: UUID) -> dict[UUID, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM evaluation_declarations WHERE lot_id = $1", lot_id)
    return {r["expert_id"]: r for r in rows}


# sheets -------------------------------------------------------------------------------------------------------

async def find_sheet(conn, lot_id: UUID, expert_id: UUID, *, lock: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM evaluation_sheets WHERE lot_id = $1 AND expert_id = $2"
                               + (" FOR UPDATE" if lock else ""), lot_id, expert_id)


async def ensure_sheet(conn, lot_id: UUID, expert_id: UUID, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO evaluation_sheets (lot_id, expert_id, status, saved_at) VALUES ($1, $2, 'draft', $3)"
        " ON CONFLICT (lot_id, expert_id) DO UPDATE SET saved_at = $3", lot_id, expert_id, now)


async def upsert_scores(conn, lot_id: UUID, expert_id: UUID, rows: list[tuple[UUID, str, Decimal, str]]) -> None:
    await conn.executemany(
        "INSERT INTO evaluation_scores (lot_id, expert_id, bid_id, item_id, points, comment)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (lot_id, expert_id, bid_id, item_id)"
        " DO UPDATE SET points = excluded.points, comment = excluded.comment",
        [(lot_id, expert_id, b, i, p, c) for b, i, p, c in rows])


async def upsert_marks(conn, lot_id: UUID, expert_id: UUID, rows: list[tuple[UUID, str, bool, str]]) -> None:
    await conn.executemany(
        "INSERT INTO evaluation_marks (lot_id, expert_id, bid_id, criterion_id, passed, comment)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (lot_id, expert_id, bid_id, criterion_id)"
        " DO UPDATE SET passed = excluded.passed, comment = excluded.comment",
        [(lot_id, expert_id, b, c, p, t) for b, c, p, t in rows])


async def update_score(conn, lot_id: UUID, expert_id: UUID, bid_id: UUID, item_id: str, points: Decimal) -> None:
    await conn.execute("UPDATE evaluation_scores SET points = $5 WHERE lot_id = $1 AND expert_id = $2"
                       " AND bid_id = $3 AND item_id = $4", lot_id, expert_id, bid_id, item_id, points)


async def set_sheet_submitted(conn, lot_id: UUID, expert_id: UUID, sheet_sha256: str, now: datetime) -> None:
    await conn.execute("UPDATE evaluation_sheets SET status = 'submitted', submitted_at = $3, sheet_sha256 = $4"
                       " WHERE lot_id = $1 AND expert_id = $2", lot_id, expert_id, now, sheet_sha256)


async def set_sheet_void(conn, lot_id: UUID, expert_id: UUID) -> bool:
    done = await conn.execute("UPDATE evaluation_sheets SET status = 'void' WHERE lot_id = $1 AND expert_id = $2"
                              " AND status <> 'void'", lot_id, expert_id)
    return done != "UPDATE 0"


async def list_sheet_rows(conn, lot_id: UUID, expert_ids: list[UUID], *,
                          comments: bool = True) -> tuple[list, list]:
    """Scores and marks of the given experts; bid ids as text (the arithmetic keys on strings)."""
    note = "comment" if comments else "'' AS comment"
    scores = await conn.fetch(
        f"SELECT expert_id, bid_id::text AS bid_id, item_id, points, {note} FROM evaluation_scores"
        " WHERE lot_id = $1 AND expert_id = ANY($2::uuid[])", lot_id, expert_ids)
    marks = await conn.fetch(
        f"SELECT expert_id, bid_id::text AS bid_id, criterion_id, passed, {note} FROM evaluation_marks"
        " WHERE lot_id = $1 AND expert_id = ANY($2::uuid[])", lot_id, expert_ids)
    return scores, marks


async def list_sheet_arrays(conn, lot_id: UUID, expert_ids: list[UUID]) -> tuple[list, list]:
    """The same values as list_sheet_rows without comments, one row per expert with parallel arrays: decoding
    54,000 scores as a few arrays is several times faster than as 54,000 records."""
    scores = await conn.fetch(
        "SELECT expert_id, array_agg(bid_id::text) AS bids, array_agg(item_id) AS items,"
        " array_agg(points::text) AS points FROM evaluation_scores"
        " WHERE lot_id = $1 AND expert_id = ANY($2::uuid[]) GROUP BY expert_id", lot_id, expert_ids)
    marks = await conn.fetch(
        "SELECT expert_id, array_agg(bid_id::text) AS bids, array_agg(criterion_id) AS criteria,"
        " array_agg(passed) AS passed FROM evaluation_marks"
        " WHERE lot_id = $1 AND expert_id = ANY($2::uuid[]) GROUP BY expert_id", lot_id, expert_ids)
    return scores, marks


async def list_sheet_statuses(conn, lot_id: UUID) -> dict[UUID, str]:
    rows = await conn.fetch("SELECT expert_id, status FROM evaluation_sheets WHERE lot_id = $1", lot_id)
    return {r["expert_id"]: r["status"] for r in rows}


# flags and results --------------------------------------------------------------------------------------------

async def insert_flags(conn, lot_id: UUID, rows: list[tuple[UUID, UUID, str, Decimal, Decimal, Decimal]],
                       now: datetime) -> None:
    await conn.executemany(
        "INSERT INTO evaluation_flags (lot_id, expert_id, bid_id, item_id, points, others_mean, max_points, status,"
        " flagged_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8)",
        [(lot_id, *r, now) for r in rows])


async def void_open_flags(conn, lot_id: UUID) -> None:
    await conn.execute("UPDATE evaluation_flags SET status = 'void' WHERE lot_id = $1 AND status = 'open'", lot_id)


async def list_flags(conn, lot_id: UUID) -> list[Flag]:
    rows = await conn.fetch("SELECT * FROM evaluation_flags WHERE lot_id = $1 AND status <> 'void'"
                            " ORDER BY flagged_at, expert_id, bid_id, item_id", lot_id)
    return [_to(r, Flag) for r in rows]


async def lock_flag(conn, lot_id: UUID, flag_id: UUID) -> Flag:
    row = await conn.fetchrow("SELECT * FROM evaluation_flags WHERE lot_id = $1 AND id = $2 FOR UPDATE",
                              lot_id, flag_id)
    if row is None:
        raise FlagNotFound(f"flag {flag_id} not found on this lot")
    return _to(row, Flag)


async def answer_flag(conn, flag_id: UUID, *, status: str, answer: str, new_points: Decimal | None,
                      now: datetime) -> None:
    await conn.execute("UPDATE evaluation_flags SET status = $2, answer = $3, new_points = $4, answered_at = $5"
                       " WHERE id = $1", flag_id, status, answer, new_points, now)


async def replace_results(conn, lot_id: UUID, rows: list[tuple]) -> None:
    await conn.execute("DELETE FROM evaluation_results WHERE lot_id = $1", lot_id)
    await conn.executemany(
        "INSERT INTO evaluation_results (lot_id, bid_id, valid, failures, price_fen, price_score, technical,"
        " commercial, total, rank, tied) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        [(lot_id, *r) for r in rows])


async def delete_results(conn, lot_id: UUID) -> None:
    await conn.execute("DELETE FROM evaluation_results WHERE lot_id = $1", lot_id)


async def list_results(conn, lot_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM evaluation_results WHERE lot_id = $1"
                            " ORDER BY rank NULLS LAST, bid_id", lot_id)


async def insert_correction(conn, lot_id: UUID, expert_id: UUID, bid_id: UUID, item_id: str, *,
                            old_points: Decimal, new_points: Decimal, reason_code: str, reason: str,
                            now: datetime) -> UUID:
    return await conn.fetchval(
        "INSERT INTO evaluation_corrections (lot_id, expert_id, bid_id, item_id, old_points, new_points, reason_code,"
        " reason, corrected_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        lot_id, expert_id, bid_id, item_id, old_points, new_points, reason_code, reason, now)


async def list_corrections(conn, lot_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM evaluation_corrections WHERE lot_id = $1 ORDER BY corrected_at, id",
                            lot_id)


async def find_score(conn, lot_id: UUID, expert_id: UUID, bid_id: UUID, item_id: str) -> Decimal | None:
    return await conn.fetchval("SELECT points FROM evaluation_scores WHERE lot_id = $1 AND expert_id = $2"
                               " AND bid_id = $3 AND item_id = $4", lot_id, expert_id, bid_id, item_id)


# accesses -----------------------------------------------------------------------------------------------------

async def insert_access(conn, lot_id: UUID, expert_id: UUID, bid_id: UUID, what: str, now: datetime,
                        addr: str | None) -> None:
    await conn.execute("INSERT INTO evaluation_accesses (lot_id, expert_id, bid_id, what, at, addr)"
                       " VALUES ($1, $2, $3, $4, $5, $6)", lot_id, expert_id, bid_id, what, now, addr)


async def count_accesses(conn, lot_id: UUID) -> int:
    return await conn.fetchval("SELECT count(*) FROM evaluation_accesses WHERE lot_id = $1", lot_id)


# report -------------------------------------------------------------------------------------------------------

async def insert_report(conn, lot_id: UUID, content: dict, content_sha256: str, by: UUID, now: datetime) -> None:
    await conn.execute("INSERT INTO evaluation_reports (lot_id, content, content_sha256, drafted_by, drafted_at)"
                       " VALUES ($1, $2, $3, $4, $5)", lot_id, content, content_sha256, by, now)


async def find_report(conn, lot_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM evaluation_reports WHERE lot_id = $1", lot_id)


async def set_report_signed(conn, lot_id: UUID, pdf_sha256: str, now: datetime) -> None:
    await conn.execute("UPDATE evaluation_reports SET pdf_sha256 = $2, signed_at = $3 WHERE lot_id = $1",
                       lot_id, pdf_sha256, now)


async def insert_confirmation(conn, lot_id: UUID, expert_id: UUID, agrees: bool, dissent: str | None,
                              now: datetime, *, deemed: bool = False) -> bool:
    done = await conn.execute(
        "INSERT INTO evaluation_confirmations (lot_id, expert_id, agrees, dissent, confirmed_at, deemed)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING", lot_id, expert_id, agrees, dissent, now, deemed)
    return done == "INSERT 0 1"


async def list_confirmations(conn, lot_id: UUID) -> dict[UUID, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM evaluation_confirmations WHERE lot_id = $1", lot_id)
    return {r["expert_id"]: r for r in rows}


# publicity, objections, notices -------------------------------------------------------------------------------

async def insert_publicity(conn, lot_id: UUID, *, candidates: list[dict], starts_at: datetime, ends_at: datetime,
                           contact: str, by: UUID) -> None:
    await conn.execute("INSERT INTO award_publicity (lot_id, candidates, starts_at, ends_at, contact, published_by)"
                       " VALUES ($1, $2, $3, $4, $5, $6)", lot_id, candidates, starts_at, ends_at, contact, by)


async def find_publicity(conn, lot_id: UUID) -> Publicity | None:
    return _to(await conn.fetchrow("SELECT * FROM award_publicity WHERE lot_id = $1", lot_id), Publicity)


async def get_publicity(conn, lot_id: UUID) -> Publicity:
    p = await find_publicity(conn, lot_id)
    if p is None:
        raise PublicityNotFound(f"lot {lot_id} has no published candidates")
    return p


async def list_publicities(conn, limit: int = 50) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT p.lot_id, p.starts_at, p.ends_at, p.candidates, l.name AS lot_name, l.number, t.code, t.title,"
        " l.status FROM award_publicity p JOIN lots l ON l.id = p.lot_id JOIN tenders t ON t.id = l.tender_id"
        " ORDER BY p.starts_at DESC LIMIT $1", limit)


async def insert_objection(conn, lot_id: UUID, org_id: UUID, user_id: UUID, content: str,
                           now: datetime, answer_due: datetime) -> AwardObjection:
    return _to(await conn.fetchrow(
        "INSERT INTO award_objections (lot_id, org_id, user_id, content, filed_at, answer_due)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *", lot_id, org_id, user_id, content, now, answer_due),
        AwardObjection)


async def mark_overdue_objections(conn, now: datetime, limit: int = 500) -> list[asyncpg.Record]:
    """Unanswered objections past their due time not yet marked: mark them (once) and return them."""
    return await conn.fetch(
        "UPDATE award_objections o SET overdue_at = $1 FROM lots l WHERE l.id = o.lot_id AND o.id IN ("
        " SELECT id FROM award_objections WHERE answered_at IS NULL AND overdue_at IS NULL AND answer_due <= $1"
        " ORDER BY answer_due LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " RETURNING o.id, o.lot_id, l.tender_id, o.answer_due", now, limit)


async def list_overdue_objections(conn, now: datetime) -> list[OverdueAwardObjection]:
    rows = await conn.fetch(
        "SELECT o.id, o.lot_id, l.tender_id, t.title AS tender_title, o.filed_at, o.answer_due, o.overdue_at"
        " FROM award_objections o JOIN lots l ON l.id = o.lot_id JOIN tenders t ON t.id = l.tender_id"
        " WHERE o.answered_at IS NULL AND o.answer_due <= $1 ORDER BY o.answer_due, o.id", now)
    return [_to(r, OverdueAwardObjection) for r in rows]


async def lock_objection(conn, lot_id: UUID, objection_id: UUID) -> AwardObjection:
    row = await conn.fetchrow("SELECT * FROM award_objections WHERE lot_id = $1 AND id = $2 FOR UPDATE",
                              lot_id, objection_id)
    if row is None:
        raise ObjectionNotFound(f"objection {objection_id} not found on this lot")
    return _to(row, AwardObjection)


async def answer_objection(conn, objection_id: UUID, *, answer: str, upheld: bool, by: UUID,
                           now: datetime) -> AwardObjection:
    return _to(await conn.fetchrow(
        "UPDATE award_objections SET answer = $2, upheld = $3, answered_by = $4, answered_at = $5 WHERE id = $1"
        " RETURNING *", objection_id, answer, upheld, by, now), AwardObjection)


async def list_objections(conn, lot_id: UUID) -> list[AwardObjection]:
    rows = await conn.fetch("SELECT * FROM award_objections WHERE lot_id = $1 ORDER BY filed_at", lot_id)
    return [_to(r, AwardObjection) for r in rows]


# government procurement: the purchaser's determination (award_determinations) ---------------------------------

async def insert_determination(conn, lot_id: UUID, *, candidates: list[dict], report_pdf_sha256: str,
                               evaluated_at: datetime, by: UUID, now: datetime, send_due: datetime, late: bool,
                               decision_due: datetime) -> Determination:
    return _to(await conn.fetchrow(
        "INSERT INTO award_determinations (lot_id, candidates, report_pdf_sha256, evaluated_at, sent_by, sent_at,"
        " send_due, sent_late, decision_due) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        lot_id, candidates, report_pdf_sha256, evaluated_at, by, now, send_due, late, decision_due), Determination)


async def find_determination(conn, lot_id: UUID, *, lock: bool = False) -> Determination | None:
    sql = "SELECT * FROM award_determinations WHERE lot_id = $1" + (" FOR UPDATE" if lock else "")
    return _to(await conn.fetchrow(sql, lot_id), Determination)


async def set_winner_determined(conn, lot_id: UUID, *, how: str, bid_id: UUID, rank: int, reason: str | None,
                                by: UUID | None, now: datetime, award_due: datetime) -> Determination:
    return _to(await conn.fetchrow(
        "UPDATE award_determinations SET how = $2, winner_bid_id = $3, winner_rank = $4, reason = $5,"
        " decided_by = $6, decided_at = $7, award_due = $8 WHERE lot_id = $1 AND how IS NULL RETURNING *",
        lot_id, how, bid_id, rank, reason, by, now, award_due), Determination)


async def lock_undetermined_past_due(conn, now: datetime, limit: int = 500) -> list[tuple[Determination, UUID]]:
    """(determination, tender id) of lots still in evaluation whose decision period is over with no decision;
    locked, rows locked by others skipped."""
    rows = await conn.fetch(
        "SELECT d.*, l.tender_id FROM award_determinations d JOIN lots l ON l.id = d.lot_id"
        " WHERE d.how IS NULL AND d.decision_due <= $1 AND l.status = 'evaluation' ORDER BY d.decision_due"
        " LIMIT $2 FOR UPDATE OF d SKIP LOCKED", now, limit)
    return [(_to(r, Determination), r["tender_id"]) for r in rows]


async def set_result_announced(conn, lot_id: UUID, *, now: datetime, ends_at: datetime,
                               challenge_due: datetime) -> None:
    await conn.execute("UPDATE award_determinations SET announced_at = $2, announcement_ends_at = $3,"
                       " challenge_due = $4 WHERE lot_id = $1", lot_id, now, ends_at, challenge_due)


async def insert_notice(conn, lot_id: UUID, *, bid_id: UUID, org_id: UUID, kind: str, rank: int | None,
                        pdf_sha256: str, by: UUID, now: datetime, reason: str | None, award_round: int = 1) -> None:
    await conn.execute(
        "INSERT INTO award_notices (lot_id, bid_id, org_id, kind, rank, pdf_sha256, issued_by, issued_at, reason,"
        " award_round) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", lot_id, bid_id, org_id, kind, rank,
        pdf_sha256, by, now, reason, award_round)


async def list_notices(conn, lot_id: UUID, *, all_rounds: bool = False) -> list[Notice]:
    """The notices in force (the current round's); with all_rounds also the superseded ones, newest round first."""
    rows = await conn.fetch(
        "SELECT * FROM award_notices WHERE lot_id = $1" + ("" if all_rounds else " AND superseded_at IS NULL")
        + " ORDER BY award_round DESC, kind, rank NULLS LAST", lot_id)
    return [_to(r, Notice) for r in rows]


async def supersede_notices(conn, lot_id: UUID, now: datetime) -> int:
    """Mark the notices in force superseded; returns their round."""
    return await conn.fetchval(
        "UPDATE award_notices SET superseded_at = $2 WHERE lot_id = $1 AND superseded_at IS NULL"
        " RETURNING award_round", lot_id, now)


async def insert_rescission(conn, lot_id: UUID, *, award_round: int, bid_id: UUID, org_id: UUID, cause: str,
                            reason: str, outcome: str, next_bid_id: UUID | None, next_rank: int | None, by: UUID,
                            now: datetime) -> Rescission:
    return _to(await conn.fetchrow(
        "INSERT INTO award_rescissions (lot_id, award_round, bid_id, org_id, cause, reason, outcome, next_bid_id,"
        " next_rank, decided_by, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING *",
        lot_id, award_round, bid_id, org_id, cause, reason, outcome, next_bid_id, next_rank, by, now), Rescission)


async def list_rescissions(conn, lot_id: UUID) -> list[Rescission]:
    rows = await conn.fetch("SELECT * FROM award_rescissions WHERE lot_id = $1 ORDER BY award_round", lot_id)
    return [_to(r, Rescission) for r in rows]


async def redetermine_winner(conn, lot_id: UUID, *, bid_id: UUID, rank: int, reason: str, by: UUID,
                             now: datetime, award_due: datetime) -> Determination:
    """Government procurement: the winner named again after a rescission (a decision, not a deemed one)."""
    return _to(await conn.fetchrow(
        "UPDATE award_determinations SET how = 'decided', winner_bid_id = $2, winner_rank = $3, reason = $4,"
        " decided_by = $5, decided_at = $6, award_due = $7 WHERE lot_id = $1 RETURNING *",
        lot_id, bid_id, rank, reason, by, now, award_due), Determination)


# ------------------------------------------------------------------------------------------ evaluation time

async def set_time_limit(conn, lot_id: UUID, until: datetime) -> int:
    """Store a new limit and open a new round of requests; returns the new round."""
    return await conn.fetchval(
        "UPDATE evaluations SET time_limit = $2, time_round = time_round + 1 WHERE lot_id = $1 RETURNING time_round",
        lot_id, until)


async def insert_time_request(conn, lot_id: UUID, round_: int, expert_id: UUID, reason: str, now: datetime) -> bool:
    """False when this member already asked in this round."""
    return await conn.fetchval(
        "INSERT INTO evaluation_time_requests (lot_id, round, expert_id, reason, requested_at)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
        lot_id, round_, expert_id, reason, now) is True


async def count_time_requests(conn, lot_id: UUID, round_: int) -> int:
    """Requests of this round by members still sitting."""
    return await conn.fetchval(
        "SELECT count(*) FROM evaluation_time_requests r JOIN evaluation_members m"
        " ON m.lot_id = r.lot_id AND m.expert_id = r.expert_id AND m.status = 'active'"
        " WHERE r.lot_id = $1 AND r.round = $2", lot_id, round_)


# ------------------------------------------------------------------------------------------------ contracts

async def find_contract(conn, lot_id: UUID) -> Contract | None:
    return _to(await conn.fetchrow("SELECT * FROM award_contracts WHERE lot_id = $1", lot_id), Contract)


async def insert_contract(conn, *, lot_id: UUID, bid_id: UUID, org_id: UUID, price_fen: int, bond_fen: int,
                          signed_at: datetime, due_at: datetime, late: bool, by: UUID, now: datetime) -> Contract:
    return _to(await conn.fetchrow(
        "INSERT INTO award_contracts (lot_id, bid_id, org_id, price_fen, performance_bond_fen, signed_at, due_at, late,"
        " recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *",
        lot_id, bid_id, org_id, price_fen, bond_fen, signed_at, due_at, late, by, now), Contract)


async def winner_notice(conn, lot_id: UUID) -> asyncpg.Record | None:
    """The award notice in force (a rescinded winner's is superseded)."""
    return await conn.fetchrow("SELECT bid_id, org_id, issued_at, rank, award_round FROM award_notices"
                               " WHERE lot_id = $1 AND kind = 'award' AND superseded_at IS NULL", lot_id)


# Each duty after the award: the table whose row for the lot means it is done, and whether it applies to every
# award or only to projects that must be tendered under the Bidding Law (招标投标法 第四十七条).
# A report is owed per round of award notices (a winner named after a rescission is determined anew); the contract
# ends the award, so one per lot.
_DUTY_TABLES = {"contract": ("award_contracts", "true", ""),
                "supervisor_report": ("award_supervisor_reports", "t.regime = 'bidding_law' AND t.must_tender",
                                      " AND d.award_round = n.award_round")}


def _missing(duty: str) -> str:
    table, applies, same_round = _DUTY_TABLES[duty]
    return (f" FROM award_notices n JOIN lots l ON l.id = n.lot_id JOIN tenders t ON t.id = l.tender_id"
            f" WHERE n.kind = 'award' AND n.superseded_at IS NULL AND n.issued_at < $1 AND {applies}"
            f" AND NOT EXISTS (SELECT 1 FROM {table} d WHERE d.lot_id = n.lot_id{same_round})")


async def awards_missing(conn, duty: str, issued_before: datetime, limit: int = 500) -> list[asyncpg.Record]:
    """Awards notified before `issued_before` whose duty is not done and not yet logged as overdue."""
    return await conn.fetch(
        "SELECT n.lot_id, l.tender_id, n.org_id, n.issued_at" + _missing(duty)
        + " AND NOT EXISTS (SELECT 1 FROM award_overdue o WHERE o.lot_id = n.lot_id AND o.duty = $2"
        " AND o.due_at > n.issued_at)"
        " ORDER BY n.issued_at LIMIT $3", issued_before, duty, limit)


async def insert_overdue(conn, lot_id: UUID, duty: str, due_at: datetime, now: datetime) -> bool:
    return await conn.fetchval(
        "INSERT INTO award_overdue (lot_id, duty, due_at, logged_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING RETURNING true", lot_id, duty, due_at, now) is True


async def list_awards_missing(conn, duty: str, issued_before: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT n.lot_id, l.tender_id, t.title AS tender_title, n.org_id AS winner_org_id, n.issued_at AS notice_at"
        + _missing(duty) + " ORDER BY n.issued_at", issued_before)


async def find_supervisor_report(conn, lot_id: UUID, award_round: int | None = None) -> asyncpg.Record | None:
    """The report of that round of award notices; without a round, the latest report."""
    if award_round is None:
        return await conn.fetchrow("SELECT * FROM award_supervisor_reports WHERE lot_id = $1"
                                   " ORDER BY award_round DESC LIMIT 1", lot_id)
    return await conn.fetchrow("SELECT * FROM award_supervisor_reports WHERE lot_id = $1 AND award_round = $2",
                               lot_id, award_round)


async def insert_supervisor_report(conn, lot_id: UUID, *, award_round: int, pdf_sha256: str, due_at: datetime,
                                   late: bool, by: UUID, now: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO award_supervisor_reports (lot_id, award_round, pdf_sha256, due_at, late, submitted_by,"
        " submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        lot_id, award_round, pdf_sha256, due_at, late, by, now)


# ------------------------------------------------------------------------------------------ review rounds

async def archive_round(conn, lot_id: UUID, reason: str, by: UUID, now: datetime) -> int:
    """Copy what this round produced into evaluation_rounds and clear it, so the committee scores again;
    returns the round archived (1 for the first evaluation)."""
    round_ = await conn.fetchval(
        "INSERT INTO evaluation_rounds (lot_id, round, reason, results, flags, report, publicity, objections,"
        " archived_by, archived_at) SELECT $1, (SELECT count(*) + 1 FROM evaluation_rounds WHERE lot_id = $1), $2,"
        " (SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.rank NULLS LAST, x.bid_id), '[]')"
        "  FROM evaluation_results x WHERE x.lot_id = $1),"
        " (SELECT coalesce(jsonb_agg(to_jsonb(f) ORDER BY f.id), '[]') FROM evaluation_flags f WHERE f.lot_id = $1),"
        " (SELECT to_jsonb(r) - 'content' || jsonb_build_object('content_sha256', r.content_sha256, 'confirmations',"
        "   (SELECT coalesce(jsonb_agg(to_jsonb(c) ORDER BY c.expert_id), '[]') FROM evaluation_confirmations c"
        "    WHERE c.lot_id = $1)) FROM evaluation_reports r WHERE r.lot_id = $1),"
        " (SELECT to_jsonb(p) FROM award_publicity p WHERE p.lot_id = $1),"
        " (SELECT coalesce(jsonb_agg(to_jsonb(o) ORDER BY o.filed_at), '[]') FROM award_objections o"
        "  WHERE o.lot_id = $1),"
        " $3, $4 RETURNING round", lot_id, reason, by, now)
    await conn.execute("DELETE FROM award_objections WHERE lot_id = $1", lot_id)
    await conn.execute("DELETE FROM award_publicity WHERE lot_id = $1", lot_id)
    await conn.execute("DELETE FROM evaluation_confirmations WHERE lot_id = $1", lot_id)
    await conn.execute("DELETE FROM evaluation_reports WHERE lot_id = $1", lot_id)
    await conn.execute("DELETE FROM evaluation_flags WHERE lot_id = $1", lot_id)
    await conn.execute("DELETE FROM evaluation_results WHERE lot_id = $1", lot_id)
    # The members' sheets open again as they were (their own starting point); void sheets stay void. The old
    # evaluation time is spent: the agency sets a new one if it wants one.
    await conn.execute("UPDATE evaluation_sheets SET status = 'draft', submitted_at = NULL, sheet_sha256 = NULL"
                       " WHERE lot_id = $1 AND status = 'submitted'", lot_id)
    await conn.execute("UPDATE evaluations SET status = 'scoring', revealed_at = NULL, time_limit = NULL,"
                       " time_round = time_round + 1 WHERE lot_id = $1", lot_id)
    return round_


async def list_rounds(conn, lot_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM evaluation_rounds WHERE lot_id = $1 ORDER BY round", lot_id)


# ------------------------------------------------------------------------------------------- clarifications

async def insert_clarification(conn, lot_id: UUID, bid_id: UUID, org_id: UUID, question: str, asked_by: UUID,
                               now: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO evaluation_clarifications (lot_id, bid_id, org_id, question, asked_by, asked_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) RETURNING *", lot_id, bid_id, org_id, question, asked_by, now)


async def lock_clarification(conn, lot_id: UUID, clarification_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM evaluation_clarifications WHERE lot_id = $1 AND id = $2 FOR UPDATE",
                               lot_id, clarification_id)


async def answer_clarification(conn, clarification_id: UUID, answer: str, by: UUID, now: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE evaluation_clarifications SET answer = $2, answered_by = $3, answered_at = $4 WHERE id = $1"
        " RETURNING *", clarification_id, answer, by, now)


async def list_clarifications(conn, lot_id: UUID, *, org_id: UUID | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM evaluation_clarifications WHERE lot_id = $1 AND ($2::uuid IS NULL OR org_id = $2)"
        " ORDER BY asked_at, id", lot_id, org_id)


async def list_clarifications_for_org(conn, org_id: UUID) -> list[asyncpg.Record]:
    """Every request to one bidder, newest first, with its lot's name (for the bidder's page)."""
    return await conn.fetch(
        "SELECT c.*, l.name AS lot_name, l.number AS lot_number, t.code AS tender_code, t.title AS tender_title"
        " FROM evaluation_clarifications c JOIN lots l ON l.id = c.lot_id JOIN tenders t ON t.id = l.tender_id"
        " WHERE c.org_id = $1 ORDER BY c.asked_at DESC, c.id", org_id)


# ------------------------------------------------------------------------------------------- price corrections

async def insert_price_correction(conn, lot_id: UUID, bid_id: UUID, org_id: UUID, rule: str, explanation: str,
                                  opened_fen: int, corrected_fen: int, proposed_by: UUID,
                                  now: datetime) -> asyncpg.Record | None:
    """None when the bid already has a correction (one per bid)."""
    return await conn.fetchrow(
        "INSERT INTO evaluation_price_corrections (lot_id, bid_id, org_id, rule, explanation, opened_fen, corrected_fen,"
        " proposed_by, proposed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        " ON CONFLICT (lot_id, bid_id) DO NOTHING RETURNING *",
        lot_id, bid_id, org_id, rule, explanation, opened_fen, corrected_fen, proposed_by, now)


async def lock_price_correction(conn, lot_id: UUID, correction_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM evaluation_price_corrections WHERE lot_id = $1 AND id = $2 FOR UPDATE",
                               lot_id, correction_id)


async def decide_price_correction(conn, correction_id: UUID, decision: str, by: UUID,
                                  now: datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        "UPDATE evaluation_price_corrections SET decision = $2, decided_by = $3, decided_at = $4 WHERE id = $1"
        " RETURNING *", correction_id, decision, by, now)


async def list_price_corrections(conn, lot_id: UUID, *, org_id: UUID | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM evaluation_price_corrections WHERE lot_id = $1 AND ($2::uuid IS NULL OR org_id = $2)"
        " ORDER BY proposed_at, id", lot_id, org_id)


async def count_pending_price_corrections(conn, lot_id: UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM evaluation_price_corrections WHERE lot_id = $1 AND decision IS NULL", lot_id)


async def list_price_corrections_for_org(conn, org_id: UUID) -> list[asyncpg.Record]:
    """Every price correction of one bidder's bids, newest first, with its lot's name (for the bidder's page)."""
    return await conn.fetch(
        "SELECT c.*, l.name AS lot_name, l.number AS lot_number, t.code AS tender_code, t.title AS tender_title"
        " FROM evaluation_price_corrections c JOIN lots l ON l.id = c.lot_id JOIN tenders t ON t.id = l.tender_id"
        " WHERE c.org_id = $1 ORDER BY c.proposed_at DESC, c.id", org_id)
