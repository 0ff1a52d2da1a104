"""Appending to the witness log (records/v1).

`append_entry` is the one function every package calls to witness a state change. It runs inside the
caller's transaction, so the change and its entry commit or roll back together.

Two round trips per call: `records_begin_append` takes the single-writer advisory lock (held until the
transaction ends, so sequence numbers have no gaps even with several app processes) and returns the tree
head; one statement then inserts the entries, the complete subtree hashes they finish, and the new head.
The entry bytes are encoded once here and stored exactly as hashed.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from trading.clock import Clock
from trading.records.merkle import Frontier
from trading.records.tags import Tag

LOG_WRITER_LOCK = 0x7E4D_0100
ENTRY_VERSION = 1
MAX_ENTRY_BYTES = 64 * 1024
DEFAULT_ORIGIN = "tenderhall.local/log"


class Entry(msgspec.Struct, frozen=True):
    """The exact shape of an entry; the encoded bytes are what is hashed and stored.

    `prev` is the seq of the previous entry of the same tender (None for the first, or without a tender):
    a tender's entries form a chain inside the platform log, so a view that omits one is detectable.
    """

    v: int
    origin: str
    seq: int
    prev: int | None
    time: str
    tag: str
    tender: str | None
    lot: str | None
    actor: str | None
    addr: str | None
    body: dict[str, Any]


class Appended(msgspec.Struct, frozen=True):
    seq: int
    leaf_hash: bytes
    entry: bytes


class Draft(msgspec.Struct, frozen=True, kw_only=True):
    """One entry to append with `append_entries`."""

    tag: Tag
    actor: str | None = None
    tender_id: Any = None
    lot_id: Any = None
    body: dict[str, Any] | None = None
    addr: str | None = None


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def format_time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_encoder = msgspec.json.Encoder()

_INSERT = """
WITH e AS (
    INSERT INTO log_entries (seq, tag, tender_id, lot_id, actor, time, entry, leaf_hash)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[],
                         $7::bytea[], $8::bytea[])
), n AS (
    INSERT INTO log_nodes (level, idx, hash)
    SELECT * FROM unnest($9::smallint[], $10::bigint[], $11::bytea[])
)
UPDATE log_head SET size = $12, frontier = $13, root = $14 WHERE id
"""


def _uuid(value: Any) -> UUID | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, UUID) else UUID(str(value))


async def append_entries(conn: asyncpg.Connection, clock: Clock, drafts: Sequence[Draft], *,
                         origin: str | None = None) -> list[Appended]:
    """Append several entries in one go (same guarantees as `append_entry`; used by batch jobs)."""
    if not conn.is_in_transaction():
        raise RuntimeError("append_entry must run inside the transaction of the change it records")
    if not drafts:
        return []
    tags = [Tag(d.tag) for d in drafts]
    tenders_in = [_uuid(d.tender_id) for d in drafts]
    lots = [_uuid(d.lot_id) for d in drafts]
    head = await conn.fetchrow("SELECT * FROM records_begin_append($1, $2, $3)", LOG_WRITER_LOCK, tenders_in, lots)
    frontier = Frontier(head["size"], head["frontier"])
    origin = origin or head["origin"] or DEFAULT_ORIGIN
    now = clock.now()
    when = format_time(now)
    last_of_tender: dict[UUID, int | None] = {}
    cols: list[list[Any]] = [[] for _ in range(8)]
    n_level: list[int] = []
    n_idx: list[int] = []
    n_hash: list[bytes] = []
    out: list[Appended] = []
    for i, d in enumerate(drafts):
        seq = frontier.size
        tender = head["tenders"][i]
        prev = None
        if tender is not None:
            prev = last_of_tender[tender] if tender in last_of_tender else head["prevs"][i]
            last_of_tender[tender] = seq
        entry = Entry(
            v=ENTRY_VERSION, origin=origin, seq=seq, prev=prev, time=when, tag=str(tags[i]),
            tender=str(tender) if tender else None, lot=str(lots[i]) if lots[i] else None,
            actor=str(d.actor) if d.actor else None, addr=d.addr, body=d.body or {},
        )
        data = _encoder.encode(entry)
        if len(data) > MAX_ENTRY_BYTES:
            raise ValueError(f"log entry of {len(data)} bytes exceeds {MAX_ENTRY_BYTES}")
        lh = hashlib.sha256(b"\x00" + data).digest()
        for level, idx, h in frontier.append(lh):
            n_level.append(level)
            n_idx.append(idx)
            n_hash.append(h)
        for col, value in zip(cols, (seq, str(tags[i]), tender, lots[i], entry.actor, now, data, lh)):
            col.append(value)
        out.append(Appended(seq=seq, leaf_hash=lh, entry=data))
    await conn.execute(_INSERT, *cols, n_level, n_idx, n_hash, frontier.size, frontier.hashes, frontier.root())
    return out


async def append_entry(
    conn: asyncpg.Connection,
    clock: Clock,
    tag: Tag,
    *,
    actor: str | None = None,
    tender_id: Any = None,
    lot_id: Any = None,
    body: dict[str, Any] | None = None,
    addr: str | None = None,
    origin: str | None = None,
) -> Appended:
    """Witness a state change in the caller's transaction. `origin` defaults to the log's configured origin
    (settings.origin, set at startup by `configure_log`)."""
    draft = Draft(tag=tag, actor=actor, tender_id=tender_id, lot_id=lot_id, body=body, addr=addr)
    return (await append_entries(conn, clock, [draft], origin=origin))[0]


async def configure_log(conn: asyncpg.Connection, origin: str) -> None:
    """Record the log's origin (settings.origin) so entries name the same origin as the checkpoints."""
    await conn.execute(
        "INSERT INTO log_head (id, origin, size, frontier, root) VALUES (true, $1, 0, '{}', sha256(''::bytea))"
        " ON CONFLICT (id) DO UPDATE SET origin = $1 WHERE log_head.origin IS NULL OR log_head.size = 0",
        origin,
    )
