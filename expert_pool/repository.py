"""All SQL of the expert pool."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from expert_pool.errors import DrawNotFound, ExpertNotFound, InvitationNotFound
from expert_pool.schemas import DrawSummary, Expert, FormerEmployer, Invitation, Notification

_EXPERT_COLS = ("id, user_id, full_name, birth_date, employer_name, employer_credit_code, title, title_level,"
                " practice_since, region, phone, email, status, status_reason, applied_at, reviewed_at")


# ------------------------------------------------------------------------------------------------- experts


async def _expert(conn: asyncpg.Connection, row: asyncpg.Record) -> Expert:
    d = dict(row)
    d["specialties"] = [r["code"] for r in await conn.fetch(
        "SELECT code FROM expert_specialties WHERE expert_id = $1 ORDER BY code", row["id"])]
    d["former_employers"] = [msgspec.convert(dict(r), FormerEmployer) for r in await conn.fetch(
        "SELECT org_name, credit_code, ended_on FROM expert_employments WHERE expert_id = $1 ORDER BY ended_on DESC",
        row["id"])]
    return msgspec.convert(d, Expert)


async def insert_expert(conn: asyncpg.Connection, *, user_id: UUID, fields: dict[str, Any], now: datetime) -> UUID:
    cols = list(fields)
    values = [fields[c] for c in cols]
    placeholders = ", ".join(f"${i}" for i in range(3, len(cols) + 3))
    return await conn.fetchval(
        f"INSERT INTO experts (user_id, applied_at, updated_at, {', '.join(cols)})"
        f" VALUES ($1, $2, $2, {placeholders}) RETURNING id",
        user_id, now, *values,
    )


async def reapply_expert(conn: asyncpg.Connection, expert_id: UUID, *, fields: dict[str, Any], now: datetime) -> None:
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(fields, start=3))
    await conn.execute(
        f"UPDATE experts SET status = 'pending', status_reason = NULL, reviewed_at = NULL, reviewed_by = NULL,"
        f" applied_at = $2, updated_at = $2, {sets} WHERE id = $1",
        expert_id, now, *fields.values(),
    )
    await conn.execute("DELETE FROM expert_specialties WHERE expert_id = $1", expert_id)
    await conn.execute("DELETE FROM expert_employments WHERE expert_id = $1", expert_id)


async def insert_specialties(conn: asyncpg.Connection, expert_id: UUID, codes: list[str]) -> None:
    await conn.executemany("INSERT INTO expert_specialties (expert_id, code) VALUES ($1, $2)",
                           [(expert_id, c) for c in codes])


async def insert_employments(conn: asyncpg.Connection, expert_id: UUID, employers: list[FormerEmployer]) -> None:
    await conn.executemany(
        "INSERT INTO expert_employments (expert_id, org_name, credit_code, ended_on) VALUES ($1, $2, $3, $4)",
        [(expert_id, e.org_name, e.credit_code, e.ended_on) for e in employers],
    )


async def find_expert_by_user(conn: asyncpg.Connection, user_id: UUID) -> Expert | None:
    row = await conn.fetchrow(f"SELECT {_EXPERT_COLS} FROM experts WHERE user_id = $1", user_id)
    return await _expert(conn, row) if row else None


async def find_expert_by_id_number(conn: asyncpg.Connection, id_number: str) -> UUID | None:
    return await conn.fetchval("SELECT id FROM experts WHERE id_number = $1", id_number)


async def get_expert(conn: asyncpg.Connection, expert_id: UUID) -> Expert:
    row = await conn.fetchrow(f"SELECT {_EXPERT_COLS} FROM experts WHERE id = $1", expert_id)
    if row is None:
        raise ExpertNotFound(f"expert {expert_id} not found")
    return await _expert(conn, row)


async def lock_expert(conn: asyncpg.Connection, expert_id: UUID) -> Expert:
    row = await conn.fetchrow(f"SELECT {_EXPERT_COLS} FROM experts WHERE id = $1 FOR UPDATE", expert_id)
    if row is None:
        raise ExpertNotFound(f"expert {expert_id} not found")
    return await _expert(conn, row)


async def list_experts(conn: asyncpg.Connection, *, status: str | None = None, limit: int = 200) -> list[Expert]:
    rows = await conn.fetch(
        f"SELECT {_EXPERT_COLS} FROM experts WHERE $1::text IS NULL OR status = $1 ORDER BY applied_at, id LIMIT $2",
        status, limit,
    )
    return [await _expert(conn, r) for r in rows]


async def set_expert_status(conn: asyncpg.Connection, expert_id: UUID, *, status: str, reason: str | None,
                            actor: UUID | None, now: datetime, reviewed: bool = False) -> None:
    await conn.execute(
        "UPDATE experts SET status = $2, status_reason = $3, updated_at = $5,"
        " reviewed_at = CASE WHEN $6 THEN $5 ELSE reviewed_at END,"
        " reviewed_by = CASE WHEN $6 THEN $4 ELSE reviewed_by END WHERE id = $1",
        expert_id, status, reason, actor, now, reviewed,
    )
    await conn.execute(
        "INSERT INTO expert_status_events (expert_id, status, reason, actor, at) VALUES ($1, $2, $3, $4, $5)",
        expert_id, status, reason, actor, now,
    )


async def list_status_events(conn: asyncpg.Connection, expert_id: UUID) -> list[dict]:
    rows = await conn.fetch(
        "SELECT status, reason, actor, at FROM expert_status_events WHERE expert_id = $1 ORDER BY id", expert_id)
    return [dict(r) for r in rows]


async def add_unavailable_days(conn: asyncpg.Connection, expert_id: UUID, days: list[date]) -> None:
    await conn.executemany(
        "INSERT INTO expert_unavailability (expert_id, day) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        [(expert_id, d) for d in days],
    )


async def remove_unavailable_days(conn: asyncpg.Connection, expert_id: UUID, days: list[date]) -> None:
    await conn.execute("DELETE FROM expert_unavailability WHERE expert_id = $1 AND day = ANY($2::date[])",
                       expert_id, days)


async def list_unavailable_days(conn: asyncpg.Connection, expert_id: UUID, *, since: date) -> list[date]:
    rows = await conn.fetch(
        "SELECT day FROM expert_unavailability WHERE expert_id = $1 AND day >= $2 ORDER BY day", expert_id, since)
    return [r["day"] for r in rows]


async def standing_conflict(conn: asyncpg.Connection, expert_id: UUID, credit_code: str) -> UUID | None:
    """The expert's standing conflict with this organisation, if declared; locks the pair for the transaction
    first, so two declarations of it run one after the other."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('expert_conflict:' || $1 || ':' || $2, 0))",
                       str(expert_id), credit_code)
    return await conn.fetchval(
        "SELECT id FROM expert_conflicts WHERE expert_id = $1 AND lot_id IS NULL AND credit_code = $2 LIMIT 1",
        expert_id, credit_code)


async def insert_conflict(conn: asyncpg.Connection, *, expert_id: UUID, lot_id: UUID | None, credit_code: str | None,
                          reason: str, now: datetime) -> UUID:
    return await conn.fetchval(
        "INSERT INTO expert_conflicts (expert_id, lot_id, credit_code, reason, declared_at)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING id",
        expert_id, lot_id, credit_code, reason, now,
    )


async def list_conflicts(conn: asyncpg.Connection, expert_id: UUID) -> list[dict]:
    rows = await conn.fetch(
        "SELECT k.id, k.lot_id, k.credit_code, o.name AS org_name, k.reason, k.declared_at FROM expert_conflicts k"
        " LEFT JOIN organisations o ON o.credit_code = k.credit_code WHERE k.expert_id = $1 ORDER BY k.declared_at",
        expert_id)
    return [dict(r) for r in rows]


# ------------------------------------------------------------------------------------------- lots and parties


async def get_lot_context(conn: asyncpg.Connection, lot_id: UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT l.id AS lot_id, l.name AS lot_name, l.status, l.estimated_price_fen, t.id AS tender_id,"
        " t.code AS tender_code, t.title AS tender_title, t.regime, t.tenderer_org_id, t.agency_org_id,"
        " t.bid_deadline, tr.credit_code AS tenderer_credit_code, ag.credit_code AS agency_credit_code"
        " FROM lots l JOIN tenders t ON t.id = l.tender_id"
        " JOIN organisations tr ON tr.id = t.tenderer_org_id JOIN organisations ag ON ag.id = t.agency_org_id"
        " WHERE l.id = $1",
        lot_id,
    )
    return dict(row) if row else None


async def _bids_org_column(conn: asyncpg.Connection) -> str | None:
    """The bidder-organisation column of the bids engineer's table, if that table exists (catalog lookup: cheap)."""
    return await conn.fetchval(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass('bids') AND NOT attisdropped"
        " AND attname IN ('bidder_org_id', 'org_id') ORDER BY attname LIMIT 1"
    )


async def bidder_credit_codes(conn: asyncpg.Connection, lot_id: UUID) -> list[str]:
    """Every organisation that obtained the lot's documents (a superset of the bidders, known before and after the
    deadline), plus the bidders of trading/bids when that table exists."""
    column = await _bids_org_column(conn)
    union = ""
    if column:
        union = f" UNION SELECT {column} FROM bids WHERE lot_id = $1"
    rows = await conn.fetch(
        "SELECT o.credit_code FROM organisations o WHERE o.id IN"
        f" (SELECT org_id FROM document_downloads WHERE lot_id = $1{union}) ORDER BY 1",
        lot_id,
    )
    return [r["credit_code"] for r in rows]


_FACTS_SQL = """
    WITH q AS (SELECT code, idx - 1 AS idx FROM unnest($1::text[]) WITH ORDINALITY AS q(code, idx)),
    -- A specialty code (5 characters) matches itself, a category code (3) its specialties: one index lookup per
    -- quota either way (LATERAL keeps the planner from scanning the whole table for the branch not taken).
    matched AS (
        SELECT x.expert_id, q.idx FROM q, LATERAL (
            SELECT es.expert_id FROM expert_specialties es WHERE es.code = q.code {only}) x
        WHERE length(q.code) = 5
        UNION ALL
        SELECT x.expert_id, q.idx FROM q, LATERAL (
            SELECT es.expert_id FROM expert_specialties es WHERE es.category = q.code {only}) x
        WHERE length(q.code) = 3
    ),
    cand AS (SELECT expert_id, array_agg(DISTINCT idx ORDER BY idx) AS quotas FROM matched GROUP BY expert_id)
    SELECT e.id AS expert_id, c.quotas, e.status, e.title_level, e.practice_since, e.birth_date,
        (e.employer_credit_code = ANY($4::text[]) OR EXISTS (
            SELECT 1 FROM expert_employments x WHERE x.expert_id = e.id
            AND x.credit_code = ANY($4::text[]) AND x.ended_on >= $6)) AS employee_tenderer,
        (e.employer_credit_code = ANY($5::text[]) OR EXISTS (
            SELECT 1 FROM expert_employments x WHERE x.expert_id = e.id
            AND x.credit_code = ANY($5::text[]) AND x.ended_on >= $6)) AS employee_bidder,
        (SELECT count(*) FROM expert_draw_members m JOIN expert_draws d ON d.id = m.draw_id
            JOIN tenders t ON t.id = d.tender_id
            WHERE m.expert_id = e.id AND m.status = 'confirmed' AND t.tenderer_org_id = $3
            AND d.drawn_at >= $7 AND d.lot_id <> $2)::int AS tenderer_draws,
        EXISTS (SELECT 1 FROM expert_unavailability u WHERE u.expert_id = e.id AND u.day = $8) AS unavailable,
        EXISTS (SELECT 1 FROM expert_conflicts k WHERE k.expert_id = e.id AND (k.lot_id = $2
            OR k.credit_code = ANY($4::text[]) OR k.credit_code = ANY($5::text[]))) AS conflict
    FROM cand c JOIN experts e ON e.id = c.expert_id
    WHERE e.status IN ('approved', 'suspended')
    ORDER BY e.id
"""
_FACTS_ALL = _FACTS_SQL.format(only="")
_FACTS_SOME = _FACTS_SQL.format(only="AND es.expert_id = ANY($9::uuid[])")


async def candidate_facts(
    conn: asyncpg.Connection, *, quota_codes: list[str], lot_id: UUID, tenderer_org_id: UUID,
    tenderer_codes: list[str], bidder_codes: list[str], employment_cutoff: date, repeat_since: datetime,
    evaluation_day: date, expert_ids: list[UUID] | None = None,
) -> list[asyncpg.Record]:
    """Everyone in the pool (approved or suspended) who matches a quota, with what the avoidance rules need.

    `quotas` holds the 0-based indexes of the quotas each candidate matches. With `expert_ids`, only those.
    """
    args = [quota_codes, lot_id, tenderer_org_id, tenderer_codes, bidder_codes, employment_cutoff, repeat_since,
            evaluation_day]
    if expert_ids is None:
        return await conn.fetch(_FACTS_ALL, *args)
    return await conn.fetch(_FACTS_SOME, *args, expert_ids)


# ---------------------------------------------------------------------------------------------------- draws

_DRAW_COLS = ("id, lot_id, tender_id, requested_by, size, tenderer_representatives, alternates, evaluation_at,"
              " quotas, eligible, eligible_hash, server_secret, server_commit, agency_value, checkpoint_root,"
              " checkpoint_size, seed, status, commit_seq, reveal_seq, created_at, drawn_at, completed_at")


async def insert_draw(conn: asyncpg.Connection, **f: Any) -> dict:
    cols = list(f)
    row = await conn.fetchrow(
        f"INSERT INTO expert_draws ({', '.join(cols)}) VALUES ({', '.join(f'${i}' for i in range(1, len(cols) + 1))})"
        f" RETURNING {_DRAW_COLS}",
        *f.values(),
    )
    return dict(row)


async def find_draw_by_lot(conn: asyncpg.Connection, lot_id: UUID) -> dict | None:
    row = await conn.fetchrow(f"SELECT {_DRAW_COLS} FROM expert_draws WHERE lot_id = $1", lot_id)
    return dict(row) if row else None


async def list_draws(conn: asyncpg.Connection, *, status: str | None = None, limit: int = 200) -> list[DrawSummary]:
    rows = await conn.fetch(
        "SELECT d.id, d.lot_id, t.code AS tender_code, t.title AS tender_title, l.name AS lot_name, d.status,"
        " d.created_at, d.drawn_at,"
        " (SELECT count(*) FROM expert_draw_members m WHERE m.draw_id = d.id AND m.status = 'confirmed')::int"
        "   AS confirmed,"
        " (SELECT sum((q ->> 'count')::int) FROM jsonb_array_elements(d.quotas) q)::int AS needed"
        " FROM expert_draws d JOIN lots l ON l.id = d.lot_id JOIN tenders t ON t.id = d.tender_id"
        " WHERE $1::text IS NULL OR d.status = $1 ORDER BY d.created_at DESC LIMIT $2", status, limit)
    return [msgspec.convert(dict(r), DrawSummary) for r in rows]


async def get_draw(conn: asyncpg.Connection, draw_id: UUID, *, lock: bool = False) -> dict:
    row = await conn.fetchrow(
        f"SELECT {_DRAW_COLS} FROM expert_draws WHERE id = $1{' FOR UPDATE' if lock else ''}", draw_id)
    if row is None:
        raise DrawNotFound(f"draw {draw_id} not found")
    return dict(row)


async def update_draw(conn: asyncpg.Connection, draw_id: UUID, **f: Any) -> None:
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(f, start=2))
    await conn.execute(f"UPDATE expert_draws SET {sets} WHERE id = $1", draw_id, *f.values())


async def insert_exclusions(conn: asyncpg.Connection, draw_id: UUID, excluded: list[tuple[str, list[str]]]) -> None:
    await conn.copy_records_to_table("expert_draw_exclusions", columns=["draw_id", "expert_id", "reasons"],
                                     records=[(draw_id, UUID(e), reasons) for e, reasons in excluded])


async def exclusion_counts(conn: asyncpg.Connection, draw_id: UUID) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT r, count(*) AS n FROM expert_draw_exclusions, unnest(reasons) AS r WHERE draw_id = $1"
        " GROUP BY r ORDER BY r", draw_id)
    return {r["r"]: r["n"] for r in rows}


async def list_exclusions(conn: asyncpg.Connection, draw_id: UUID) -> list[dict]:
    rows = await conn.fetch(
        "SELECT expert_id::text AS expert_id, reasons FROM expert_draw_exclusions WHERE draw_id = $1"
        " ORDER BY expert_id", draw_id)
    return [dict(r) for r in rows]


async def list_excluded_names(conn: asyncpg.Connection, draw_id: UUID) -> list[dict]:
    rows = await conn.fetch(
        "SELECT x.expert_id, e.full_name, x.reasons FROM expert_draw_exclusions x JOIN experts e ON e.id = x.expert_id"
        " WHERE x.draw_id = $1 ORDER BY e.full_name, x.expert_id", draw_id)
    return [dict(r) for r in rows]


_MEMBER_COLS = ("m.id, m.draw_id, m.expert_id, m.quota, m.position, m.initial_role, m.step, m.status, m.invited_at,"
                " m.respond_by, m.responded_at, m.reason, m.replaces")


async def insert_member(conn: asyncpg.Connection, **f: Any) -> dict:
    cols = list(f)
    row = await conn.fetchrow(
        f"INSERT INTO expert_draw_members AS m ({', '.join(cols)})"
        f" VALUES ({', '.join(f'${i}' for i in range(1, len(cols) + 1))}) RETURNING {_MEMBER_COLS}",
        *f.values(),
    )
    return dict(row)


async def update_member(conn: asyncpg.Connection, member_id: UUID, **f: Any) -> dict:
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(f, start=2))
    row = await conn.fetchrow(
        f"UPDATE expert_draw_members AS m SET {sets} WHERE id = $1 RETURNING {_MEMBER_COLS}", member_id, *f.values())
    return dict(row)


async def list_members(conn: asyncpg.Connection, draw_id: UUID) -> list[dict]:
    rows = await conn.fetch(
        f"SELECT {_MEMBER_COLS}, e.full_name, e.user_id FROM expert_draw_members m"
        " JOIN experts e ON e.id = m.expert_id WHERE m.draw_id = $1 ORDER BY m.quota, m.position", draw_id)
    return [dict(r) for r in rows]


async def lock_member(conn: asyncpg.Connection, member_id: UUID) -> dict:
    row = await conn.fetchrow(f"SELECT {_MEMBER_COLS} FROM expert_draw_members m WHERE m.id = $1 FOR UPDATE",
                              member_id)
    if row is None:
        raise InvitationNotFound(f"invitation {member_id} not found")
    return dict(row)


async def find_member_of_expert(conn: asyncpg.Connection, draw_id: UUID, expert_id: UUID) -> dict | None:
    row = await conn.fetchrow(
        f"SELECT {_MEMBER_COLS} FROM expert_draw_members m WHERE m.draw_id = $1 AND m.expert_id = $2 FOR UPDATE",
        draw_id, expert_id)
    return dict(row) if row else None


async def max_step(conn: asyncpg.Connection, draw_id: UUID) -> int:
    return await conn.fetchval("SELECT coalesce(max(step), 0) FROM expert_draw_members WHERE draw_id = $1", draw_id)


async def lock_expired_invitations(conn: asyncpg.Connection, now: datetime, limit: int = 100) -> list[dict]:
    rows = await conn.fetch(
        f"SELECT {_MEMBER_COLS} FROM expert_draw_members m WHERE m.status = 'invited' AND m.respond_by < $1"
        " ORDER BY m.respond_by LIMIT $2 FOR UPDATE SKIP LOCKED", now, limit)
    return [dict(r) for r in rows]


async def list_invitations_for_expert(conn: asyncpg.Connection, expert_id: UUID) -> list[Invitation]:
    rows = await conn.fetch(
        "SELECT m.id AS member_id, d.id AS draw_id, d.lot_id, t.code AS tender_code, t.title AS tender_title,"
        " l.name AS lot_name, d.quotas -> m.quota ->> 'specialty' AS specialty, d.evaluation_at, m.status,"
        " m.invited_at, m.respond_by, m.responded_at"
        " FROM expert_draw_members m JOIN expert_draws d ON d.id = m.draw_id JOIN lots l ON l.id = d.lot_id"
        " JOIN tenders t ON t.id = d.tender_id"
        " WHERE m.expert_id = $1 AND m.invited_at IS NOT NULL"
        " ORDER BY m.invited_at DESC", expert_id)
    return [msgspec.convert(dict(r), Invitation) for r in rows]


# --------------------------------------------------------------------------------------------- notifications

_NOTE_COLS = "n.id, n.expert_id, e.user_id, n.member_id, n.kind, n.payload, n.created_at, n.sent_at, n.channel"


async def insert_notification(conn: asyncpg.Connection, *, expert_id: UUID, member_id: UUID | None, kind: str,
                              payload: dict, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO expert_notifications (expert_id, member_id, kind, payload, created_at)"
        " VALUES ($1, $2, $3, $4, $5)", expert_id, member_id, kind, payload, now)


async def lock_pending_notifications(conn: asyncpg.Connection, limit: int = 100) -> list[Notification]:
    rows = await conn.fetch(
        f"SELECT {_NOTE_COLS} FROM expert_notifications n JOIN experts e ON e.id = n.expert_id"
        " WHERE n.sent_at IS NULL ORDER BY n.created_at LIMIT $1 FOR UPDATE OF n SKIP LOCKED", limit)
    return [msgspec.convert(dict(r), Notification) for r in rows]


async def mark_notification(conn: asyncpg.Connection, note_id: UUID, *, sent_at: datetime | None,
                            channel: str | None, error: str | None) -> None:
    await conn.execute(
        "UPDATE expert_notifications SET sent_at = $2, channel = $3, last_error = $4, attempts = attempts + 1"
        " WHERE id = $1", note_id, sent_at, channel, error)


async def list_notifications_for_expert(conn: asyncpg.Connection, expert_id: UUID,
                                        limit: int = 50) -> list[Notification]:
    rows = await conn.fetch(
        f"SELECT {_NOTE_COLS} FROM expert_notifications n JOIN experts e ON e.id = n.expert_id"
        " WHERE n.expert_id = $1 AND n.sent_at IS NOT NULL ORDER BY n.created_at DESC LIMIT $2", expert_id, limit)
    return [msgspec.convert(dict(r), Notification) for r in rows]


# ------------------------------------------------------------------------------------------------- records


async def log_entry(conn: asyncpg.Connection, seq: int | None) -> dict | None:
    if seq is None:
        return None
    row = await conn.fetchrow("SELECT seq, entry, leaf_hash FROM log_entries WHERE seq = $1", seq)
    if row is None:
        return None
    return {"seq": row["seq"], "entry": msgspec.json.decode(row["entry"]), "leaf_hash": row["leaf_hash"].hex()}


async def latest_checkpoint(conn: asyncpg.Connection) -> tuple[bytes, int] | None:
    """(root, tree size) of the latest signed checkpoint of the witness log (trading/records), if any."""
    from trading.records.checkpoints import latest_checkpoint as latest
    from trading.records.log import DEFAULT_ORIGIN

    found = await latest(conn, DEFAULT_ORIGIN)
    return (bytes(found.root), found.tree_size) if found else None
