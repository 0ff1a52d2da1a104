"""Appending to the witness log (records/v1).

`append_entry` is the one function every package calls to witness a state change. It runs inside the
caller's transaction, so the change and its entry commit or roll back together.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any

import asyncpg
import msgspec

from trading.clock import Clock
from trading.records.tags import Tag

# Single writer: the append takes this transaction-scoped advisory lock, so sequence numbers have no gaps
# even with several app processes.
LOG_WRITER_LOCK = 0x7E4D_0100
ENTRY_VERSION = 1
MAX_ENTRY_BYTES = 64 * 1024
DEFAULT_ORIGIN = "tenderhall.local/log"


class Entry(msgspec.Struct, frozen=True):
    """The exact shape of an entry; the encoded bytes are what is hashed and stored."""

    v: int
    origin: str
    seq: int
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


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def format_time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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
    origin: str = DEFAULT_ORIGIN,
) -> Appended:
    if not conn.is_in_transaction():
        raise RuntimeError("append_entry must run inside the transaction of the change it records")
    tag = Tag(tag)
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOG_WRITER_LOCK)
    seq = await conn.fetchval("SELECT coalesce(max(seq) + 1, 0) FROM log_entries")
    now = clock.now()
    entry = Entry(
        v=ENTRY_VERSION, origin=origin, seq=seq, time=format_time(now), tag=str(tag),
        tender=str(tender_id) if tender_id else None, lot=str(lot_id) if lot_id else None,
        actor=str(actor) if actor else None, addr=addr, body=body or {},
    )
    data = msgspec.json.encode(entry)
    if len(data) > MAX_ENTRY_BYTES:
        raise ValueError(f"log entry of {len(data)} bytes exceeds {MAX_ENTRY_BYTES}")
    lh = leaf_hash(data)
    await conn.execute(
        "INSERT INTO log_entries (seq, tag, tender_id, lot_id, actor, time, entry, leaf_hash)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        seq, str(tag), tender_id, lot_id, entry.actor, now, data, lh,
    )
    return Appended(seq=seq, leaf_hash=lh, entry=data)
