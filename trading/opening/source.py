"""Where the opening gets its bids: the bids package's tables and its seal/v2 library.

Kept in one module so the opening depends on the bids package through a narrow seam:
`trading.bids.repository.list_bids_to_open(conn, lot_id)` (the latest non-withdrawn version per bidder,
accepted before the deadline) and the stored manifest bytes.
"""
from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from trading.bids import seal as sealing
from trading.opening.sealed import bid_uuid

_CACHE_SIZE = 4096
_manifests: OrderedDict[str, sealing.Manifest] = OrderedDict()


class Candidate(msgspec.Struct, kw_only=True):
    bid_id: UUID
    version: int
    bidder_org_id: UUID
    manifest_sha256: str
    ct_root: str
    accepted_at: datetime


def _hex(value: Any) -> str:
    return value.hex() if isinstance(value, (bytes, bytearray, memoryview)) else str(value)


def _get(row: Any, *names: str) -> Any:
    for name in names:
        if isinstance(row, dict) or isinstance(row, asyncpg.Record):
            if name in row.keys():
                return row[name]
        elif hasattr(row, name):
            return getattr(row, name)
    raise KeyError(names[0])


async def bids_to_open(conn: asyncpg.Connection, lot_id: UUID) -> list[Candidate]:
    from trading.bids.repository import list_bids_to_open

    out = []
    for row in await list_bids_to_open(conn, lot_id):
        out.append(Candidate(
            bid_id=bid_uuid(_get(row, "bid_id")), version=int(_get(row, "version")),
            bidder_org_id=UUID(str(_get(row, "bidder_org_id"))),
            manifest_sha256=_hex(_get(row, "manifest_sha256")), ct_root=_hex(_get(row, "ct_root")),
            accepted_at=_get(row, "accepted_at", "received_at", "submitted_at", "created_at"),
        ))
    return out


async def load_manifest_bytes(conn: asyncpg.Connection, lot_id: UUID, bid_id: UUID) -> bytes:
    data = await conn.fetchval("SELECT manifest FROM bids WHERE bid_id = $1 AND lot_id = $2", bid_id, lot_id)
    if data is None:
        raise sealing.ManifestInvalid(f"no stored manifest for bid {bid_id}")
    return bytes(data)


async def load_manifest(conn: asyncpg.Connection, lot_id: UUID, bid_id: UUID) -> sealing.Manifest:
    sha = await conn.fetchval("SELECT manifest_sha256 FROM opening_bids WHERE lot_id = $1 AND bid_id = $2",
                              lot_id, bid_id)
    if sha is not None and sha in _manifests:
        _manifests.move_to_end(sha)
        return _manifests[sha]
    data = await load_manifest_bytes(conn, lot_id, bid_id)
    manifest = sealing.decode_manifest(data)
    key = sealing.manifest_sha256(data).hex()
    if sha is not None and key != sha:
        raise sealing.ManifestInvalid("the stored manifest does not match the hash on the list to open")
    _manifests[key] = manifest
    while len(_manifests) > _CACHE_SIZE:
        _manifests.popitem(last=False)
    return manifest


def share_matches(manifest: sealing.Manifest, share: bytes, commit: bytes) -> bool:
    return sealing.check_share_commit(manifest.bid_id, share, commit)


async def bid_log_entries(conn: asyncpg.Connection, lot_id: UUID, before_seq: int) -> list[bytes]:
    """The lot's bid entries (acceptances, replacements, withdrawals) logged before the deadline entry."""
    rows = await conn.fetch(
        "SELECT entry FROM log_entries WHERE lot_id = $1 AND seq < $2 AND tag LIKE 'bid:%' ORDER BY seq",
        lot_id, before_seq)
    return [bytes(r["entry"]) for r in rows]


async def accepted_manifests(conn: asyncpg.Connection, lot_id: UUID, before_seq: int) -> list[bytes]:
    """Every version accepted for the lot before the deadline entry (superseded and withdrawn ones included)."""
    rows = await conn.fetch("SELECT manifest FROM bids WHERE lot_id = $1 AND accept_seq < $2 ORDER BY accept_seq",
                            lot_id, before_seq)
    return [bytes(r["manifest"]) for r in rows]
