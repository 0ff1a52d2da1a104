"""Appending to the witness log (records/v1).

`append_entry` is the one function every package calls to witness a state change. It runs inside the
caller's transaction, so the change and its entry commit or roll back together.

Every append holds the single-writer advisory lock until its transaction ends, so sequence numbers have no
gaps even with several app processes. A connection remembers the head after its append (size, frontier,
root, the chain ends of the tenders it touched); its next append is then one statement, which takes the
lock, checks that the stored head still has the remembered size and root, and only then inserts the
entries, the complete subtree hashes they finish and the new head. If the log moved (another writer, a
rolled-back transaction), nothing is written and the append starts again from the head read under the
lock (`records_begin_one` / `records_begin_append`). The entry bytes are encoded once and stored exactly
as hashed.
"""
from __future__ import annotations

import hashlib
import weakref
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

# One statement: take the single-writer lock (before the head's row lock, as every writer does, so the two
# never deadlock), move the head from the state the writer computed on (its root is the guard: if the log
# moved meanwhile, nothing is written and the writer starts again from a fresh head), insert the entries and
# the complete subtree hashes they finish.
_INSERT = """
WITH l AS MATERIALIZED (
    SELECT pg_advisory_xact_lock($17)
), h AS (
    UPDATE log_head SET size = $12, frontier = $13, root = $14
    WHERE id AND size = $15 AND root = $16 AND EXISTS (SELECT 1 FROM l)
    RETURNING 1
), e AS (
    INSERT INTO log_entries (seq, tag, tender_id, lot_id, actor, time, entry, leaf_hash)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[],
                         $7::bytea[], $8::bytea[])
    WHERE EXISTS (SELECT 1 FROM h)
), n AS (
    INSERT INTO log_nodes (level, idx, hash)
    SELECT * FROM unnest($9::smallint[], $10::bigint[], $11::bytea[])
    WHERE EXISTS (SELECT 1 FROM h)
)
SELECT count(*) FROM h
"""


class _Head:
    """What a connection knows of the log after its last append: valid exactly while the stored head still
    has this size and root (the root commits to every entry, so equal roots mean the same log)."""

    __slots__ = ("frontier", "root", "origin", "last", "lots")

    def __init__(self, frontier: Frontier, root: bytes, origin: str | None) -> None:
        self.frontier = frontier
        self.root = root
        self.origin = origin
        self.last: dict[UUID, int | None] = {}      # tender → seq of its latest entry
        self.lots: dict[UUID, UUID | None] = {}     # lot → tender


_HEADS: weakref.WeakKeyDictionary[Any, _Head] = weakref.WeakKeyDictionary()
_MAX_ATTEMPTS = 8


def _uuid(value: Any) -> UUID | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, UUID) else UUID(str(value))


async def _locked_head(conn: asyncpg.Connection, tenders: list[UUID | None], lots: list[UUID | None]) -> _Head:
    """Take the single-writer lock and read the head (and the tenders' chain ends) with a fresh snapshot."""
    if len(tenders) == 1:
        r = await conn.fetchrow("SELECT * FROM records_begin_one($1, $2, $3)", LOG_WRITER_LOCK, tenders[0], lots[0])
        head = _Head(Frontier(r["size"], r["frontier"]), bytes(r["root"]), r["origin"])
        pairs = [(r["tender"], r["prev"])]
    else:
        r = await conn.fetchrow("SELECT * FROM records_begin_append($1, $2, $3)", LOG_WRITER_LOCK, tenders, lots)
        root = await conn.fetchval("SELECT root FROM log_head WHERE id")
        head = _Head(Frontier(r["size"], r["frontier"]), bytes(root), r["origin"])
        pairs = list(zip(r["tenders"], r["prevs"]))
    _learn(head, tenders, lots, pairs)
    return head


def _learn(head: _Head, tenders: list[UUID | None], lots: list[UUID | None],
           pairs: list[tuple[UUID | None, int | None]]) -> None:
    for t, lot, (tender, prev) in zip(tenders, lots, pairs):
        if t is None and lot is not None:
            head.lots[lot] = tender
        if tender is not None and tender not in head.last:
            head.last[tender] = prev


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
    key = getattr(conn, "_con", conn)
    head = _HEADS.get(key)
    for _attempt in range(_MAX_ATTEMPTS):
        if head is None:
            head = await _locked_head(conn, tenders_in, lots)
        else:
            unknown = [i for i, (t, lot) in enumerate(zip(tenders_in, lots))
                       if (t is not None and t not in head.last) or (t is None and lot is not None
                                                                       and lot not in head.lots)]
            if unknown:
                ts = [tenders_in[i] for i in unknown]
                ls = [lots[i] for i in unknown]
                rows = await conn.fetch("SELECT * FROM records_lookup($1, $2)", ts, ls)
                _learn(head, ts, ls, [(r["tender"], r["prev"]) for r in rows])
        result = await _try_append(conn, clock, head, drafts, tags, tenders_in, lots, origin)
        if result is not None:
            _HEADS[key] = result[0]
            return result[1]
        head = None  # the log moved: start again from the locked head
        _HEADS.pop(key, None)
    raise RuntimeError(f"could not append to the log after {_MAX_ATTEMPTS} attempts")


async def _try_append(conn: asyncpg.Connection, clock: Clock, head: _Head, drafts: Sequence[Draft], tags: list[Tag],
                      tenders_in: list[UUID | None], lots: list[UUID | None], origin: str | None
                      ) -> tuple[_Head, list[Appended]] | None:
    frontier = head.frontier.copy()
    old_size, old_root = frontier.size, head.root
    log_origin = origin or head.origin or DEFAULT_ORIGIN
    now = clock.now()
    when = format_time(now)
    last = dict(head.last)
    cols: list[list[Any]] = [[] for _ in range(8)]
    n_level: list[int] = []
    n_idx: list[int] = []
    n_hash: list[bytes] = []
    out: list[Appended] = []
    for i, d in enumerate(drafts):
        seq = frontier.size
        tender = tenders_in[i] if tenders_in[i] is not None else head.lots.get(lots[i]) if lots[i] else None
        prev = None
        if tender is not None:
            prev = last.get(tender)
            last[tender] = seq
        entry = Entry(
            v=ENTRY_VERSION, origin=log_origin, seq=seq, prev=prev, time=when, tag=str(tags[i]),
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
    root = frontier.root()
    moved = await conn.fetchval(_INSERT, *cols, n_level, n_idx, n_hash, frontier.size, frontier.hashes, root,
                                old_size, old_root, LOG_WRITER_LOCK)
    if not moved:
        return None
    new = _Head(frontier, root, head.origin)
    new.last, new.lots = last, head.lots
    return new, out


async def lock_log(conn: asyncpg.Connection, *, tender_id: Any = None, lot_id: Any = None) -> None:
    """Take the single-writer lock now, for a caller that must read the clock under it before appending
    (the bid deadline check). The head is read by the same statement and remembered, so the caller's
    append is then one statement: a bare `pg_advisory_xact_lock` would leave this connection's remembered
    head stale (others appended meanwhile), costing a failed attempt and a re-read — two more round trips
    while every other writer waits for the lock."""
    if not conn.is_in_transaction():
        raise RuntimeError("lock_log must run inside the transaction that appends")
    _HEADS[getattr(conn, "_con", conn)] = await _locked_head(conn, [_uuid(tender_id)], [_uuid(lot_id)])


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
