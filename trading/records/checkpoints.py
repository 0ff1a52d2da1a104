"""Signed checkpoints (records/v1): C2SP tlog-checkpoint bodies in C2SP signed notes, Ed25519.

`sign_checkpoint` signs the current head inside the caller's transaction (at every deadline and opening:
the checkpoint then covers the entry just appended, and is published when that transaction commits).
The background task (`background.py`) calls `sign_if_grown` at least every second while entries arrive.
"""
from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from trading.clock import Clock
from trading.records.keys import key_id, load_platform_key, public_bytes, verifier_key
from trading.records.log import LOG_WRITER_LOCK
from trading.records.note import format_checkpoint, sign_note

# Only one background signer at a time across app processes (try-lock: the others just skip a beat).
SIGNER_LOCK = 0x7E4D_0101


class Checkpoint(msgspec.Struct, frozen=True):
    origin: str
    tree_size: int
    root: bytes
    key_id: bytes
    note: str
    signed_at: datetime
    reason: str = "interval"


def _row(origin: str, row) -> Checkpoint:
    return Checkpoint(origin=origin, tree_size=row["tree_size"], root=bytes(row["root"]),
                      key_id=bytes(row["key_id"]), note=row["note"], signed_at=row["signed_at"],
                      reason=row["reason"])


async def _sign_head(conn: asyncpg.Connection, clock: Clock, settings, size: int, root: bytes,
                     reason: str) -> Checkpoint:
    key = load_platform_key(settings)
    name = settings.origin
    kid = key_id(name, public_bytes(key))
    note = sign_note(format_checkpoint(settings.origin, size, root), name, key)
    now = clock.now()
    await conn.execute(
        "INSERT INTO log_keys (key_id, vkey, first_used_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        kid, verifier_key(name, key), now,
    )
    row = await conn.fetchrow(
        "INSERT INTO log_checkpoints (tree_size, root, key_id, note, reason, signed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tree_size) DO NOTHING RETURNING *",
        size, root, kid, note, reason, now,
    )
    if row is None:  # already signed at this size (same root: the log is append-only under one writer)
        row = await conn.fetchrow("SELECT * FROM log_checkpoints WHERE tree_size = $1", size)
    return _row(settings.origin, row)


async def sign_checkpoint(conn: asyncpg.Connection, clock: Clock, settings, *, reason: str = "event"
                          ) -> Checkpoint:
    """Sign a checkpoint of the log as this transaction sees it (call it right after appending the
    deadline or opening entry). Takes the writer lock so the head cannot move underneath."""
    if not conn.is_in_transaction():
        raise RuntimeError("sign_checkpoint runs inside the transaction of the event it seals")
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOG_WRITER_LOCK)
    head = await conn.fetchrow("SELECT size, root FROM log_head WHERE id")
    if head is None:
        from trading.records.merkle import EMPTY_ROOT

        return await _sign_head(conn, clock, settings, 0, EMPTY_ROOT, reason)
    return await _sign_head(conn, clock, settings, head["size"], bytes(head["root"]), reason)


async def sign_if_grown(conn: asyncpg.Connection, clock: Clock, settings) -> Checkpoint | None:
    """Sign the committed head if it is larger than the latest checkpoint (background, own transaction)."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", SIGNER_LOCK):
            return None
        head = await conn.fetchrow("SELECT size, root FROM log_head WHERE id")
        if head is None or head["size"] == 0:
            return None
        latest = await conn.fetchval("SELECT max(tree_size) FROM log_checkpoints")
        if latest is not None and latest >= head["size"]:
            return None
        return await _sign_head(conn, clock, settings, head["size"], bytes(head["root"]), "interval")


async def latest_checkpoint(conn: asyncpg.Connection, origin: str) -> Checkpoint | None:
    row = await conn.fetchrow("SELECT * FROM log_checkpoints ORDER BY tree_size DESC LIMIT 1")
    return _row(origin, row) if row else None


async def get_checkpoint(conn: asyncpg.Connection, origin: str, tree_size: int) -> Checkpoint | None:
    row = await conn.fetchrow("SELECT * FROM log_checkpoints WHERE tree_size = $1", tree_size)
    return _row(origin, row) if row else None
