"""All SQL of the records package (reads; the append path lives in log.py)."""
from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import asyncpg


async def fetch_nodes(conn: asyncpg.Connection, wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Complete subtree hashes by (level, index): level 0 from the entries, the others from log_nodes."""
    leaves = [i for level, i in wanted if level == 0]
    inner = [(level, i) for level, i in wanted if level > 0]
    out: dict[tuple[int, int], bytes] = {}
    if leaves:
        for r in await conn.fetch("SELECT seq, leaf_hash FROM log_entries WHERE seq = ANY($1::bigint[])", leaves):
            out[(0, r["seq"])] = bytes(r["leaf_hash"])
    if inner:
        rows = await conn.fetch(
            "SELECT n.level, n.idx, n.hash FROM log_nodes n"
            " JOIN unnest($1::smallint[], $2::bigint[]) AS w(level, idx) ON n.level = w.level AND n.idx = w.idx",
            [lv for lv, _ in inner], [i for _, i in inner],
        )
        for r in rows:
            out[(r["level"], r["idx"])] = bytes(r["hash"])
    return out


async def get_head(conn: asyncpg.Connection) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT size, root, origin FROM log_head WHERE id")


async def find_entry(conn: asyncpg.Connection, seq: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT seq, tag, tender_id, lot_id, actor, time, entry, leaf_hash FROM log_entries WHERE seq = $1", seq
    )


async def list_entries_for_tender(conn: asyncpg.Connection, tender_id: UUID, *, after: int = -1,
                                  limit: int = 1000) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT seq, tag, tender_id, lot_id, actor, time, entry, leaf_hash FROM log_entries"
        " WHERE tender_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        tender_id, after, limit,
    )


async def iter_entries_for_tender(conn: asyncpg.Connection, tender_id: UUID, batch: int = 2000
                                  ) -> AsyncIterator[asyncpg.Record]:
    after = -1
    while True:
        rows = await list_entries_for_tender(conn, tender_id, after=after, limit=batch)
        for r in rows:
            yield r
        if len(rows) < batch:
            return
        after = rows[-1]["seq"]


async def iter_all_entries(conn: asyncpg.Connection, upto: int, batch: int = 5000
                           ) -> AsyncIterator[asyncpg.Record]:
    after = -1
    while True:
        rows = await conn.fetch(
            "SELECT seq, entry, leaf_hash FROM log_entries WHERE seq > $1 AND seq < $2 ORDER BY seq LIMIT $3",
            after, upto, batch,
        )
        for r in rows:
            yield r
        if len(rows) < batch:
            return
        after = rows[-1]["seq"]


async def get_tender_access(conn: asyncpg.Connection, tender_id: UUID) -> asyncpg.Record | None:
    """What confidentiality needs of a tender: its deadline and the organisations taking part."""
    return await conn.fetchrow(
        "SELECT t.id, t.code, t.title, t.bid_deadline, t.tenderer_org_id, t.agency_org_id,"
        " coalesce((SELECT array_agg(DISTINCT d.org_id) FROM document_downloads d JOIN lots l ON l.id = d.lot_id"
        "           WHERE l.tender_id = t.id), '{}') AS participant_orgs"
        " FROM tenders t WHERE t.id = $1",
        tender_id,
    )


async def get_lot_status(conn: asyncpg.Connection, lot_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, tender_id, status FROM lots WHERE id = $1", lot_id)


async def list_checkpoints_for_archive(conn: asyncpg.Connection, tender_id: UUID, upto: int
                                       ) -> list[asyncpg.Record]:
    """The first checkpoint covering each of the tender's entries, plus the latest one ≤ upto."""
    return await conn.fetch(
        """
        SELECT c.* FROM log_checkpoints c WHERE c.tree_size IN (
            SELECT (SELECT min(tree_size) FROM log_checkpoints k WHERE k.tree_size > e.seq)
            FROM log_entries e WHERE e.tender_id = $1
            UNION SELECT max(tree_size) FROM log_checkpoints WHERE tree_size <= $2
        ) AND c.tree_size <= $2 ORDER BY c.tree_size
        """,
        tender_id, upto,
    )


async def list_all_checkpoints(conn: asyncpg.Connection, upto: int) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM log_checkpoints WHERE tree_size <= $1 ORDER BY tree_size", upto)


async def list_vkeys(conn: asyncpg.Connection) -> list[str]:
    return [r["vkey"] for r in await conn.fetch("SELECT vkey FROM log_keys ORDER BY first_used_at, vkey")]


async def insert_document(conn: asyncpg.Connection, *, sha256: str, tender_id: UUID, lot_id: UUID | None,
                          kind: str, filename: str, size: int, seq: int, actor: str | None, now) -> None:
    await conn.execute(
        "INSERT INTO record_documents (sha256, tender_id, lot_id, kind, filename, size, seq, actor, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        sha256, tender_id, lot_id, kind, filename, size, seq, actor, now,
    )


async def list_documents_for_tender(conn: asyncpg.Connection, tender_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT sha256, tender_id, lot_id, kind, filename, size, seq, actor, created_at FROM record_documents"
        " WHERE tender_id = $1 ORDER BY seq, filename", tender_id,
    )


async def list_approved_identity_keys(conn: asyncpg.Connection, user_id: UUID) -> list[bytes]:
    rows = await conn.fetch(
        "SELECT public_key FROM identity_keys WHERE user_id = $1 AND status = 'approved'", user_id
    )
    return [bytes(r["public_key"]) for r in rows]
