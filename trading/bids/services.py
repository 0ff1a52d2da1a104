"""The rules of sealed bids (seal/v2): identity keys, custodians' lot keys, submission, receipts, replacement,
withdrawal. Services take the connection first, record the witness entry, and never commit.

Confidentiality before the deadline (招标投标法 第二十二条, 电子招标投标办法 第二十一条): witness entries about
bids carry no actor and no address, only ids and hashes that name nobody; nothing here tells the agency, other
bidders or the public who or how many have bid.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from trading import events
from trading.accounts.schemas import Role, User
from trading.bids import ceremony as ceremony_mod
from trading.bids import repository as repo
from trading.bids import seal, uploads
from trading.bids.errors import (
    BidDeadlinePassed,
    BidderNotEligible,
    BidNotFound,
    BidTooLarge,
    BidVersionConflict,
    CeremonyMismatch,
    CustodianNotAssigned,
    DocumentsNotObtained,
    IdentityKeyInvalid,
    IdentityKeyNotApproved,
    LotKeyInvalid,
    LotKeysFixed,
    LotNotOpenForBids,
    ManifestRefused,
    ManifestSignatureInvalid,
    UploadHashMismatch,
    UploadOffsetMismatch,
    WithdrawalInvalid,
)
from trading.bids.keys import identity_proof_bytes
from trading.bids.schemas import (
    BidWithdrawn,
    CustodianSeat,
    IdentityKey,
    IdentityKeyCreate,
    LotKeyUpload,
    LotSealInfo,
    MyBid,
    UploadCreate,
    UploadState,
    WithdrawalCreate,
)
from trading.blobs import BlobStore
from trading.clock import Clock
from trading.errors import DomainError, Forbidden
from trading.records import Tag, append_entry
from trading.records.log import lock_log

log = logging.getLogger("tenderhall.bids")

MAX_BID_BYTES = 16 * 1024**3          # 16 GiB of ciphertext per bid
UPLOAD_TTL = timedelta(days=2)


def _ms(when: datetime) -> datetime:
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


# identity keys ------------------------------------------------------------------------------------------------

async def register_identity_key(conn: asyncpg.Connection, clock: Clock, user: User, data: IdentityKeyCreate,
                                addr: str | None = None) -> IdentityKey:
    """A bidder or custodian registers the Ed25519 public key its CLI generated; an admin approves it."""
    if not user.has(Role.BIDDER, Role.CUSTODIAN):
        raise Forbidden("only bidders and custodians register identity keys")
    if len(data.public_key) != 32:
        raise IdentityKeyInvalid("an Ed25519 public key is 32 bytes")
    # Proof of possession: the registrant signs its user id with the new key, so nobody registers a key it
    # does not hold (or someone else's key under its own account).
    if not seal.verify_signature(data.public_key, data.proof, identity_proof_bytes(str(user.id), data.public_key)):
        raise IdentityKeyInvalid("the proof of possession does not verify under this public key")
    key = await repo.insert_identity_key(conn, user.id, data.public_key, clock.now())
    await append_entry(conn, clock, Tag.ACCOUNT_KEY_REGISTER, actor=str(user.id), addr=addr,
                       body={"key": str(key.id), "user": str(user.id), "public_key": data.public_key.hex()})
    return key


async def approve_identity_key(conn: asyncpg.Connection, clock: Clock, key_id: UUID, admin: User,
                               addr: str | None = None) -> IdentityKey:
    key = await repo.lock_identity_key(conn, key_id)
    if key.status != "pending":
        raise IdentityKeyInvalid(f"the key is {key.status}, not pending")
    key = await repo.set_identity_key_status(conn, key_id, "approved", by=admin.id, now=clock.now())
    await append_entry(conn, clock, Tag.ACCOUNT_KEY_APPROVE, actor=str(admin.id), addr=addr,
                       body={"key": str(key.id), "user": str(key.user_id)})
    return key


async def revoke_identity_key(conn: asyncpg.Connection, clock: Clock, key_id: UUID, user: User,
                              addr: str | None = None) -> IdentityKey:
    key = await repo.lock_identity_key(conn, key_id)
    if key.user_id != user.id and not user.has(Role.ADMIN):
        raise Forbidden("only the key's owner or an administrator may revoke it")
    if key.status == "revoked":
        raise IdentityKeyInvalid("the key is already revoked")
    key = await repo.set_identity_key_status(conn, key_id, "revoked", by=user.id, now=clock.now())
    await append_entry(conn, clock, Tag.ACCOUNT_KEY_REVOKE, actor=str(user.id), addr=addr,
                       body={"key": str(key.id), "user": str(key.user_id)})
    return key


async def _signing_key(conn: asyncpg.Connection, user_id: UUID, message: bytes, signature: bytes
                       ) -> UUID | None:
    """The id of the user's approved identity key that verifies the signature, else None."""
    keys = await repo.list_approved_identity_keys(conn, user_id)
    if not keys:
        raise IdentityKeyNotApproved("no approved identity key: register one (tenderhall keys register) and ask an"
                                     " administrator to approve it")
    for key_id, public in keys:
        if seal.verify_signature(public, signature, message):
            return key_id
    return None


# custodians' lot keys -----------------------------------------------------------------------------------------

def _suite_for(post_quantum: bool) -> str:
    return ceremony_mod.SUITE_MLKEM768_X25519 if post_quantum else ceremony_mod.SUITE_X25519


def _seat_view(seat: repo.Seat) -> CustodianSeat:
    return CustodianSeat(lot_id=seat.lot_id, tender_id=seat.tender_id, custodian_id=seat.custodian_id, x=seat.x,
                         suite=_suite_for(seat.post_quantum), k=seat.k, n=seat.n,
                         hpke_public_key=seat.hpke_public_key, registered_at=seat.registered_at)


async def custodian_seat(conn: asyncpg.Connection, lot_id: UUID, user: User) -> CustodianSeat:
    seat = await repo.find_seat(conn, lot_id, user.id)
    if seat is None:
        raise CustodianNotAssigned("you are not a custodian of this lot")
    return _seat_view(seat)


async def list_custodian_seats(conn: asyncpg.Connection, user: User) -> list[CustodianSeat]:
    return [_seat_view(s) for s in await repo.list_seats_for_custodian(conn, user.id)]


async def upload_lot_key(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User, data: LotKeyUpload,
                         addr: str | None = None) -> CustodianSeat:
    """A custodian uploads its per-lot HPKE public key, signed with its identity key (DESIGN §6 Keys)."""
    seat = await repo.find_seat(conn, lot_id, user.id, lock=True)
    if seat is None:
        raise CustodianNotAssigned("you are not a custodian of this lot")
    # The ceremony record is fixed at publication: a key uploaded later could not be in it.
    if seat.tender_status != "draft" or seat.ceremony_hash is not None:
        raise LotKeysFixed("the lot's keys were fixed when the tender was published")
    suite = _suite_for(seat.post_quantum)
    if data.suite != suite:
        raise LotKeyInvalid(f"this lot requires the {suite} suite", suite=suite)
    problem = seal.check_hpke_public_key(data.suite, data.public_key)
    if problem:
        raise LotKeyInvalid(f"the public key is malformed: {problem}")
    statement = ceremony_mod.key_statement_bytes(str(lot_id), str(user.id), seat.x, data.suite, data.public_key)
    if await _signing_key(conn, user.id, statement, data.signature) is None:
        raise LotKeyInvalid("the key statement's signature does not verify under your approved identity key")
    now = clock.now()
    await repo.set_lot_key(conn, lot_id, user.id, suite=data.suite, public_key=data.public_key,
                           signature=data.signature, now=now)
    await append_entry(conn, clock, Tag.TENDER_CUSTODIAN_KEY, actor=str(user.id), tender_id=seat.tender_id,
                       lot_id=lot_id, addr=addr,
                       body={"lot": str(lot_id), "custodian": str(user.id), "x": seat.x, "suite": data.suite,
                             "public_key_sha256": hashlib.sha256(data.public_key).hexdigest()})
    seat = await repo.find_seat(conn, lot_id, user.id)
    assert seat is not None
    return _seat_view(seat)


# sealing info -------------------------------------------------------------------------------------------------

async def lot_seal_info(conn: asyncpg.Connection, clock: Clock, lot_id: UUID) -> LotSealInfo:
    lot = await repo.get_lot_for_bids(conn, lot_id)
    if lot.tender_status != "published" or lot.ceremony_hash is None or lot.ceremony_record is None:
        raise LotNotOpenForBids("the lot is not published")
    return LotSealInfo(lot_id=lot.lot_id, tender_id=lot.tender_id, number=lot.number, name=lot.name,
                       bid_deadline=lot.bid_deadline, max_price_fen=lot.max_price_fen, bid_fields=lot.bid_fields,
                       ceremony_hash=lot.ceremony_hash, ceremony_record=lot.ceremony_record)


# submission ---------------------------------------------------------------------------------------------------

def _check_open(lot: repo.LotForBids, now: datetime) -> None:
    # 电子招标投标办法 第二十七条 / 招标投标法 第二十八条: only what is verified before the deadline instant is accepted.
    if now >= lot.bid_deadline:
        raise BidDeadlinePassed(f"the bid deadline ({lot.bid_deadline.isoformat()}) has passed",
                                deadline=lot.bid_deadline.isoformat())
    if lot.tender_status != "published" or lot.lot_status != "published" or lot.ceremony_hash is None:
        raise LotNotOpenForBids(f"the lot is {lot.lot_status if lot.tender_status == 'published' else lot.tender_status}"
                                ", not open for bids")


def decode_for(lot: repo.LotForBids, user: User, manifest_bytes: bytes) -> seal.Manifest:
    try:
        m = seal.decode_manifest(manifest_bytes)
    except seal.ManifestInvalid as exc:
        raise ManifestRefused(str(exc)) from None
    if m.lot_id != str(lot.lot_id) or m.tender_id != str(lot.tender_id):
        raise ManifestRefused("the manifest is for another lot")
    if not user.has(Role.BIDDER) or user.org_id is None or m.bidder_org_id != str(user.org_id) \
            or m.signer_id != str(user.id):
        raise BidderNotEligible("the manifest must name your organisation and you as its signer")
    return m


async def check_manifest(conn: asyncpg.Connection, lot: repo.LotForBids, user: User, manifest_bytes: bytes,
                          signature: bytes, now: datetime) -> tuple[seal.Manifest, UUID, repo.Standing]:
    """Every check a manifest must pass, at upload creation and again at finalisation. Read-only: a refusal
    leaves nothing to roll back."""
    m = decode_for(lot, user, manifest_bytes)
    assert user.org_id is not None
    st = await repo.bidder_standing(conn, lot.lot_id, user.org_id, user.id, UUID(bytes=m.bid_id))
    return m, check_standing(lot, m, signature, seal.manifest_signed_bytes(manifest_bytes), now, st), st


def check_manifest_with(lot: repo.LotForBids, user: User, manifest_bytes: bytes, signature: bytes, now: datetime,
                        st: repo.Standing) -> tuple[seal.Manifest, UUID]:
    """`_check_manifest` with the bidder's standing already read (the group acceptance reads it for a batch)."""
    m = decode_for(lot, user, manifest_bytes)
    return m, check_standing(lot, m, signature, seal.manifest_signed_bytes(manifest_bytes), now, st)


def check_standing(lot: repo.LotForBids, m: seal.Manifest, signature: bytes, signed: bytes, now: datetime,
                   st: repo.Standing) -> UUID:
    """The checks of a decoded manifest against the bidder's standing; the id of the identity key that signed."""
    if not st.org_ok:
        raise BidderNotEligible("your organisation is not an approved bidder")
    if not st.keys:
        raise IdentityKeyNotApproved("no approved identity key: register one (tenderhall keys register) and ask an"
                                     " administrator to approve it")
    key_id = next((kid for kid, pub in zip(st.key_ids, st.keys) if seal.verify_signature(pub, signature, signed)),
                  None)
    if key_id is None:
        raise ManifestSignatureInvalid("the manifest signature does not verify under your approved identity key")
    _check_open(lot, now)
    if not hmac.compare_digest(m.ceremony_hash, lot.ceremony_hash or b""):
        raise CeremonyMismatch("the bid is sealed to another key ceremony than the lot's")
    record = ceremony_mod.decode_ceremony(lot.ceremony_record or b"")
    expected = sorted((c.custodian_id, c.x) for c in record.custodians)
    if m.k != record.k or sorted((s.custodian_id, s.x) for s in m.shares) != expected:
        raise ManifestRefused("the shares do not match the lot's custodians and threshold")
    # 电子招标投标办法 第二十条: obtaining the documents is recorded, not a gate for anything else; a bid needs it.
    if not st.downloaded:
        raise DocumentsNotObtained("your organisation has not obtained this lot's bidding documents")
    if m.ct_len > MAX_BID_BYTES:
        raise BidTooLarge(f"a sealed bid may be at most {MAX_BID_BYTES} bytes")
    if st.latest_version is None:
        if m.version != 1:
            raise BidVersionConflict("you have no bid on this lot yet: seal version 1")
    elif m.version != st.latest_version + 1 or m.previous != st.latest_manifest_sha256:
        # 招标投标法 第二十九条: a replacement names the version it replaces, so versions form one signed chain.
        raise BidVersionConflict(f"a replacement must be version {st.latest_version + 1} naming the manifest of"
                                 f" version {st.latest_version}", latest_version=st.latest_version,
                                 latest_manifest_sha256=(st.latest_manifest_sha256 or b"").hex())
    if st.bid_id_taken:
        raise ManifestRefused("this bid_id is already used: seal again (bid ids are random)")
    return key_id


async def start_upload(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User, data: UploadCreate,
                       addr: str | None = None) -> UploadState:
    lot = await repo.get_lot_for_bids(conn, lot_id)
    m, key_id, _ = await check_manifest(conn, lot, user, data.manifest, data.signature, clock.now())
    assert user.org_id is not None
    upload = await repo.insert_upload(
        conn, lot_id=lot_id, bidder_org_id=user.org_id, user_id=user.id, identity_key_id=key_id,
        manifest=data.manifest, signature=data.signature, manifest_sha256=seal.manifest_sha256(data.manifest),
        ct_root=m.ct_root, ct_len=m.ct_len, now=clock.now(), addr=addr)
    return UploadState(upload_id=upload.id, offset=0, length=upload.ct_len)


async def upload_state(conn: asyncpg.Connection, upload_id: UUID, user: User) -> UploadState:
    up = await repo.get_upload(conn, upload_id, user.id)
    return UploadState(upload_id=up.id, offset=up.received, length=up.ct_len)


async def receive_chunk(pool: asyncpg.Pool, clock: Clock, store: BlobStore, upload_id: UUID, user: User,
                        offset: int, chunks) -> UploadState:
    """PATCH: append a chunk at `offset`. No transaction is held while the body streams.

    A refusal here (deadline passed, more bytes than declared) deletes the upload and logs the attempt in its
    own transaction, then raises.
    """
    async with pool.acquire() as conn:
        up = await repo.get_upload(conn, upload_id, user.id)
        lot = await repo.get_lot_for_bids(conn, up.lot_id)
    if offset != up.received:
        raise UploadOffsetMismatch(f"the upload is at offset {up.received}, not {offset}", offset=up.received)
    try:
        _check_open(lot, clock.now())
    except DomainError as exc:
        await refuse_in_own_transaction(pool, clock, store, up, "upload", exc)
        raise
    try:
        new = await uploads.receive(store, up.id, offset, up.ct_len, chunks)
    except uploads.Overflow as exc:
        err = UploadHashMismatch(f"refused: {exc}")
        await refuse_in_own_transaction(pool, clock, store, up, "upload", err)
        raise err from None
    except uploads.Interrupted as exc:
        async with pool.acquire() as conn:
            await repo.advance_upload(conn, up.id, offset, offset + exc.written, clock.now())
        raise exc.cause from None
    async with pool.acquire() as conn:
        if not await repo.advance_upload(conn, up.id, offset, new, clock.now()):
            current = await repo.get_upload(conn, upload_id, user.id)
            raise UploadOffsetMismatch("another request moved this upload meanwhile", offset=current.received)
    return UploadState(upload_id=up.id, offset=new, length=up.ct_len)


_KEYS: dict[Any, tuple[float, Any]] = {}
check_open = _check_open
ms = _ms


def _platform_key(settings: Any):
    """The platform signing key, re-read only when its file changes (rotation)."""
    from trading.records.keys import key_path, load_platform_key

    path = key_path(settings)
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return load_platform_key(settings)
    cached = _KEYS.get(path)
    if cached is None or cached[0] != mtime:
        cached = (mtime, load_platform_key(settings))
        _KEYS[path] = cached
    return cached[1]


platform_key = _platform_key


# refusals -----------------------------------------------------------------------------------------------------

async def record_refusal(conn: asyncpg.Connection, clock: Clock, store: BlobStore | None, lot_id: UUID | None,
                         stage: str, exc: DomainError, *, manifest: bytes | None = None,
                         upload_id: UUID | None = None) -> None:
    """Log a refused submission and drop whatever it had stored (the upload row and its spool).

    Runs in the caller's transaction after the refused work was rolled back to a savepoint, so nothing but the
    logged attempt remains. No actor and no address: a refusal must not reveal who tried to bid.
    """
    if upload_id is not None:
        await repo.delete_upload(conn, upload_id)
        if store is not None:
            uploads.discard(store, upload_id)
    if lot_id is None:
        return
    lot_row = await conn.fetchrow("SELECT tender_id FROM lots WHERE id = $1", lot_id)
    if lot_row is None:
        return
    body: dict[str, Any] = {"stage": stage, "code": exc.code}
    if manifest is not None:
        body["manifest_sha256"] = seal.manifest_sha256(manifest).hex()
    await append_entry(conn, clock, Tag.BID_SEAL_REFUSE, tender_id=lot_row["tender_id"], lot_id=lot_id, body=body)


async def refuse_in_own_transaction(pool: asyncpg.Pool, clock: Clock, store: BlobStore, up: repo.Upload,
                                     stage: str, exc: DomainError) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await record_refusal(conn, clock, store, up.lot_id, stage, exc, manifest=up.manifest, upload_id=up.id)


async def start_upload_or_refuse(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User,
                                 data: UploadCreate, addr: str | None = None) -> UploadState | DomainError:
    """start_upload, or the refusal — logged and committed while nothing of the attempt is stored."""
    try:
        # start_upload refuses before it writes anything, so the refusal's entry commits alone.
        return await start_upload(conn, clock, lot_id, user, data, addr)
    except DomainError as exc:
        await record_refusal(conn, clock, None, lot_id, "create", exc, manifest=data.manifest)
        return exc


# withdrawal ---------------------------------------------------------------------------------------------------

async def withdraw_bid(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User, data: WithdrawalCreate,
                       addr: str | None = None) -> BidWithdrawn:
    """招标投标法 第二十九条: before the deadline a bidder may withdraw its bid, by a statement it signs."""
    try:
        w = seal.decode_withdrawal(data.statement)
    except seal.ManifestInvalid as exc:
        raise WithdrawalInvalid(str(exc)) from None
    if w.lot_id != str(lot_id) or user.org_id is None or w.bidder_org_id != str(user.org_id) \
            or w.signer_id != str(user.id):
        raise WithdrawalInvalid("the statement must name this lot, your organisation and you")
    if await _signing_key(conn, user.id, seal.WITHDRAW_SIG_PREFIX + data.statement, data.signature) is None:
        raise ManifestSignatureInvalid("the withdrawal signature does not verify under your approved identity key")
    lot = await repo.get_lot_for_bids(conn, lot_id)
    await repo.lock_bidder_lot(conn, lot_id, user.org_id)
    await lock_log(conn, tender_id=lot.tender_id, lot_id=lot_id)  # as in finalize_upload
    now = clock.now()
    _check_open(lot, now)
    latest = await repo.find_latest_bid(conn, lot_id, user.org_id)
    if latest is None or latest.status != "active":
        raise BidNotFound("you have no live bid on this lot")
    if latest.bid_id.bytes != w.bid_id or latest.manifest_sha256 != w.manifest_sha256:
        raise WithdrawalInvalid("the statement does not name your latest bid version",
                                latest_version=latest.version)
    await repo.mark_withdrawn(conn, latest.bid_id, _ms(now))
    entry = await append_entry(conn, clock, Tag.BID_SEAL_WITHDRAW, tender_id=lot.tender_id, lot_id=lot_id,
                               body={"bid": latest.bid_id.hex, "manifest_sha256": latest.manifest_sha256.hex(),
                                     "statement_sha256": hashlib.sha256(data.statement).hexdigest()})
    await repo.insert_withdrawal(conn, bid_id=latest.bid_id, lot_id=lot_id, bidder_org_id=user.org_id,
                                 signer_id=user.id, statement=data.statement, signature=data.signature, now=_ms(now),
                                 seq=entry.seq, addr=addr)
    await events.emit(conn, clock, "bid.withdrawn",
                      {"lot_id": lot_id, "bidder_org_id": user.org_id, "bid_id": latest.bid_id})
    return BidWithdrawn(bid_id=latest.bid_id.hex, lot_id=lot_id, withdrawn_at=_ms(now), log_index=entry.seq)


async def list_my_bids(conn: asyncpg.Connection, lot_id: UUID, user: User) -> list[MyBid]:
    if user.org_id is None:
        return []
    return [MyBid(bid_id=b.bid_id.hex, version=b.version, status=b.status, manifest_sha256=b.manifest_sha256.hex(),
                  ct_root=b.ct_root.hex(), ct_len=b.ct_len, accepted_at=b.accepted_at, receipt=b.receipt)
            for b in await repo.list_bids_for_org(conn, lot_id, user.org_id)]


async def discard_stale_uploads(conn: asyncpg.Connection, clock: Clock, store: BlobStore) -> int:
    """Drop uploads untouched for UPLOAD_TTL (an abandoned upload is not a bid)."""
    ids = await repo.list_stale_uploads(conn, clock.now() - UPLOAD_TTL)
    for upload_id in ids:
        await repo.delete_upload(conn, upload_id)
        uploads.discard(store, upload_id)
    return len(ids)
