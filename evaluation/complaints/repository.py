"""All SQL of complaints ($n parameters; returns Structs or plain rows). Reads the objections of every stage
(tender_objections, opening_objections, award_objections) and who obtained the documents or bid."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from evaluation.complaints.errors import ComplaintNotFound
from evaluation.complaints.schemas import Complaint, Evidence

_SELECT = """
SELECT c.id, c.tender_id, t.code AS tender_code, t.title AS tender_title, t.bid_deadline, c.lot_id, c.regime, c.org_id,
       o.name AS org_name, c.matter, c.objection_id, c.request, c.grounds, c.known_on, c.last_day, c.filed_at,
       c.accept_due, c.status, c.reviewed_at, c.reviewed_late, c.refuse_reason, c.decision_due, c.decision,
       c.decision_text, c.decided_at, c.decided_late, c.suspended_at, c.suspend_reason, c.suspension_ends_at,
       c.first_suspended_at,
       c.withdraw_requested_at, c.withdraw_reason, c.withdraw_refused_at, c.withdraw_refuse_reason, c.withdrawn_at
FROM complaints c JOIN tenders t ON t.id = c.tender_id JOIN organisations o ON o.id = c.org_id
"""


def _complaint(row: asyncpg.Record | None) -> Complaint | None:
    return None if row is None else msgspec.convert(dict(row), Complaint)


async def insert_complaint(conn, *, tender_id: UUID, lot_id: UUID | None, regime: str, org_id: UUID, user_id: UUID,
                           matter: str, objection_id: UUID | None, request: str, grounds: str, known_on: date,
                           last_day: date, now: datetime, accept_due: datetime) -> Complaint:
    cid = await conn.fetchval(
        "INSERT INTO complaints (tender_id, lot_id, regime, org_id, user_id, matter, objection_id, request, grounds,"
        " known_on, last_day, filed_at, accept_due) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " RETURNING id",
        tender_id, lot_id, regime, org_id, user_id, matter, objection_id, request, grounds, known_on, last_day, now,
        accept_due)
    return await get_complaint(conn, cid)


async def get_complaint(conn, complaint_id: UUID, *, lock: bool = False) -> Complaint:
    row = await conn.fetchrow(_SELECT + " WHERE c.id = $1" + (" FOR UPDATE OF c" if lock else ""), complaint_id)
    if row is None:
        raise ComplaintNotFound(f"complaint {complaint_id} not found")
    return (await _with_evidence(conn, [_complaint(row)]))[0]


_EVIDENCE_COLS = "id, complaint_id, filename, content_type, sha256, size, added_at"


async def _with_evidence(conn, items: list[Complaint]) -> list[Complaint]:
    if items:
        rows = await conn.fetch(f"SELECT {_EVIDENCE_COLS} FROM complaint_evidence WHERE complaint_id = ANY($1::uuid[])"
                                " ORDER BY added_at, id", [c.id for c in items])
        by: dict[UUID, list[Evidence]] = {}
        for r in rows:
            d = dict(r)
            by.setdefault(d.pop("complaint_id"), []).append(msgspec.convert(d, Evidence))
        for c in items:
            c.evidence = by.get(c.id, [])
    return items


async def insert_evidence(conn, complaint_id: UUID, *, filename: str, content_type: str, sha256: str, size: int,
                          by: UUID, now: datetime) -> Evidence:
    row = await conn.fetchrow(
        "INSERT INTO complaint_evidence (complaint_id, filename, content_type, sha256, size, added_by, added_at)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_EVIDENCE_COLS}",
        complaint_id, filename, content_type, sha256, size, by, now)
    d = dict(row)
    d.pop("complaint_id")
    return msgspec.convert(d, Evidence)


async def list_complaints(conn, *, org_id: UUID | None = None, party_org_id: UUID | None = None,
                          everything: bool = False) -> list[Complaint]:
    """Everything (regulators), a complainant organisation's own, or the accepted complaints about the tenders of
    an agency or tenderer organisation (`party_org_id`)."""
    if everything:
        rows = await conn.fetch(_SELECT + " ORDER BY c.filed_at DESC")
    elif org_id is not None:
        rows = await conn.fetch(_SELECT + " WHERE c.org_id = $1 ORDER BY c.filed_at DESC", org_id)
    elif party_org_id is not None:
        rows = await conn.fetch(
            _SELECT + " WHERE (t.agency_org_id = $1 OR t.tenderer_org_id = $1) AND c.status IN ('accepted', 'decided')"
            " ORDER BY c.filed_at DESC", party_org_id)
    else:
        rows = []
    return await _with_evidence(conn, [_complaint(r) for r in rows])


async def set_reviewed(conn, complaint_id: UUID, *, status: str, by: UUID, now: datetime, late: bool,
                       reason: str | None, decision_due: datetime | None) -> Complaint:
    await conn.execute(
        "UPDATE complaints SET status = $2, reviewed_by = $3, reviewed_at = $4, reviewed_late = $5,"
        " refuse_reason = $6, decision_due = $7 WHERE id = $1",
        complaint_id, status, by, now, late, reason, decision_due)
    return await get_complaint(conn, complaint_id)


async def set_decided(conn, complaint_id: UUID, *, decision: str, text: str, by: UUID, now: datetime,
                      late: bool) -> Complaint:
    await conn.execute(
        "UPDATE complaints SET status = 'decided', decision = $2, decision_text = $3, decided_by = $4,"
        " decided_at = $5, decided_late = $6, suspended_at = NULL, suspended_by = NULL, suspend_reason = NULL,"
        " suspension_ends_at = NULL"
        " WHERE id = $1", complaint_id, decision, text, by, now, late)
    return await get_complaint(conn, complaint_id)


async def set_suspension(conn, complaint_id: UUID, *, at: datetime | None, by: UUID | None,
                         reason: str | None, ends_at: datetime | None = None) -> Complaint:
    """Order (at) or lift (at None) the complaint's suspension; the first order's instant is kept for good."""
    await conn.execute(
        "UPDATE complaints SET suspended_at = $2, suspended_by = $3, suspend_reason = $4, suspension_ends_at = $5,"
        " first_suspended_at = COALESCE(first_suspended_at, $2) WHERE id = $1",
        complaint_id, at, by, reason, ends_at if at is not None else None)
    return await get_complaint(conn, complaint_id)


async def set_withdraw_request(conn, complaint_id: UUID, *, reason: str, now: datetime) -> Complaint:
    await conn.execute("UPDATE complaints SET withdraw_requested_at = $2, withdraw_reason = $3,"
                       " withdraw_refused_at = NULL, withdraw_refuse_reason = NULL WHERE id = $1",
                       complaint_id, now, reason)
    return await get_complaint(conn, complaint_id)


async def set_withdraw_refused(conn, complaint_id: UUID, *, reason: str, now: datetime) -> Complaint:
    await conn.execute("UPDATE complaints SET withdraw_requested_at = NULL, withdraw_refused_at = $2,"
                       " withdraw_refuse_reason = $3 WHERE id = $1", complaint_id, now, reason)
    return await get_complaint(conn, complaint_id)


async def set_withdrawn(conn, complaint_id: UUID, *, reason: str, by: UUID, now: datetime) -> Complaint:
    """The complaint ends withdrawn; an order to suspend it gave is lifted with it (the caller logs both)."""
    await conn.execute(
        "UPDATE complaints SET status = 'withdrawn', withdrawn_at = $2, withdrawn_by = $3, withdraw_reason = $4,"
        " withdraw_requested_at = NULL, suspended_at = NULL, suspended_by = NULL, suspend_reason = NULL,"
        " suspension_ends_at = NULL WHERE id = $1", complaint_id, now, by, reason)
    return await get_complaint(conn, complaint_id)


async def withdrawn_before(conn, *, tender_id: UUID, org_id: UUID, matter: str,
                           objection_id: UUID | None) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM complaints WHERE tender_id = $1 AND org_id = $2 AND matter = $3"
        " AND objection_id IS NOT DISTINCT FROM $4 AND status = 'withdrawn')", tender_id, org_id, matter, objection_id)


async def standing_suspensions(conn, tender_id: UUID) -> tuple[int, datetime | None]:
    """How many complaints' orders stand on the tender, and when the last of them lapses by law (None when any
    of them has no such limit, or none stands)."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, bool_or(suspension_ends_at IS NULL) AS open, max(suspension_ends_at) AS last"
        " FROM complaints WHERE tender_id = $1 AND suspended_at IS NOT NULL", tender_id)
    return row["n"], (None if row["n"] == 0 or row["open"] else row["last"])


async def lapsed_suspensions(conn, now: datetime, limit: int = 100) -> list[UUID]:
    """Complaints whose order to suspend has run its legal course and still stands (oldest first, locked)."""
    rows = await conn.fetch(
        "SELECT id FROM complaints WHERE suspended_at IS NOT NULL AND suspension_ends_at <= $1"
        " ORDER BY suspension_ends_at LIMIT $2 FOR UPDATE SKIP LOCKED", now, limit)
    return [r["id"] for r in rows]


# what a complaint rests on -------------------------------------------------------------------------------------

async def find_objection(conn, matter: str, objection_id: UUID) -> dict[str, Any] | None:
    """The prior objection of a stage, uniformly: tender_id, lot_id, org_id, filed_at, answered_at, answer_due
    (None where the stage answers on the spot: the opening, 条例 第四十四条)."""
    if matter == "tender_documents":
        sql = ("SELECT tender_id, lot_id, org_id, filed_at, answered_at, answer_due FROM tender_objections"
               " WHERE id = $1")
    elif matter == "opening":
        sql = ("SELECT l.tender_id, j.lot_id, j.org_id, j.raised_at AS filed_at, j.answered_at,"
               " NULL::timestamptz AS answer_due FROM opening_objections j JOIN lots l ON l.id = j.lot_id"
               " WHERE j.id = $1")
    elif matter == "candidates":
        sql = ("SELECT l.tender_id, j.lot_id, j.org_id, j.filed_at, j.answered_at, j.answer_due"
               " FROM award_objections j JOIN lots l ON l.id = j.lot_id WHERE j.id = $1")
    else:
        return None
    row = await conn.fetchrow(sql, objection_id)
    return dict(row) if row else None


async def is_interested(conn, org_id: UUID, tender_id: UUID, lot_id: UUID | None) -> bool:
    """利害关系人: the organisation obtained the documents of, or bid on, the lot (any lot of the tender when none)."""
    return await conn.fetchval(
        """SELECT EXISTS (
             SELECT 1 FROM lots l WHERE l.tender_id = $2 AND ($3::uuid IS NULL OR l.id = $3) AND (
               EXISTS (SELECT 1 FROM document_downloads d WHERE d.lot_id = l.id AND d.org_id = $1)
               OR EXISTS (SELECT 1 FROM bids b WHERE b.lot_id = l.id AND b.bidder_org_id = $1)
               OR EXISTS (SELECT 1 FROM opened_bids o WHERE o.lot_id = l.id AND o.bidder_org_id = $1)))""",
        org_id, tender_id, lot_id)


async def documents_obtained_at(conn, org_id: UUID, tender_id: UUID, lot_id: UUID | None) -> datetime | None:
    return await conn.fetchval(
        "SELECT min(d.first_at) FROM document_downloads d JOIN lots l ON l.id = d.lot_id"
        " WHERE l.tender_id = $2 AND ($3::uuid IS NULL OR l.id = $3) AND d.org_id = $1", org_id, tender_id, lot_id)


async def last_amendment_at(conn, tender_id: UUID) -> datetime | None:
    return await conn.fetchval(
        "SELECT max(created_at) FROM tender_versions WHERE tender_id = $1 AND kind IN ('amend', 'clarify')",
        tender_id)


async def publicity_starts_at(conn, lot_id: UUID) -> datetime | None:
    return await conn.fetchval("SELECT starts_at FROM award_publicity WHERE lot_id = $1", lot_id)


async def lot_of_tender(conn, lot_id: UUID, tender_id: UUID) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM lots WHERE id = $1 AND tender_id = $2)",
                               lot_id, tender_id)
