"""All SQL of the bids package."""
from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from trading.bids.errors import BidNotFound, IdentityKeyExists, IdentityKeyNotFound, LotNotFound, UploadNotFound
from trading.bids.schemas import BidToOpen, IdentityKey


class LotForBids(msgspec.Struct, kw_only=True):
    lot_id: UUID
    tender_id: UUID
    number: int
    name: str
    lot_status: str
    tender_status: str
    bid_deadline: datetime
    ceremony_hash: bytes | None
    ceremony_record: bytes | None
    bid_fields: list[dict[str, Any]]
    max_price_fen: int | None
    custodian_k: int
    custodian_n: int
    post_quantum: bool


class Seat(msgspec.Struct, kw_only=True):
    lot_id: UUID
    tender_id: UUID
    custodian_id: UUID
    x: int
    k: int
    n: int
    post_quantum: bool
    tender_status: str
    lot_status: str
    ceremony_hash: bytes | None
    suite: str | None
    hpke_public_key: bytes | None
    registered_at: datetime | None


class Standing(msgspec.Struct, kw_only=True):
    """Everything a submission check needs about the bidder, in one round trip."""

    org_ok: bool
    downloaded: bool
    bid_id_taken: bool
    key_ids: list[UUID]
    keys: list[bytes]
    latest_bid_id: UUID | None
    latest_version: int | None
    latest_manifest_sha256: bytes | None


class Upload(msgspec.Struct, kw_only=True):
    id: UUID
    lot_id: UUID
    bidder_org_id: UUID
    user_id: UUID
    identity_key_id: UUID
    manifest: bytes
    signature: bytes
    manifest_sha256: bytes
    ct_root: bytes
    ct_len: int
    received: int
    created_at: datetime
    updated_at: datetime


class Bid(msgspec.Struct, kw_only=True):
    bid_id: UUID
    lot_id: UUID
    tender_id: UUID
    bidder_org_id: UUID
    signer_id: UUID
    identity_key_id: UUID
    version: int
    previous_manifest_sha256: bytes | None
    manifest: bytes
    signature: bytes
    manifest_sha256: bytes
    ct_root: bytes
    ct_len: int
    status: str
    accepted_at: datetime
    accept_seq: int
    receipt: str
    superseded_at: datetime | None
    withdrawn_at: datetime | None


def _conv(row: asyncpg.Record, cls):
    return msgspec.convert(dict(row), cls)


# identity keys ------------------------------------------------------------------------------------------------

_KEY_COLS = "id, user_id, algorithm, public_key, status, registered_at, approved_at, revoked_at"


async def insert_identity_key(conn: asyncpg.Connection, user_id: UUID, public_key: bytes, now: datetime
                              ) -> IdentityKey:
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                f"INSERT INTO identity_keys (user_id, public_key, registered_at) VALUES ($1, $2, $3)"
                f" RETURNING {_KEY_COLS}", user_id, public_key, now)
    except asyncpg.UniqueViolationError:
        raise IdentityKeyExists("this public key is already registered") from None
    return _conv(row, IdentityKey)


async def lock_identity_key(conn: asyncpg.Connection, key_id: UUID) -> IdentityKey:
    row = await conn.fetchrow(f"SELECT {_KEY_COLS} FROM identity_keys WHERE id = $1 FOR UPDATE", key_id)
    if row is None:
        raise IdentityKeyNotFound(f"identity key {key_id} not found")
    return _conv(row, IdentityKey)


async def set_identity_key_status(conn: asyncpg.Connection, key_id: UUID, status: str, *, by: UUID | None,
                                  now: datetime) -> IdentityKey:
    if status == "approved":
        row = await conn.fetchrow(
            f"UPDATE identity_keys SET status = 'approved', approved_by = $2, approved_at = $3 WHERE id = $1"
            f" RETURNING {_KEY_COLS}", key_id, by, now)
    else:
        row = await conn.fetchrow(
            f"UPDATE identity_keys SET status = 'revoked', revoked_at = $2 WHERE id = $1 RETURNING {_KEY_COLS}",
            key_id, now)
    return _conv(row, IdentityKey)


async def list_identity_keys_for_user(conn: asyncpg.Connection, user_id: UUID) -> list[IdentityKey]:
    rows = await conn.fetch(f"SELECT {_KEY_COLS} FROM identity_keys WHERE user_id = $1 ORDER BY registered_at",
                            user_id)
    return [_conv(r, IdentityKey) for r in rows]


async def list_pending_identity_keys(conn: asyncpg.Connection) -> list[IdentityKey]:
    rows = await conn.fetch(f"SELECT {_KEY_COLS} FROM identity_keys WHERE status = 'pending' ORDER BY registered_at")
    return [_conv(r, IdentityKey) for r in rows]


async def list_approved_identity_keys(conn: asyncpg.Connection, user_id: UUID) -> list[tuple[UUID, bytes]]:
    rows = await conn.fetch("SELECT id, public_key FROM identity_keys WHERE user_id = $1 AND status = 'approved'"
                            " ORDER BY registered_at", user_id)
    return [(r["id"], bytes(r["public_key"])) for r in rows]


# lots and custodians ------------------------------------------------------------------------------------------

async def get_lot_for_bids(conn: asyncpg.Connection, lot_id: UUID) -> LotForBids:
    row = await conn.fetchrow(
        "SELECT l.id AS lot_id, l.tender_id, l.number, l.name, l.status AS lot_status, t.status AS tender_status,"
        " t.bid_deadline, l.ceremony_hash, l.ceremony_record, l.bid_fields, l.max_price_fen, l.custodian_k,"
        " l.custodian_n, l.post_quantum FROM lots l JOIN tenders t ON t.id = l.tender_id WHERE l.id = $1", lot_id)
    if row is None:
        raise LotNotFound(f"lot {lot_id} not found")
    return _conv(row, LotForBids)


async def find_seat(conn: asyncpg.Connection, lot_id: UUID, custodian_id: UUID, *, lock: bool = False
                    ) -> Seat | None:
    row = await conn.fetchrow(
        "SELECT c.lot_id, l.tender_id, c.custodian_id, c.x, l.custodian_k AS k, l.custodian_n AS n, l.post_quantum,"
        " t.status AS tender_status, l.status AS lot_status, l.ceremony_hash, c.suite, c.hpke_public_key,"
        " c.registered_at FROM lot_custodians c JOIN lots l ON l.id = c.lot_id JOIN tenders t ON t.id = l.tender_id"
        " WHERE c.lot_id = $1 AND c.custodian_id = $2" + (" FOR UPDATE OF c" if lock else ""), lot_id, custodian_id)
    return None if row is None else _conv(row, Seat)


async def list_seats_for_custodian(conn: asyncpg.Connection, custodian_id: UUID) -> list[Seat]:
    rows = await conn.fetch(
        "SELECT c.lot_id, l.tender_id, c.custodian_id, c.x, l.custodian_k AS k, l.custodian_n AS n, l.post_quantum,"
        " t.status AS tender_status, l.status AS lot_status, l.ceremony_hash, c.suite, c.hpke_public_key,"
        " c.registered_at FROM lot_custodians c JOIN lots l ON l.id = c.lot_id JOIN tenders t ON t.id = l.tender_id"
        " WHERE c.custodian_id = $1 ORDER BY t.bid_deadline, l.number", custodian_id)
    return [_conv(r, Seat) for r in rows]


async def set_lot_key(conn: asyncpg.Connection, lot_id: UUID, custodian_id: UUID, *, suite: str,
                      public_key: bytes, signature: bytes, now: datetime) -> None:
    await conn.execute(
        "UPDATE lot_custodians SET suite = $3, hpke_public_key = $4, signature = $5, registered_at = $6"
        " WHERE lot_id = $1 AND custodian_id = $2", lot_id, custodian_id, suite, public_key, signature, now)


async def has_downloaded(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM document_downloads WHERE lot_id = $1 AND org_id = $2)", lot_id, org_id))


async def org_is_approved_bidder(conn: asyncpg.Connection, org_id: UUID) -> bool:
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM organisations WHERE id = $1 AND approved AND kind = 'bidder')", org_id))


async def bidder_standing(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID, user_id: UUID, bid_id: UUID
                          ) -> Standing:
    row = await conn.fetchrow(
        "WITH latest AS (SELECT bid_id, version, manifest_sha256 FROM bids WHERE lot_id = $1 AND bidder_org_id = $2"
        "                ORDER BY version DESC LIMIT 1),"
        " k AS (SELECT id, public_key FROM identity_keys WHERE user_id = $3 AND status = 'approved'"
        "       ORDER BY registered_at)"
        " SELECT coalesce((SELECT approved AND kind = 'bidder' FROM organisations WHERE id = $2), false) AS org_ok,"
        " EXISTS (SELECT 1 FROM document_downloads WHERE lot_id = $1 AND org_id = $2) AS downloaded,"
        " EXISTS (SELECT 1 FROM bids WHERE bid_id = $4) AS bid_id_taken,"
        " coalesce((SELECT array_agg(id) FROM k), '{}') AS key_ids,"
        " coalesce((SELECT array_agg(public_key) FROM k), '{}') AS keys,"
        " (SELECT bid_id FROM latest) AS latest_bid_id, (SELECT version FROM latest) AS latest_version,"
        " (SELECT manifest_sha256 FROM latest) AS latest_manifest_sha256", lot_id, org_id, user_id, bid_id)
    return msgspec.convert({**dict(row), "keys": [bytes(k) for k in row["keys"]]}, Standing)


# uploads ------------------------------------------------------------------------------------------------------

_UPLOAD_COLS = ("id, lot_id, bidder_org_id, user_id, identity_key_id, manifest, signature, manifest_sha256,"
                " ct_root, ct_len, received, created_at, updated_at")


async def insert_upload(conn: asyncpg.Connection, *, lot_id: UUID, bidder_org_id: UUID, user_id: UUID,
                        identity_key_id: UUID, manifest: bytes, signature: bytes, manifest_sha256: bytes,
                        ct_root: bytes, ct_len: int, now: datetime, addr: str | None) -> Upload:
    row = await conn.fetchrow(
        "INSERT INTO bid_uploads (lot_id, bidder_org_id, user_id, identity_key_id, manifest, signature,"
        " manifest_sha256, ct_root, ct_len, created_at, updated_at, addr)"
        f" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) RETURNING {_UPLOAD_COLS}",
        lot_id, bidder_org_id, user_id, identity_key_id, manifest, signature, manifest_sha256, ct_root, ct_len,
        now, addr)
    return _conv(row, Upload)


async def get_upload(conn: asyncpg.Connection, upload_id: UUID, user_id: UUID, *, lock: bool = False) -> Upload:
    row = await conn.fetchrow(f"SELECT {_UPLOAD_COLS} FROM bid_uploads WHERE id = $1 AND user_id = $2"
                              + (" FOR UPDATE" if lock else ""), upload_id, user_id)
    if row is None:
        raise UploadNotFound(f"upload {upload_id} not found (refused, finished, or not yours)")
    return _conv(row, Upload)


async def advance_upload(conn: asyncpg.Connection, upload_id: UUID, old: int, new: int, now: datetime) -> bool:
    """Move the offset forward only if nobody else did meanwhile."""
    status = await conn.execute(
        "UPDATE bid_uploads SET received = $3, updated_at = $4 WHERE id = $1 AND received = $2",
        upload_id, old, new, now)
    return status.endswith(" 1")


async def delete_upload(conn: asyncpg.Connection, upload_id: UUID) -> None:
    await conn.execute("DELETE FROM bid_uploads WHERE id = $1", upload_id)


async def list_stale_uploads(conn: asyncpg.Connection, before: datetime) -> list[UUID]:
    return [r["id"] for r in await conn.fetch("SELECT id FROM bid_uploads WHERE updated_at < $1", before)]


# bids ---------------------------------------------------------------------------------------------------------

_BID_COLS = ("bid_id, lot_id, tender_id, bidder_org_id, signer_id, identity_key_id, version,"
             " previous_manifest_sha256, manifest, signature, manifest_sha256, ct_root, ct_len, status,"
             " accepted_at, accept_seq, receipt, superseded_at, withdrawn_at")


async def lock_bidder_lot(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID) -> None:
    """Serialise submissions and withdrawals of one bidder on one lot (a transaction-scoped advisory lock)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", f"bid:{lot_id}:{org_id}")


async def find_latest_bid(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID) -> Bid | None:
    row = await conn.fetchrow(f"SELECT {_BID_COLS} FROM bids WHERE lot_id = $1 AND bidder_org_id = $2"
                              " ORDER BY version DESC LIMIT 1", lot_id, org_id)
    return None if row is None else _conv(row, Bid)


async def insert_bid(conn: asyncpg.Connection, *, bid_id: UUID, lot_id: UUID, tender_id: UUID,
                     bidder_org_id: UUID, signer_id: UUID, identity_key_id: UUID, version: int,
                     previous: bytes | None, manifest: bytes, signature: bytes, manifest_sha256: bytes,
                     ct_root: bytes, ct_len: int, accepted_at: datetime, accept_seq: int, receipt: str,
                     addr: str | None, upload_id: UUID | None = None) -> None:
    """Store an accepted bid; `upload_id` (the upload it came from) is deleted by the same statement, one
    round trip fewer while the finaliser holds the log's writer lock."""
    await conn.execute(
        "WITH done AS (DELETE FROM bid_uploads WHERE id = $18)"
        " INSERT INTO bids (bid_id, lot_id, tender_id, bidder_org_id, signer_id, identity_key_id, version,"
        " previous_manifest_sha256, manifest, signature, manifest_sha256, ct_root, ct_len, accepted_at,"
        " accept_seq, receipt, addr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,"
        " $16, $17)",
        bid_id, lot_id, tender_id, bidder_org_id, signer_id, identity_key_id, version, previous, manifest,
        signature, manifest_sha256, ct_root, ct_len, accepted_at, accept_seq, receipt, addr, upload_id)


async def mark_superseded(conn: asyncpg.Connection, bid_id: UUID, now: datetime) -> None:
    await conn.execute("UPDATE bids SET status = 'superseded', superseded_at = $2 WHERE bid_id = $1"
                       " AND status = 'active'", bid_id, now)


async def mark_withdrawn(conn: asyncpg.Connection, bid_id: UUID, now: datetime) -> None:
    await conn.execute("UPDATE bids SET status = 'withdrawn', withdrawn_at = $2 WHERE bid_id = $1"
                       " AND status = 'active'", bid_id, now)


async def insert_withdrawal(conn: asyncpg.Connection, *, bid_id: UUID, lot_id: UUID, bidder_org_id: UUID,
                            signer_id: UUID, statement: bytes, signature: bytes, now: datetime, seq: int,
                            addr: str | None) -> None:
    await conn.execute(
        "INSERT INTO bid_withdrawals (bid_id, lot_id, bidder_org_id, signer_id, statement, signature,"
        " withdrawn_at, seq, addr) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        bid_id, lot_id, bidder_org_id, signer_id, statement, signature, now, seq, addr)


async def list_bids_for_org(conn: asyncpg.Connection, lot_id: UUID, org_id: UUID) -> list[Bid]:
    rows = await conn.fetch(f"SELECT {_BID_COLS} FROM bids WHERE lot_id = $1 AND bidder_org_id = $2"
                            " ORDER BY version", lot_id, org_id)
    return [_conv(r, Bid) for r in rows]


async def get_bid(conn: asyncpg.Connection, bid_id: UUID) -> Bid:
    row = await conn.fetchrow(f"SELECT {_BID_COLS} FROM bids WHERE bid_id = $1", bid_id)
    if row is None:
        raise BidNotFound(f"bid {bid_id} not found")
    return _conv(row, Bid)


async def list_bids_to_open(conn: asyncpg.Connection, lot_id: UUID) -> list[BidToOpen]:
    """The bids the opening unseals: per bidder the latest version, not withdrawn, accepted before the deadline.

    Superseded and withdrawn versions are never returned (电子招标投标办法 第二十七条). Ordered by acceptance.
    """
    rows = await conn.fetch(
        "SELECT b.bid_id, b.lot_id, b.tender_id, b.bidder_org_id, b.signer_id, b.version, b.manifest, b.signature,"
        " encode(b.manifest_sha256, 'hex') AS manifest_sha256, encode(b.ct_root, 'hex') AS ct_root, b.ct_len,"
        " b.accepted_at, b.accept_seq, k.public_key AS signer_public_key"
        " FROM bids b JOIN tenders t ON t.id = b.tender_id JOIN identity_keys k ON k.id = b.identity_key_id"
        " WHERE b.lot_id = $1 AND b.status = 'active' AND b.accepted_at < t.bid_deadline"
        " AND b.version = (SELECT max(version) FROM bids x WHERE x.lot_id = b.lot_id"
        "                  AND x.bidder_org_id = b.bidder_org_id)"
        " ORDER BY b.accept_seq", lot_id)
    return [_conv(r, BidToOpen) for r in rows]


# group acceptance (trading/bids/acceptance.py) ------------------------------------------------------------------

class BatchStanding(msgspec.Struct, kw_only=True):
    """`Standing` of one bid of a batch, plus what is left of its upload (None: no such upload row)."""

    standing: Standing
    upload_received: int | None


async def lock_bidder_lots(conn: asyncpg.Connection, pairs: list[tuple[UUID, UUID]]) -> None:
    """`lock_bidder_lot` for several (lot, organisation) pairs in one statement, in a fixed order (so two
    batches never wait on each other's locks in opposite orders)."""
    keys = sorted({f"bid:{lot}:{org}" for lot, org in pairs})
    await conn.execute("SELECT count(pg_advisory_xact_lock(hashtextextended(k, 7)))"
                       " FROM (SELECT k FROM unnest($1::text[]) k ORDER BY k) s", keys)


async def lock_uploads(conn: asyncpg.Connection, upload_ids: list[UUID]) -> None:
    await conn.execute("SELECT 1 FROM bid_uploads WHERE id = ANY($1) ORDER BY id FOR UPDATE", upload_ids)


async def get_lots_for_bids(conn: asyncpg.Connection, lot_ids: list[UUID]) -> dict[UUID, LotForBids]:
    rows = await conn.fetch(
        "SELECT l.id AS lot_id, l.tender_id, l.number, l.name, l.status AS lot_status, t.status AS tender_status,"
        " t.bid_deadline, l.ceremony_hash, l.ceremony_record, l.bid_fields, l.max_price_fen, l.custodian_k,"
        " l.custodian_n, l.post_quantum FROM lots l JOIN tenders t ON t.id = l.tender_id WHERE l.id = ANY($1)",
        list(set(lot_ids)))
    return {r["lot_id"]: _conv(r, LotForBids) for r in rows}


async def bidder_standings(conn: asyncpg.Connection, items: list[tuple[UUID, UUID, UUID, UUID, UUID | None]]
                           ) -> list[BatchStanding]:
    """`bidder_standing` of each (lot, org, user, bid_id, upload id or None) in one round trip, in order."""
    rows = await conn.fetch(
        "SELECT x.i,"
        " coalesce((SELECT approved AND kind = 'bidder' FROM organisations WHERE id = x.org), false) AS org_ok,"
        " EXISTS (SELECT 1 FROM document_downloads d WHERE d.lot_id = x.lot AND d.org_id = x.org) AS downloaded,"
        " EXISTS (SELECT 1 FROM bids b WHERE b.bid_id = x.bid) AS bid_id_taken,"
        " coalesce((SELECT array_agg(k.id ORDER BY k.registered_at) FROM identity_keys k"
        "           WHERE k.user_id = x.usr AND k.status = 'approved'), '{}') AS key_ids,"
        " coalesce((SELECT array_agg(k.public_key ORDER BY k.registered_at) FROM identity_keys k"
        "           WHERE k.user_id = x.usr AND k.status = 'approved'), '{}') AS keys,"
        " l.bid_id AS latest_bid_id, l.version AS latest_version, l.manifest_sha256 AS latest_manifest_sha256,"
        " (SELECT u.received FROM bid_uploads u WHERE u.id = x.upload) AS upload_received"
        " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[])"
        "      WITH ORDINALITY AS x(lot, org, usr, bid, upload, i)"
        " LEFT JOIN LATERAL (SELECT bid_id, version, manifest_sha256 FROM bids"
        "                    WHERE lot_id = x.lot AND bidder_org_id = x.org ORDER BY version DESC LIMIT 1) l ON true"
        " ORDER BY x.i",
        [i[0] for i in items], [i[1] for i in items], [i[2] for i in items], [i[3] for i in items],
        [i[4] for i in items])
    out = []
    for r in rows:
        st = Standing(org_ok=r["org_ok"], downloaded=r["downloaded"], bid_id_taken=r["bid_id_taken"],
                      key_ids=list(r["key_ids"]), keys=[bytes(k) for k in r["keys"]],
                      latest_bid_id=r["latest_bid_id"], latest_version=r["latest_version"],
                      latest_manifest_sha256=None if r["latest_manifest_sha256"] is None
                      else bytes(r["latest_manifest_sha256"]))
        out.append(BatchStanding(standing=st, upload_received=r["upload_received"]))
    return out


async def mark_superseded_many(conn: asyncpg.Connection, bid_ids: list[UUID], now: datetime) -> None:
    await conn.execute("UPDATE bids SET status = 'superseded', superseded_at = $2 WHERE bid_id = ANY($1)"
                       " AND status = 'active'", bid_ids, now)


class NewBid(msgspec.Struct, kw_only=True):
    bid_id: UUID
    lot_id: UUID
    tender_id: UUID
    bidder_org_id: UUID
    signer_id: UUID
    identity_key_id: UUID
    version: int
    previous: bytes | None
    manifest: bytes
    signature: bytes
    manifest_sha256: bytes
    ct_root: bytes
    ct_len: int
    accepted_at: datetime
    accept_seq: int
    receipt: str
    addr: str | None


async def insert_bids(conn: asyncpg.Connection, bids: list[NewBid], drop_uploads: list[UUID]) -> None:
    """Store several accepted bids in one statement, and delete the uploads they (or refusals of the same
    batch) came from."""
    cols = [[getattr(b, f) for b in bids] for f in NewBid.__struct_fields__]
    await conn.execute(
        "WITH done AS (DELETE FROM bid_uploads WHERE id = ANY($18::uuid[]))"
        " INSERT INTO bids (bid_id, lot_id, tender_id, bidder_org_id, signer_id, identity_key_id, version,"
        " previous_manifest_sha256, manifest, signature, manifest_sha256, ct_root, ct_len, accepted_at,"
        " accept_seq, receipt, addr) SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[],"
        " $5::uuid[], $6::uuid[], $7::int[], $8::bytea[], $9::bytea[], $10::bytea[], $11::bytea[], $12::bytea[],"
        " $13::bigint[], $14::timestamptz[], $15::bigint[], $16::text[], $17::text[])",
        *cols, drop_uploads)
