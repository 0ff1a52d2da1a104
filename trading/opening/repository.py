"""All SQL of the opening ($n parameters; returns Structs)."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from trading.opening.errors import ObjectionNotFound, OpeningLotNotFound, OpeningNotFound
from trading.opening.schemas import (
    BidToOpen,
    CustodianProgress,
    LotForOpening,
    Objection,
    OpenedBid,
    OpeningRecord,
    OpeningSession,
    ShareRow,
    SignIn,
)


def _to(row: asyncpg.Record | None, type_: type) -> Any:
    return None if row is None else msgspec.convert(dict(row), type_)


_LOT = """
SELECT l.id, l.tender_id, l.number, l.name, l.status, l.custodian_k, l.custodian_n, l.max_price_fen,
       l.reference_price_fen, l.bid_fields, l.ceremony_hash, t.code AS tender_code, t.title AS tender_title, t.status AS tender_status,
       t.regime, t.suspended, t.agency_org_id, t.tenderer_org_id, t.bid_deadline
FROM lots l JOIN tenders t ON t.id = l.tender_id
WHERE l.id = $1
"""


async def get_lot(conn: asyncpg.Connection, lot_id: UUID) -> LotForOpening:
    lot = _to(await conn.fetchrow(_LOT, lot_id), LotForOpening)
    if lot is None:
        raise OpeningLotNotFound(f"lot {lot_id} not found")
    return lot


async def lock_lot(conn: asyncpg.Connection, lot_id: UUID) -> LotForOpening:
    lot = _to(await conn.fetchrow(_LOT + " FOR UPDATE OF l", lot_id), LotForOpening)
    if lot is None:
        raise OpeningLotNotFound(f"lot {lot_id} not found")
    return lot


async def list_lots_due(conn: asyncpg.Connection, now: datetime, limit: int = 50) -> list[UUID]:
    """Lots whose deadline has passed and that have no opening session yet (the scanner's work list)."""
    rows = await conn.fetch(
        """SELECT l.id FROM lots l JOIN tenders t ON t.id = l.tender_id
           WHERE t.bid_deadline <= $1 AND t.status = 'published' AND NOT t.suspended
             AND NOT (t.regulator_suspended AND (t.regulator_suspended_until IS NULL OR t.regulator_suspended_until > $1))
             AND l.status IN ('published', 'closed')
             AND NOT EXISTS (SELECT 1 FROM opening_sessions s WHERE s.lot_id = l.id)
           ORDER BY t.bid_deadline LIMIT $2""",
        now, limit,
    )
    return [r["id"] for r in rows]


async def list_sessions_unsealing(conn: asyncpg.Connection) -> list[UUID]:
    rows = await conn.fetch("SELECT lot_id FROM opening_sessions WHERE status = 'unsealing' ORDER BY started_at")
    return [r["lot_id"] for r in rows]


# sessions ---------------------------------------------------------------------------------------------------

async def find_session(conn: asyncpg.Connection, lot_id: UUID) -> OpeningSession | None:
    return _to(await conn.fetchrow("SELECT * FROM opening_sessions WHERE lot_id = $1", lot_id), OpeningSession)


async def get_session(conn: asyncpg.Connection, lot_id: UUID) -> OpeningSession:
    session = await find_session(conn, lot_id)
    if session is None:
        raise OpeningNotFound(f"lot {lot_id} has no opening session (its deadline has not passed yet)")
    return session


async def lock_session(conn: asyncpg.Connection, lot_id: UUID) -> OpeningSession:
    row = await conn.fetchrow("SELECT * FROM opening_sessions WHERE lot_id = $1 FOR UPDATE", lot_id)
    if row is None:
        raise OpeningNotFound(f"lot {lot_id} has no opening session (its deadline has not passed yet)")
    return _to(row, OpeningSession)


async def insert_session(conn: asyncpg.Connection, *, lot_id: UUID, tender_id: UUID, status: str,
                         deadline: datetime, k: int, deadline_seq: int, window_ends_at: datetime,
                         started_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO opening_sessions (lot_id, tender_id, status, deadline, k, deadline_seq, window_ends_at,
                                         started_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        lot_id, tender_id, status, deadline, k, deadline_seq, window_ends_at, started_at,
    )


async def set_session_started(conn: asyncpg.Connection, lot_id: UUID, start_seq: int, entry_sha256: str) -> None:
    await conn.execute(
        "UPDATE opening_sessions SET start_seq = $2, start_entry_sha256 = $3 WHERE lot_id = $1",
        lot_id, start_seq, entry_sha256,
    )


async def set_session_status(conn: asyncpg.Connection, lot_id: UUID, status: str, **times: Any) -> None:
    allowed = {"unsealed_at", "published_at", "closed_at", "closed_by"}
    sets = ["status = $2"]
    args: list[Any] = [lot_id, status]
    for name, value in times.items():
        if name not in allowed:
            raise ValueError(name)
        args.append(value)
        sets.append(f"{name} = ${len(args)}")
    await conn.execute(f"UPDATE opening_sessions SET {', '.join(sets)} WHERE lot_id = $1", *args)


# bids to open ------------------------------------------------------------------------------------------------

async def insert_bid_to_open(conn: asyncpg.Connection, lot_id: UUID, *, bid_id: UUID, version: int,
                             bidder_org_id: UUID, manifest_sha256: str, ct_root: str,
                             accepted_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO opening_bids (lot_id, bid_id, version, bidder_org_id, manifest_sha256, ct_root, accepted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        lot_id, bid_id, version, bidder_org_id, manifest_sha256, ct_root, accepted_at,
    )


async def list_bids_on_list(conn: asyncpg.Connection, lot_id: UUID) -> list[BidToOpen]:
    rows = await conn.fetch("SELECT * FROM opening_bids WHERE lot_id = $1 ORDER BY accepted_at, bid_id", lot_id)
    return [_to(r, BidToOpen) for r in rows]


async def find_bid_on_list(conn: asyncpg.Connection, lot_id: UUID, bid_id: UUID) -> BidToOpen | None:
    return _to(await conn.fetchrow("SELECT * FROM opening_bids WHERE lot_id = $1 AND bid_id = $2", lot_id, bid_id),
               BidToOpen)


async def lock_ready_bids(conn: asyncpg.Connection, lot_id: UUID, k: int, limit: int) -> list[BidToOpen]:
    """Pending bids with at least k good shares, locked; bids another worker holds are skipped."""
    rows = await conn.fetch(
        """SELECT b.* FROM opening_bids b
           WHERE b.lot_id = $1 AND b.state = 'pending'
             AND (SELECT count(*) FROM opening_shares s
                  WHERE s.lot_id = b.lot_id AND s.bid_id = b.bid_id AND s.status = 'good') >= $2
           ORDER BY b.accepted_at, b.bid_id
           LIMIT $3 FOR NO KEY UPDATE OF b SKIP LOCKED""",
        lot_id, k, limit,
    )
    return [_to(r, BidToOpen) for r in rows]


async def lock_next_unstored(conn: asyncpg.Connection, lot_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT bid_id, dek FROM opened_bids WHERE lot_id = $1 AND status = 'opened' AND NOT attachments_stored
           ORDER BY bid_id LIMIT 1 FOR UPDATE SKIP LOCKED""", lot_id)


async def mark_attachments_stored(conn: asyncpg.Connection, lot_id: UUID, bid_id: UUID) -> None:
    await conn.execute("UPDATE opened_bids SET attachments_stored = true WHERE lot_id = $1 AND bid_id = $2",
                       lot_id, bid_id)


async def list_lots_with_unstored_attachments(conn: asyncpg.Connection) -> list[UUID]:
    rows = await conn.fetch(
        "SELECT DISTINCT lot_id FROM opened_bids WHERE status = 'opened' AND NOT attachments_stored")
    return [r["lot_id"] for r in rows]


async def lock_pending_bids(conn: asyncpg.Connection, lot_id: UUID) -> list[BidToOpen]:
    rows = await conn.fetch(
        "SELECT * FROM opening_bids WHERE lot_id = $1 AND state = 'pending' ORDER BY accepted_at, bid_id"
        " FOR NO KEY UPDATE",
        lot_id,
    )
    return [_to(r, BidToOpen) for r in rows]


async def count_bid_states(conn: asyncpg.Connection, lot_id: UUID) -> dict[str, int]:
    rows = await conn.fetch("SELECT state, count(*) AS n FROM opening_bids WHERE lot_id = $1 GROUP BY state", lot_id)
    counts = {"pending": 0, "opened": 0, "revoked": 0, "withdrawn": 0}
    counts.update({r["state"]: r["n"] for r in rows})
    return counts


async def set_bid_state(conn: asyncpg.Connection, lot_id: UUID, bid_id: UUID, state: str) -> None:
    await conn.execute("UPDATE opening_bids SET state = $3 WHERE lot_id = $1 AND bid_id = $2", lot_id, bid_id, state)


# shares ------------------------------------------------------------------------------------------------------

async def insert_release(conn: asyncpg.Connection, *, lot_id: UUID, custodian_id: UUID, x: int, statement: bytes,
                         signature: bytes, statement_sha256: str, received_at: datetime,
                         addr: str | None) -> UUID | None:
    """The release's id; None when the very same statement was already received (idempotent resubmission)."""
    return await conn.fetchval(
        """INSERT INTO opening_releases (lot_id, custodian_id, x, statement, signature, statement_sha256,
                                         received_at, addr)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (lot_id, statement_sha256) DO NOTHING RETURNING id""",
        lot_id, custodian_id, x, statement, signature, statement_sha256, received_at, addr,
    )


async def find_release_by_hash(conn: asyncpg.Connection, lot_id: UUID, statement_sha256: str) -> UUID | None:
    return await conn.fetchval(
        "SELECT id FROM opening_releases WHERE lot_id = $1 AND statement_sha256 = $2", lot_id, statement_sha256)


async def find_share(conn: asyncpg.Connection, lot_id: UUID, bid_id: UUID, custodian_id: UUID) -> ShareRow | None:
    return _to(await conn.fetchrow(
        "SELECT * FROM opening_shares WHERE lot_id = $1 AND bid_id = $2 AND custodian_id = $3",
        lot_id, bid_id, custodian_id), ShareRow)


async def upsert_share(conn: asyncpg.Connection, *, lot_id: UUID, bid_id: UUID, custodian_id: UUID, x: int,
                       share: bytes, status: str, cause: str | None, release_id: UUID,
                       received_at: datetime) -> bool:
    """Store a released share. A good share is never replaced; a bad one may be corrected. True if stored."""
    row = await conn.fetchrow(
        """INSERT INTO opening_shares (lot_id, bid_id, custodian_id, x, share, status, cause, release_id, received_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (lot_id, bid_id, custodian_id) DO UPDATE
             SET share = EXCLUDED.share, status = EXCLUDED.status, cause = EXCLUDED.cause,
                 release_id = EXCLUDED.release_id, received_at = EXCLUDED.received_at
             WHERE opening_shares.status = 'bad'
           RETURNING 1""",
        lot_id, bid_id, custodian_id, x, share, status, cause, release_id, received_at,
    )
    return row is not None


async def list_good_shares(conn: asyncpg.Connection, lot_id: UUID, bid_id: UUID) -> list[ShareRow]:
    rows = await conn.fetch(
        "SELECT * FROM opening_shares WHERE lot_id = $1 AND bid_id = $2 AND status = 'good' ORDER BY x",
        lot_id, bid_id,
    )
    return [_to(r, ShareRow) for r in rows]


async def list_custodian_progress(conn: asyncpg.Connection, lot_id: UUID) -> list[CustodianProgress]:
    rows = await conn.fetch(
        """SELECT c.custodian_id, u.display_name, c.x,
                  (SELECT count(*) FROM opening_shares s WHERE s.lot_id = c.lot_id
                     AND s.custodian_id = c.custodian_id AND s.status = 'good') AS good,
                  (SELECT count(*) FROM opening_shares s WHERE s.lot_id = c.lot_id
                     AND s.custodian_id = c.custodian_id AND s.status = 'bad') AS bad,
                  (SELECT max(r.received_at) FROM opening_releases r WHERE r.lot_id = c.lot_id
                     AND r.custodian_id = c.custodian_id) AS released_at
           FROM lot_custodians c JOIN users u ON u.id = c.custodian_id
           WHERE c.lot_id = $1 ORDER BY c.x""",
        lot_id,
    )
    return [_to(r, CustodianProgress) for r in rows]


async def find_lot_custodian(conn: asyncpg.Connection, lot_id: UUID, custodian_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT lot_id, custodian_id, x, suite, hpke_public_key FROM lot_custodians"
        " WHERE lot_id = $1 AND custodian_id = $2",
        lot_id, custodian_id,
    )


async def list_identity_keys(conn: asyncpg.Connection, user_id: UUID) -> list[bytes]:
    """The user's approved Ed25519 identity public keys."""
    rows = await conn.fetch(
        "SELECT public_key FROM identity_keys WHERE user_id = $1 AND status = 'approved'", user_id)
    return [bytes(r["public_key"]) for r in rows]


# outcomes ----------------------------------------------------------------------------------------------------

async def insert_opened_bid(conn: asyncpg.Connection, *, lot_id: UUID, bid_id: UUID, bidder_org_id: UUID,
                            bidder_name: str, manifest_sha256: str, status: str, cause: str | None,
                            detail: str | None, dek: bytes | None, price_fen: int | None,
                            duration_days: int | None, form: dict | None, attachments: list[dict],
                            plaintext_sha256: str | None, opened_at: datetime) -> None:
    await conn.execute(
        """INSERT INTO opened_bids (lot_id, bid_id, bidder_org_id, bidder_name, manifest_sha256, status, cause,
                                    detail, dek, price_fen, duration_days, form, attachments, plaintext_sha256,
                                    opened_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)""",
        lot_id, bid_id, bidder_org_id, bidder_name, manifest_sha256, status, cause, detail, dek, price_fen,
        duration_days, form, attachments, plaintext_sha256, opened_at,
    )


async def list_opened_bids(conn: asyncpg.Connection, lot_id: UUID) -> list[OpenedBid]:
    """Every settled bid of the lot's opening — opened, revoked (撤销) or withdrawn (撤回) — for evaluation."""
    rows = await conn.fetch(
        """SELECT o.lot_id, o.bid_id, o.bidder_org_id, o.bidder_name, o.manifest_sha256, o.status, o.cause,
                  o.detail, o.price_fen, o.duration_days, o.form, o.attachments, o.opened_at
           FROM opened_bids o JOIN opening_bids b USING (lot_id, bid_id)
           WHERE o.lot_id = $1 ORDER BY b.accepted_at, o.bid_id""",
        lot_id,
    )
    return [_to(r, OpenedBid) for r in rows]


async def get_org_name(conn: asyncpg.Connection, org_id: UUID) -> str:
    return await conn.fetchval("SELECT name FROM organisations WHERE id = $1", org_id) or str(org_id)


async def get_org_names(conn: asyncpg.Connection, org_ids: list[UUID]) -> dict[UUID, str]:
    rows = await conn.fetch("SELECT id, name FROM organisations WHERE id = ANY($1::uuid[])", org_ids)
    return {r["id"]: r["name"] for r in rows}


# sign-ins, record, confirmations, objections -----------------------------------------------------------------

async def insert_signin(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID, user_id: UUID, at: datetime,
                        addr: str | None) -> bool:
    row = await conn.fetchrow(
        """INSERT INTO opening_signins (lot_id, org_id, user_id, signed_in_at, addr) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (lot_id, org_id) DO NOTHING RETURNING 1""",
        lot_id, org_id, user_id, at, addr,
    )
    return row is not None


async def list_signins(conn: asyncpg.Connection, lot_id: UUID) -> list[SignIn]:
    rows = await conn.fetch(
        """SELECT s.org_id, o.name AS org_name, s.user_id, s.signed_in_at
           FROM opening_signins s JOIN organisations o ON o.id = s.org_id
           WHERE s.lot_id = $1 ORDER BY s.signed_in_at""",
        lot_id,
    )
    return [_to(r, SignIn) for r in rows]


async def insert_record(conn: asyncpg.Connection, lot_id: UUID, record: dict, record_sha256: str,
                        pdf_sha256: str | None, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO opening_records (lot_id, record, record_sha256, pdf_sha256, published_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        lot_id, record, record_sha256, pdf_sha256, at,
    )


async def set_final_record(conn: asyncpg.Connection, lot_id: UUID, record: dict, pdf_sha256: str,
                           at: datetime) -> None:
    await conn.execute(
        "UPDATE opening_records SET final_record = $2, final_pdf_sha256 = $3, closed_at = $4 WHERE lot_id = $1",
        lot_id, record, pdf_sha256, at)


async def get_record_or_fail(conn: asyncpg.Connection, lot_id: UUID) -> OpeningRecord:
    from trading.opening.errors import OpeningNotPublished

    record = await find_record(conn, lot_id)
    if record is None:
        raise OpeningNotPublished("the opening record is not published yet (decryption is not complete)")
    return record


async def find_record(conn: asyncpg.Connection, lot_id: UUID) -> OpeningRecord | None:
    return _to(await conn.fetchrow("SELECT * FROM opening_records WHERE lot_id = $1", lot_id), OpeningRecord)


async def insert_confirmation(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID, user_id: UUID,
                              at: datetime) -> bool:
    row = await conn.fetchrow(
        """INSERT INTO opening_confirmations (lot_id, org_id, user_id, confirmed_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (lot_id, org_id) DO NOTHING RETURNING 1""",
        lot_id, org_id, user_id, at,
    )
    return row is not None


async def list_confirmations(conn: asyncpg.Connection, lot_id: UUID) -> dict[UUID, datetime]:
    rows = await conn.fetch("SELECT org_id, confirmed_at FROM opening_confirmations WHERE lot_id = $1", lot_id)
    return {r["org_id"]: r["confirmed_at"] for r in rows}


async def insert_objection(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID, user_id: UUID, content: str,
                           at: datetime) -> UUID:
    return await conn.fetchval(
        "INSERT INTO opening_objections (lot_id, org_id, user_id, content, raised_at)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING id",
        lot_id, org_id, user_id, content, at,
    )


_OBJECTION = """SELECT j.id, j.lot_id, j.org_id, o.name AS org_name, j.user_id, j.content, j.raised_at, j.answer,
                       j.answered_by, j.answered_at
                FROM opening_objections j JOIN organisations o ON o.id = j.org_id"""


async def lock_objection(conn: asyncpg.Connection, lot_id: UUID, objection_id: UUID) -> Objection:
    row = await conn.fetchrow(_OBJECTION + " WHERE j.lot_id = $1 AND j.id = $2 FOR UPDATE OF j", lot_id,
                              objection_id)
    if row is None:
        raise ObjectionNotFound(f"objection {objection_id} not found in this opening")
    return _to(row, Objection)


async def answer_objection(conn: asyncpg.Connection, objection_id: UUID, answer: str, user_id: UUID,
                           at: datetime) -> None:
    await conn.execute(
        "UPDATE opening_objections SET answer = $2, answered_by = $3, answered_at = $4 WHERE id = $1",
        objection_id, answer, user_id, at,
    )


async def list_objections(conn: asyncpg.Connection, lot_id: UUID) -> list[Objection]:
    rows = await conn.fetch(_OBJECTION + " WHERE j.lot_id = $1 ORDER BY j.raised_at", lot_id)
    return [_to(r, Objection) for r in rows]


async def count_unanswered_objections(conn: asyncpg.Connection, lot_id: UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM opening_objections WHERE lot_id = $1 AND answer IS NULL", lot_id)


async def find_checkpoint_covering(conn: asyncpg.Connection, seq: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT tree_size, note FROM log_checkpoints WHERE tree_size > $1 ORDER BY tree_size LIMIT 1", seq)


async def get_log_entry(conn: asyncpg.Connection, seq: int) -> bytes:
    return bytes(await conn.fetchval("SELECT entry FROM log_entries WHERE seq = $1", seq))
