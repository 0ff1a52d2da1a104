"""All SQL of the tenders package ($1 parameters; returns Structs)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from trading.tenders.errors import DocumentNotFound, LotNotFound, ObjectionNotFound, TenderNotFound
from trading.tenders.schemas import (Custodian, Document, Download, Lot, Objection, OverdueObjection, Tender,
                                     Version)

_TENDER_COLS = ("id, code, title, description, regime, must_tender, procurement_type, region, tenderer_org_id,"
                " agency_org_id, status, cancel_reason, publish_at, docs_from, docs_until, clarification_deadline,"
                " bid_deadline, suspended, regulator_suspended, regulator_suspended_until, version, created_by, created_at,"
                " updated_at")
_LOT_SELECT = (
    "SELECT l.id, l.tender_id, l.number, l.name, l.estimated_price_fen, l.max_price_fen, l.deposit_fen,"
    " l.evaluation_method, l.bid_fields, l.custodian_k, l.custodian_n, l.post_quantum, l.status, l.status_reason,"
    " l.ceremony_hash, l.ceremony_record, t.code AS tender_code, t.title AS tender_title, t.regime, t.must_tender,"
    " t.procurement_type, t.status AS tender_status, t.suspended, t.tenderer_org_id, t.agency_org_id, t.docs_from,"
    " t.docs_until, t.clarification_deadline, t.bid_deadline, t.publish_at, t.version, l.reference_price_fen,"
    " t.regulator_suspended, t.regulator_suspended_until"
    " FROM lots l JOIN tenders t ON t.id = l.tender_id"
)
_DOC_COLS = "id, tender_id, lot_id, version, filename, content_type, sha256, size, created_at"


def _tender(row: asyncpg.Record) -> Tender:
    return msgspec.convert(dict(row), Tender)


def _lot(row: asyncpg.Record) -> Lot:
    return msgspec.convert(dict(row), Lot)


# ---------------------------------------------------------------- tenders

async def find_tender_by_code(conn, code: str) -> Tender | None:
    row = await conn.fetchrow(f"SELECT {_TENDER_COLS} FROM tenders WHERE code = $1", code)
    return _tender(row) if row else None


async def insert_tender(conn, *, code, title, description, regime, must_tender, procurement_type, region,
                        tenderer_org_id, agency_org_id, docs_from, docs_until, clarification_deadline,
                        bid_deadline, created_by, now) -> Tender | None:
    """None when the code is taken (a concurrent creation won the race)."""
    row = await conn.fetchrow(
        "INSERT INTO tenders (code, title, description, regime, must_tender, procurement_type, region,"
        " tenderer_org_id, agency_org_id, docs_from, docs_until, clarification_deadline, bid_deadline,"
        " created_by, created_at, updated_at)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)"
        f" ON CONFLICT (code) DO NOTHING RETURNING {_TENDER_COLS}",
        code, title, description, regime, must_tender, procurement_type, region, tenderer_org_id, agency_org_id,
        docs_from, docs_until, clarification_deadline, bid_deadline, created_by, now,
    )
    return _tender(row) if row else None


async def get_tender(conn, tender_id: UUID) -> Tender:
    row = await conn.fetchrow(f"SELECT {_TENDER_COLS} FROM tenders WHERE id = $1", tender_id)
    if row is None:
        raise TenderNotFound(f"tender {tender_id} not found")
    return _tender(row)


async def lock_tender(conn, tender_id: UUID) -> Tender:
    row = await conn.fetchrow(f"SELECT {_TENDER_COLS} FROM tenders WHERE id = $1 FOR UPDATE", tender_id)
    if row is None:
        raise TenderNotFound(f"tender {tender_id} not found")
    return _tender(row)


async def set_tender_published(conn, tender_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE tenders SET status = 'published', publish_at = $2, updated_at = $2 WHERE id = $1", tender_id, now)


async def set_tender_cancelled(conn, tender_id: UUID, reason: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE tenders SET status = 'cancelled', cancel_reason = $2, updated_at = $3 WHERE id = $1",
        tender_id, reason, now)


async def set_tender_suspended(conn, tender_id: UUID, suspended: bool, now: datetime) -> None:
    await conn.execute("UPDATE tenders SET suspended = $2, updated_at = $3 WHERE id = $1", tender_id, suspended, now)


async def set_tender_regulator_suspended(conn, tender_id: UUID, suspended: bool, now: datetime,
                                         until: datetime | None = None) -> None:
    """The supervising authority's order to suspend (or its lifting), lapsing at `until` when the law limits it;
    the caller decides and logs it."""
    await conn.execute("UPDATE tenders SET regulator_suspended = $2, regulator_suspended_until = $4, updated_at = $3"
                       " WHERE id = $1", tender_id, suspended, now, until if suspended else None)


async def update_tender_amended(conn, tender_id: UUID, *, version: int, title: str, description: str,
                                docs_until: datetime, clarification_deadline: datetime, bid_deadline: datetime,
                                now: datetime) -> None:
    await conn.execute(
        "UPDATE tenders SET version = $2, title = $3, description = $4, docs_until = $5,"
        " clarification_deadline = $6, bid_deadline = $7, updated_at = $8 WHERE id = $1",
        tender_id, version, title, description, docs_until, clarification_deadline, bid_deadline, now)


# ---------------------------------------------------------------- lots

async def insert_lot(conn, *, tender_id, number, name, estimated_price_fen, max_price_fen, deposit_fen,
                     evaluation_method, bid_fields, custodian_k, custodian_n, post_quantum,
                     reference_price_fen=None) -> UUID:
    return await conn.fetchval(
        "INSERT INTO lots (tender_id, number, name, estimated_price_fen, max_price_fen, deposit_fen,"
        " evaluation_method, bid_fields, custodian_k, custodian_n, post_quantum, reference_price_fen)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
        tender_id, number, name, estimated_price_fen, max_price_fen, deposit_fen, evaluation_method, bid_fields,
        custodian_k, custodian_n, post_quantum, reference_price_fen,
    )


async def get_lot(conn, lot_id: UUID) -> Lot:
    row = await conn.fetchrow(f"{_LOT_SELECT} WHERE l.id = $1", lot_id)
    if row is None:
        raise LotNotFound(f"lot {lot_id} not found")
    return _lot(row)


async def lock_lot(conn, lot_id: UUID) -> Lot:
    """The lot row locked FOR UPDATE (the tender row is read, not locked)."""
    row = await conn.fetchrow(f"{_LOT_SELECT} WHERE l.id = $1 FOR UPDATE OF l", lot_id)
    if row is None:
        raise LotNotFound(f"lot {lot_id} not found")
    return _lot(row)


async def list_lots_for_tender(conn, tender_id: UUID) -> list[Lot]:
    rows = await conn.fetch(f"{_LOT_SELECT} WHERE l.tender_id = $1 ORDER BY l.number", tender_id)
    return [_lot(r) for r in rows]


async def list_lots_for_tenders(conn, tender_ids: list[UUID]) -> list[Lot]:
    rows = await conn.fetch(f"{_LOT_SELECT} WHERE l.tender_id = ANY($1::uuid[]) ORDER BY l.tender_id, l.number",
                            tender_ids)
    return [_lot(r) for r in rows]


async def update_lot_status(conn, lot_id: UUID, status: str, reason: str | None) -> None:
    await conn.execute("UPDATE lots SET status = $2, status_reason = $3 WHERE id = $1", lot_id, status, reason)


async def set_lot_ceremony(conn, lot_id: UUID, record: bytes, digest: bytes) -> None:
    await conn.execute("UPDATE lots SET ceremony_record = $2, ceremony_hash = $3 WHERE id = $1",
                       lot_id, record, digest)


# ---------------------------------------------------------------- custodians

async def replace_custodians(conn, lot_id: UUID, custodian_ids: list[UUID]) -> None:
    await conn.execute("DELETE FROM lot_custodians WHERE lot_id = $1", lot_id)
    await conn.executemany("INSERT INTO lot_custodians (lot_id, custodian_id, x) VALUES ($1, $2, $3)",
                           [(lot_id, cid, x) for x, cid in enumerate(custodian_ids, start=1)])


async def list_custodians_for_lot(conn, lot_id: UUID) -> list[Custodian]:
    rows = await conn.fetch(
        "SELECT lot_id, custodian_id, x, suite, hpke_public_key, signature, registered_at FROM lot_custodians"
        " WHERE lot_id = $1 ORDER BY x", lot_id)
    return [msgspec.convert(dict(r), Custodian) for r in rows]


async def set_custodian_key(conn, lot_id: UUID, custodian_id: UUID, *, suite: str, public_key: bytes,
                            signature: bytes, now: datetime) -> None:
    await conn.execute(
        "UPDATE lot_custodians SET suite = $3, hpke_public_key = $4, signature = $5, registered_at = $6"
        " WHERE lot_id = $1 AND custodian_id = $2", lot_id, custodian_id, suite, public_key, signature, now)


async def list_approved_identity_keys(conn, user_id: UUID) -> list[bytes]:
    rows = await conn.fetch(
        "SELECT public_key FROM identity_keys WHERE user_id = $1 AND status = 'approved'", user_id)
    return [bytes(r["public_key"]) for r in rows]


async def list_users_roles(conn, user_ids: list[UUID]) -> dict[UUID, tuple[list[str], bool, UUID | None]]:
    rows = await conn.fetch("SELECT id, roles, active, org_id FROM users WHERE id = ANY($1::uuid[])", user_ids)
    return {r["id"]: (list(r["roles"]), r["active"], r["org_id"]) for r in rows}


# ---------------------------------------------------------------- documents

async def insert_document(conn, *, tender_id, lot_id, version, filename, content_type, sha256, size, now) -> Document:
    row = await conn.fetchrow(
        "INSERT INTO tender_documents (tender_id, lot_id, version, filename, content_type, sha256, size, created_at)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {_DOC_COLS}",
        tender_id, lot_id, version, filename, content_type, sha256, size, now)
    return msgspec.convert(dict(row), Document)


async def list_documents(conn, tender_id: UUID, *, max_version: int | None = None) -> list[Document]:
    """Documents of a tender, issued up to max_version (None: every one, staged included)."""
    rows = await conn.fetch(
        f"SELECT {_DOC_COLS} FROM tender_documents WHERE tender_id = $1 AND ($2::int IS NULL OR version <= $2)"
        " ORDER BY version, created_at, filename", tender_id, max_version)
    return [msgspec.convert(dict(r), Document) for r in rows]


async def get_document(conn, document_id: UUID) -> Document:
    row = await conn.fetchrow(f"SELECT {_DOC_COLS} FROM tender_documents WHERE id = $1", document_id)
    if row is None:
        raise DocumentNotFound(f"document {document_id} not found")
    return msgspec.convert(dict(row), Document)


# ---------------------------------------------------------------- downloads (领取招标文件)

async def record_download(conn, lot_id: UUID, org_id: UUID, user_id: UUID, now: datetime) -> bool:
    """Upsert; True when this is the organisation's first download of the lot's documents."""
    first = await conn.fetchval(
        "INSERT INTO document_downloads (lot_id, org_id, user_id, first_at, last_at) VALUES ($1, $2, $3, $4, $4)"
        " ON CONFLICT (lot_id, org_id) DO UPDATE SET last_at = $4, count = document_downloads.count + 1"
        " RETURNING (xmax = 0)", lot_id, org_id, user_id, now)
    return bool(first)


async def has_downloaded(conn, lot_id: UUID, org_id: UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM document_downloads WHERE lot_id = $1 AND org_id = $2)", lot_id, org_id))


async def has_downloaded_any(conn, tender_id: UUID, org_id: UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM document_downloads d JOIN lots l ON l.id = d.lot_id"
        " WHERE l.tender_id = $1 AND d.org_id = $2)", tender_id, org_id))


async def first_obtained_at(conn, tender_id: UUID, org_id: UUID, lot_id: UUID | None) -> datetime | None:
    return await conn.fetchval(
        "SELECT min(d.first_at) FROM document_downloads d JOIN lots l ON l.id = d.lot_id"
        " WHERE l.tender_id = $1 AND d.org_id = $2 AND ($3::uuid IS NULL OR d.lot_id = $3)", tender_id, org_id, lot_id)


async def list_downloader_org_ids(conn, lot_id: UUID) -> list[UUID]:
    rows = await conn.fetch("SELECT org_id FROM document_downloads WHERE lot_id = $1 ORDER BY first_at, org_id",
                            lot_id)
    return [r["org_id"] for r in rows]


async def list_downloads(conn, lot_id: UUID) -> list[Download]:
    rows = await conn.fetch(
        "SELECT d.lot_id, d.org_id, o.name AS org_name, o.credit_code, d.user_id, d.first_at, d.last_at, d.count"
        " FROM document_downloads d JOIN organisations o ON o.id = d.org_id WHERE d.lot_id = $1"
        " ORDER BY d.first_at, d.org_id", lot_id)
    return [msgspec.convert(dict(r), Download) for r in rows]


# ---------------------------------------------------------------- versions

async def insert_version(conn, *, tender_id, version, kind, summary, snapshot: dict[str, Any], created_by,
                         now) -> None:
    await conn.execute(
        "INSERT INTO tender_versions (tender_id, version, kind, summary, snapshot, created_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)", tender_id, version, kind, summary, snapshot, created_by, now)


async def list_versions(conn, tender_id: UUID) -> list[Version]:
    rows = await conn.fetch(
        "SELECT version, kind, summary, snapshot, created_at FROM tender_versions WHERE tender_id = $1"
        " ORDER BY version", tender_id)
    return [msgspec.convert(dict(r), Version) for r in rows]


# ---------------------------------------------------------------- objections

_OBJ_COLS = "id, tender_id, lot_id, org_id, content, filed_at, answer, answered_at, answer_due, overdue_at"


async def insert_objection(conn, *, tender_id, lot_id, org_id, user_id, content, now, answer_due) -> Objection:
    row = await conn.fetchrow(
        "INSERT INTO tender_objections (tender_id, lot_id, org_id, user_id, content, filed_at, answer_due)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_OBJ_COLS}", tender_id, lot_id, org_id, user_id, content,
        now, answer_due)
    return msgspec.convert(dict(row), Objection)


async def mark_overdue_objections(conn, now: datetime, limit: int = 500) -> list[asyncpg.Record]:
    """Unanswered objections past their due time not yet marked: mark them (once) and return them."""
    return await conn.fetch(
        "UPDATE tender_objections SET overdue_at = $1 WHERE id IN ("
        " SELECT id FROM tender_objections WHERE answered_at IS NULL AND overdue_at IS NULL AND answer_due <= $1"
        " ORDER BY answer_due LIMIT $2 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, tender_id, lot_id, answer_due", now, limit)


async def list_overdue_objections(conn, now: datetime) -> list[OverdueObjection]:
    rows = await conn.fetch(
        "SELECT o.id, o.tender_id, t.title AS tender_title, o.filed_at, o.answer_due, o.overdue_at"
        " FROM tender_objections o JOIN tenders t ON t.id = o.tender_id"
        " WHERE o.answered_at IS NULL AND o.answer_due <= $1 ORDER BY o.answer_due, o.id", now)
    return [msgspec.convert(dict(r), OverdueObjection) for r in rows]


async def lock_objection(conn, objection_id: UUID) -> Objection:
    row = await conn.fetchrow(f"SELECT {_OBJ_COLS} FROM tender_objections WHERE id = $1 FOR UPDATE", objection_id)
    if row is None:
        raise ObjectionNotFound(f"objection {objection_id} not found")
    return msgspec.convert(dict(row), Objection)


async def answer_objection(conn, objection_id: UUID, answer: str, user_id: UUID, now: datetime) -> Objection:
    row = await conn.fetchrow(
        "UPDATE tender_objections SET answer = $2, answered_by = $3, answered_at = $4 WHERE id = $1"
        f" RETURNING {_OBJ_COLS}", objection_id, answer, user_id, now)
    return msgspec.convert(dict(row), Objection)


async def count_unanswered_objections(conn, tender_id: UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM tender_objections WHERE tender_id = $1 AND answered_at IS NULL", tender_id)


async def list_objections(conn, tender_id: UUID, *, org_id: UUID | None = None) -> list[Objection]:
    rows = await conn.fetch(
        f"SELECT {_OBJ_COLS} FROM tender_objections WHERE tender_id = $1 AND ($2::uuid IS NULL OR org_id = $2)"
        " ORDER BY filed_at, id", tender_id, org_id)
    return [msgspec.convert(dict(r), Objection) for r in rows]


# ---------------------------------------------------------------- public listing

_PUBLIC_WHERE = (
    " WHERE t.publish_at IS NOT NULL"
    " AND ($1::text IS NULL OR t.title ILIKE $1 OR t.code ILIKE $1)"
    " AND ($2::text IS NULL OR t.region LIKE $2 || '%')"
    " AND ($3::text IS NULL OR t.procurement_type = $3)"
    " AND ($4::text IS NULL"
    "      OR ($4 = 'open' AND t.status = 'published' AND t.bid_deadline > $5)"
    "      OR ($4 = 'closed' AND t.status = 'published' AND t.bid_deadline <= $5)"
    "      OR ($4 = 'cancelled' AND t.status = 'cancelled'))"
)


async def list_public_tenders(conn, *, now: datetime, q: str | None, region: str | None, procurement_type: str | None,
                              status: str | None, limit: int, offset: int) -> tuple[list[asyncpg.Record], int]:
    """Published (and cancelled after publication) tenders, newest first, and how many match."""
    pattern = None
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
    args = (pattern, region, procurement_type, status, now)
    rows = await conn.fetch(
        "SELECT t.id, t.code, t.title, t.regime, t.procurement_type, t.region, t.status, t.publish_at,"
        f" t.bid_deadline FROM tenders t {_PUBLIC_WHERE} ORDER BY t.publish_at DESC, t.id DESC LIMIT $6 OFFSET $7",
        *args, limit, offset)
    if offset == 0 and len(rows) < limit:
        return rows, len(rows)
    total = await conn.fetchval(f"SELECT count(*) FROM tenders t {_PUBLIC_WHERE}", *args)
    return rows, total


async def listing_stamp(conn) -> tuple[UUID, int] | None:
    row = await conn.fetchrow("SELECT epoch, v FROM tender_listing_version")
    return (row["epoch"], row["v"]) if row else None


async def next_deadline_after(conn, now: datetime) -> datetime | None:
    return await conn.fetchval(
        "SELECT min(bid_deadline) FROM tenders WHERE status = 'published' AND bid_deadline > $1", now)


async def lot_sums(conn, tender_ids: list[UUID]) -> dict[UUID, tuple[int, int]]:
    rows = await conn.fetch(
        "SELECT tender_id, count(*) AS n, sum(estimated_price_fen) AS total FROM lots"
        " WHERE tender_id = ANY($1::uuid[]) GROUP BY tender_id", tender_ids)
    return {r["tender_id"]: (r["n"], int(r["total"] or 0)) for r in rows}


async def org_names(conn, org_ids: list[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch("SELECT id, name FROM organisations WHERE id = ANY($1::uuid[])", org_ids)
    return {r["id"]: r["name"] for r in rows}


async def list_agency_tenders(conn, agency_org_id: UUID, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT t.id, t.code, t.title, t.regime, t.procurement_type, t.region, t.status, t.publish_at,"
        " t.bid_deadline, count(*) OVER () AS total FROM tenders t WHERE t.agency_org_id = $1"
        " ORDER BY t.created_at DESC, t.id DESC LIMIT $2 OFFSET $3", agency_org_id, limit, offset)


async def list_notices_for_org(conn, org_id: UUID, limit: int) -> list[asyncpg.Record]:
    """Amendments, clarifications and cancellations of tenders whose documents the organisation obtained
    (电子招标投标办法 第二十二条: every downloader is notified)."""
    return await conn.fetch(
        "SELECT v.tender_id, t.code, t.title, v.version, v.kind, v.summary, v.created_at, t.bid_deadline"
        " FROM tender_versions v JOIN tenders t ON t.id = v.tender_id"
        " WHERE v.kind <> 'publish' AND EXISTS (SELECT 1 FROM document_downloads d JOIN lots l ON l.id = d.lot_id"
        "   WHERE l.tender_id = v.tender_id AND d.org_id = $1)"
        " ORDER BY v.created_at DESC, v.version DESC LIMIT $2", org_id, limit)


async def update_draft(conn, tender_id: UUID, *, title, description, region, docs_from, docs_until,
                       clarification_deadline, bid_deadline, now) -> None:
    await conn.execute(
        "UPDATE tenders SET title = $2, description = $3, region = $4, docs_from = $5, docs_until = $6,"
        " clarification_deadline = $7, bid_deadline = $8, updated_at = $9 WHERE id = $1 AND status = 'draft'",
        tender_id, title, description, region, docs_from, docs_until, clarification_deadline, bid_deadline, now)


async def update_draft_lot(conn, lot_id: UUID, *, name, estimated_price_fen, deposit_fen, max_price_fen,
                           evaluation_method, reference_price_fen=None) -> None:
    await conn.execute(
        "UPDATE lots SET name = $2, estimated_price_fen = $3, deposit_fen = $4, max_price_fen = $5,"
        " evaluation_method = $6, reference_price_fen = $7 WHERE id = $1 AND status = 'draft'",
        lot_id, name, estimated_price_fen, deposit_fen, max_price_fen, evaluation_method, reference_price_fen)
