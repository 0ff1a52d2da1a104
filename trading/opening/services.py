"""The opening (开标): deadline, session, share releases, unsealing, the opening record, objections, close.

Every function takes the connection first, runs in the caller's transaction, records its witness entry and
never commits — except `run_unsealing`, which takes the pool and settles each bid in its own transaction so a
restart resumes from what is stored (shares persist; settling a bid twice is impossible: its row is locked and
its state moves once).
"""
from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from trading.accounts.schemas import Role, User
from trading.blobs import blob_store
from trading.clock import Clock, show
from trading.events import emit
from trading.money import fen_to_yuan, to_chinese_capital
from trading.opening import repository as repo
from trading.opening import source
from trading.opening.deposit_status import deposit_statuses
from trading.opening.errors import (
    ObjectionAlreadyAnswered,
    OpeningBeforeDeadline,
    OpeningClosed,
    OpeningFailed,
    OpeningLotNotOpenable,
    OpeningLotSuspended,
    OpeningNotAgency,
    OpeningNotCustodian,
    OpeningNotParticipant,
    OpeningNotPublished,
    OpeningNotUnsealing,
    OpeningObjectionsUnanswered,
    OpeningTextInvalid,
    OpeningWindowClosed,
    RecordAlreadyConfirmed,
    ReleaseInvalid,
    ReleaseSignatureInvalid,
)
from trading.opening.live import publish_hall_event
from trading.opening.release import decode_release, sha256_hex, verify_release
from trading.opening.schemas import (
    LotForOpening,
    OpeningBundle,
    OpeningSession,
    ReleaseResult,
    ReleaseSubmit,
    UnsealReport,
)
from trading.bids import seal as sealing
from trading.opening.sealed import BIDDER_FAULT, OpenedFiles, decrypt_bid_files, open_bid_files
from trading.records import Tag, append_entry
from trading.settings import Settings

log = logging.getLogger("tenderhall.opening")

# 招标投标法实施条例 第四十四条: fewer than 3 bidders → no opening (流标).
MIN_BIDS = 3
# The decryption window after the deadline: custodians who have not released by then count as absent, and bids
# still short of k shares are treated as withdrawn (撤回, 电子招标投标办法 第三十一条).
DECRYPTION_WINDOW = timedelta(hours=1)
PLATFORM_ACTOR = "platform"

STATUS_LABELS = {"opened": "解密成功", "revoked": "视为撤销", "withdrawn": "视为撤回", "pending": "待解密"}
CAUSE_LABELS = {
    "key_commit_mismatch": "密钥承诺不符（投标人原因）",
    "shares_inconsistent": "份额无法恢复密钥（投标人原因）",
    "payload_undecryptable": "投标文件无法解密（投标人原因）",
    "form_invalid": "投标函数据无效（投标人原因）",
    "form_mismatch": "投标函与封存清单不符（投标人原因）",
    "attachment_missing": "附件缺失（投标人原因）",
    "attachment_mismatch": "附件与投标函不符（投标人原因）",
    "custodians_absent": "解密时限内密钥保管人不足（非投标人原因）",
    "ciphertext_missing": "密文缺失（平台原因）",
    "ciphertext_corrupt": "密文校验失败（平台原因）",
}


# --- helpers ------------------------------------------------------------------------------------------------

def _is_agency_of(user: User, lot: LotForOpening) -> bool:
    return user.has(Role.ADMIN) or (user.has(Role.AGENCY) and user.org_id == lot.agency_org_id)


def _require_agency(user: User, lot: LotForOpening) -> None:
    if not _is_agency_of(user, lot):
        raise OpeningNotAgency("only the lot's agency (招标代理机构) hosts its opening")


async def _sign_checkpoint(conn: asyncpg.Connection, clock: Clock, settings: Settings, reason: str) -> None:
    """DESIGN §7: a checkpoint is signed at every deadline and opening (records engineer's signer)."""
    try:
        from trading.records.checkpoints import sign_checkpoint
    except ImportError:
        log.debug("records checkpoints not available; the background signer will cover this entry")
        return
    await sign_checkpoint(conn, clock, settings, reason=reason)


async def _transition(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, to: str, *, actor: str,
                      reason: str | None = None, addr: str | None = None) -> None:
    from trading.tenders.lifecycle import transition_lot

    await transition_lot(conn, clock, lot_id, to, actor=actor, reason=reason, addr=addr)


# --- deadline and start ------------------------------------------------------------------------------------

async def pass_deadline(conn: asyncpg.Connection, clock: Clock, settings: Settings, lot_id: UUID, *,
                        actor: str = PLATFORM_ACTOR, addr: str | None = None) -> OpeningSession:
    """At the deadline: close the lot, log lot:deadline:pass, sign a checkpoint, then either fail the lot
    (fewer than 3 bids: nothing is unsealed) or start the opening with the list of bids to open.

    Idempotent: a lot that already has its session returns it unchanged.
    """
    lot = await repo.lock_lot(conn, lot_id)
    existing = await repo.find_session(conn, lot_id)
    if existing is not None:
        return existing
    now = clock.now()
    # 招标投标法 第三十四条 / 电子招标投标办法 第二十九条: the opening happens at the deadline, never before.
    if now < lot.bid_deadline:
        raise OpeningBeforeDeadline(
            f"the bid deadline is {show(lot.bid_deadline)} (Asia/Shanghai); nothing opens before it",
            deadline=lot.bid_deadline.isoformat())
    if lot.suspended:
        raise OpeningLotSuspended("the tender is suspended by an unanswered objection to its documents"
                                  " (招标投标法实施条例 第二十二条)")
    if lot.tender_status != "published" or lot.status not in ("published", "closed"):
        raise OpeningLotNotOpenable(f"a lot in status {lot.status!r} cannot be opened")
    if lot.status == "published":
        await _transition(conn, clock, lot_id, "closed", actor=actor, addr=addr)
    bids = await source.bids_to_open(conn, lot_id)
    deadline_entry = await append_entry(
        conn, clock, Tag.OPENING_DEADLINE_PASS, actor=actor, tender_id=lot.tender_id, lot_id=lot_id,
        body={"lot": str(lot_id), "deadline": lot.bid_deadline.isoformat(), "bids": len(bids)}, addr=addr)
    await _sign_checkpoint(conn, clock, settings, "deadline")
    window_ends = max(now, lot.bid_deadline) + DECRYPTION_WINDOW
    if len(bids) < MIN_BIDS:
        # 招标投标法实施条例 第四十四条: fewer than 3 bidders — 流标, nothing is unsealed.
        await repo.insert_session(conn, lot_id=lot_id, tender_id=lot.tender_id, status="failed",
                                  deadline=lot.bid_deadline, k=lot.custodian_k, deadline_seq=deadline_entry.seq,
                                  window_ends_at=window_ends, started_at=now)
        reason = f"fewer than {MIN_BIDS} bids ({len(bids)}) at the deadline (招标投标法实施条例 第四十四条)"
        await append_entry(conn, clock, Tag.OPENING_LOT_FAIL, actor=actor, tender_id=lot.tender_id,
                           lot_id=lot_id, body={"lot": str(lot_id), "bids": len(bids),
                                                "reason": "fewer_than_3_bids"}, addr=addr)
        await _transition(conn, clock, lot_id, "failed", actor=actor, reason=reason, addr=addr)
        await _publish_failed_record(conn, clock, settings, lot, len(bids), reason)
        await publish_hall_event(conn, lot_id, "failed", bids=len(bids))
        return await repo.get_session(conn, lot_id)
    await repo.insert_session(conn, lot_id=lot_id, tender_id=lot.tender_id, status="unsealing",
                              deadline=lot.bid_deadline, k=lot.custodian_k, deadline_seq=deadline_entry.seq,
                              window_ends_at=window_ends, started_at=now)
    for b in bids:
        await repo.insert_bid_to_open(conn, lot_id, bid_id=b.bid_id, version=b.version,
                                      bidder_org_id=b.bidder_org_id, manifest_sha256=b.manifest_sha256,
                                      ct_root=b.ct_root, accepted_at=b.accepted_at)
    await _transition(conn, clock, lot_id, "opening", actor=actor, addr=addr)
    start = await append_entry(
        conn, clock, Tag.OPENING_SESSION_START, actor=actor, tender_id=lot.tender_id, lot_id=lot_id,
        body={"lot": str(lot_id), "deadline_seq": deadline_entry.seq, "k": lot.custodian_k,
              "window_ends_at": window_ends.isoformat(),
              "manifests": [{"bid_id": str(b.bid_id), "manifest_sha256": b.manifest_sha256} for b in bids]},
        addr=addr)
    await repo.set_session_started(conn, lot_id, start.seq, hashlib.sha256(start.entry).hexdigest())
    await _sign_checkpoint(conn, clock, settings, "opening")
    await publish_hall_event(conn, lot_id, "started", bids=len(bids))
    return await repo.get_session(conn, lot_id)


async def _publish_failed_record(conn: asyncpg.Connection, clock: Clock, settings: Settings, lot: LotForOpening,
                                 bid_count: int, reason: str) -> None:
    """招标投标法 第三十六条: the record is made even when the lot fails — outcome 流标, nothing unsealed, no names."""
    names = await repo.get_org_names(conn, [lot.agency_org_id, lot.tenderer_org_id])
    now = clock.now()
    record = {
        "v": "tenderhall/opening-record/v1",
        "tender": {"id": str(lot.tender_id), "code": lot.tender_code, "title": lot.tender_title},
        "lot": {"id": str(lot.id), "number": lot.number, "name": lot.name},
        "opening_time": lot.bid_deadline.isoformat(), "unsealed_at": None,
        "host": names.get(lot.agency_org_id, ""), "tenderer": names.get(lot.tenderer_org_id, ""),
        "max_price_fen": lot.max_price_fen,
        "max_price_yuan": fen_to_yuan(lot.max_price_fen) if lot.max_price_fen is not None else None,
        # 招标投标法实施条例 第五十条: a 标底, if any, is announced at the opening.
        "reference_price_fen": lot.reference_price_fen,
        "reference_price_yuan": fen_to_yuan(lot.reference_price_fen) if lot.reference_price_fen is not None else None,
        "bid_fields": lot.bid_fields, "bidder_count": bid_count, "opened_count": 0,
        "outcome": "failed", "reason": reason, "bids": [],
    }
    record_sha = hashlib.sha256(msgspec.json.encode(record)).hexdigest()
    pdf = await asyncio.to_thread(_render_record_pdf, record)
    pdf_sha = await _store_pdf(conn, clock, settings, lot, pdf, filename=f"opening-record-lot{lot.number}.pdf",
                               kind="opening_record")
    await repo.insert_record(conn, lot.id, record, record_sha, pdf_sha, now)
    await append_entry(conn, clock, Tag.OPENING_RECORD_PUBLISH, actor=PLATFORM_ACTOR, tender_id=lot.tender_id,
                       lot_id=lot.id, body={"record_sha256": record_sha, "pdf_sha256": pdf_sha, "outcome": "failed",
                                            "bids": bid_count})


async def start_due_openings(pool: asyncpg.Pool, clock: Clock, settings: Settings) -> list[UUID]:
    """The scanner's step: pass the deadline of every due lot (each in its own transaction)."""
    async with pool.acquire() as conn:
        due = await repo.list_lots_due(conn, clock.now())
    started = []
    for lot_id in due:
        try:
            async with pool.acquire() as conn, conn.transaction():
                await pass_deadline(conn, clock, settings, lot_id)
            started.append(lot_id)
        except Exception:  # noqa: BLE001 - one bad lot must not stop the others; retried next scan
            log.exception("passing the deadline of lot %s failed", lot_id)
    return started


# --- custodians ---------------------------------------------------------------------------------------------

async def opening_bundle(conn: asyncpg.Connection, lot_id: UUID, user: User) -> OpeningBundle:
    """What a custodian's client checks before it opens anything: the deadline and start entries, the bid log
    of the lot before the deadline, and the manifests on the list."""
    lot = await repo.get_lot(conn, lot_id)
    custodian = await repo.find_lot_custodian(conn, lot_id, user.id)
    if custodian is None:
        raise OpeningNotCustodian("you are not a key custodian of this lot")
    session = await repo.get_session(conn, lot_id)
    if session.status == "failed":
        raise OpeningFailed("the lot failed (流标): nothing is unsealed")
    bids = await repo.list_bids_on_list(conn, lot_id)
    manifests = [await source.load_manifest_bytes(conn, lot_id, b.bid_id) for b in bids]
    bid_entries = await source.bid_log_entries(conn, lot_id, session.deadline_seq)
    checkpoint, proofs = await _proofs(conn, session, bid_entries)
    return OpeningBundle(
        lot_id=str(lot_id), tender_id=str(lot.tender_id), deadline=lot.bid_deadline.isoformat(), k=session.k,
        custodian_id=str(user.id), x=custodian["x"], ceremony_hash=(lot.ceremony_hash or b"").hex(),
        deadline_entry=await repo.get_log_entry(conn, session.deadline_seq),
        start_entry=await repo.get_log_entry(conn, session.start_seq),
        bid_entries=bid_entries,
        manifests=manifests,
        checkpoint=checkpoint, proofs=proofs,
        accepted_manifests=await source.accepted_manifests(conn, lot_id, session.deadline_seq),
    )


async def _proofs(conn: asyncpg.Connection, session: OpeningSession, bid_entries: list[bytes]
                  ) -> tuple[str | None, dict[str, list[str]]]:
    """The first signed checkpoint covering the start entry and inclusion proofs of the bundle's entries to it."""
    cp = await repo.find_checkpoint_covering(conn, session.start_seq)
    if cp is None:
        return None, {}
    from trading.records.services import inclusion_proof

    seqs = [session.deadline_seq, session.start_seq,
            *(msgspec.json.decode(e, type=_Seq).seq for e in bid_entries)]
    proofs = {}
    for seq in seqs:
        proofs[str(seq)] = (await inclusion_proof(conn, seq, cp["tree_size"])).hashes
    return cp["note"], proofs


class _Seq(msgspec.Struct):
    seq: int


async def release_shares(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User, data: ReleaseSubmit,
                         *, addr: str | None = None) -> ReleaseResult:
    """Store a custodian's signed release. Each share is checked against its commitment: a mismatch is the
    custodian's fault — logged and ignored, without blocking the other shares or bids."""
    session = await repo.lock_session(conn, lot_id)
    now = clock.now()
    # 招标投标法 第三十四条: nothing is released before the deadline (the session exists only after it).
    if now < session.deadline:
        raise OpeningBeforeDeadline("shares are released only after the deadline")
    if session.status == "failed":
        raise OpeningFailed("the lot failed (流标): nothing is unsealed")
    if session.status != "unsealing":
        raise OpeningNotUnsealing("every bid of this opening is already settled")
    if now > session.window_ends_at:
        raise OpeningWindowClosed(f"the decryption window ended at {show(session.window_ends_at)}")
    custodian = await repo.find_lot_custodian(conn, lot_id, user.id)
    if custodian is None:
        raise OpeningNotCustodian("you are not a key custodian of this lot")
    keys = await repo.list_identity_keys(conn, user.id)
    if not any(verify_release(k, data.statement, data.signature) for k in keys):
        raise ReleaseSignatureInvalid("the release is not signed by an approved identity key of yours")
    try:
        release = decode_release(data.statement)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
        raise ReleaseInvalid(f"not a share release: {exc}") from None
    if (release.lot_id != str(lot_id) or release.custodian_id != str(user.id) or release.x != custodian["x"]):
        raise ReleaseInvalid("the release names another lot, custodian or x-coordinate")
    if release.start_entry_sha256 != session.start_entry_sha256:
        raise ReleaseInvalid("the release answers another list of bids to open (start entry hash differs)")
    digest = sha256_hex(data.statement)
    release_id = await repo.insert_release(
        conn, lot_id=lot_id, custodian_id=user.id, x=custodian["x"], statement=data.statement,
        signature=data.signature, statement_sha256=digest, received_at=now, addr=addr)
    if release_id is None:  # the same statement again: nothing new
        return ReleaseResult(release_id=await repo.find_release_by_hash(conn, lot_id, digest), accepted=0,
                             rejected=[], ignored=len(release.shares))
    accepted, ignored, rejected = 0, 0, []
    for item in release.shares:
        try:
            bid_id = UUID(item.bid_id)
        except ValueError:
            rejected.append({"bid_id": item.bid_id, "cause": "unknown_bid"})
            continue
        bid = await repo.find_bid_on_list(conn, lot_id, bid_id)
        if bid is None or bid.manifest_sha256 != item.manifest_sha256:
            rejected.append({"bid_id": item.bid_id, "cause": "unknown_bid"})
            continue
        if bid.state != "pending":
            ignored += 1
            continue
        manifest = await source.load_manifest(conn, lot_id, bid_id)
        envelope = next((s for s in manifest.shares if s.custodian_id == str(user.id)), None)
        good = envelope is not None and envelope.x == custodian["x"] and source.share_matches(
            manifest, item.share, envelope.share_commit)
        stored = await repo.upsert_share(
            conn, lot_id=lot_id, bid_id=bid_id, custodian_id=user.id, x=custodian["x"], share=item.share,
            status="good" if good else "bad", cause=None if good else "share_commit_mismatch",
            release_id=release_id, received_at=now)
        if not stored:
            ignored += 1  # a good share is never replaced
        elif good:
            accepted += 1
        else:
            rejected.append({"bid_id": item.bid_id, "cause": "share_commit_mismatch"})
            # DESIGN §6: a share failing its commitment is the custodian's fault; logged, then ignored.
            await append_entry(conn, clock, Tag.OPENING_SHARE_REJECT, actor=str(user.id),
                               tender_id=session.tender_id, lot_id=lot_id,
                               body={"bid_id": item.bid_id, "custodian_id": str(user.id), "x": custodian["x"],
                                     "cause": "share_commit_mismatch", "release_sha256": digest}, addr=addr)
    await append_entry(conn, clock, Tag.OPENING_SHARE_RELEASE, actor=str(user.id), tender_id=session.tender_id,
                       lot_id=lot_id,
                       body={"custodian_id": str(user.id), "x": custodian["x"], "release_sha256": digest,
                             "accepted": accepted, "rejected": len(rejected), "ignored": ignored}, addr=addr)
    await publish_hall_event(conn, lot_id, "shares", custodian=str(user.id), accepted=accepted,
                             rejected=len(rejected))
    return ReleaseResult(release_id=release_id, accepted=accepted, rejected=rejected, ignored=ignored)


# --- unsealing ----------------------------------------------------------------------------------------------

async def _settle(conn: asyncpg.Connection, clock: Clock, session: OpeningSession, bid, result: OpenedFiles,
                  *, status: str) -> None:
    now = clock.now()
    name = await repo.get_org_name(conn, bid.bidder_org_id)
    await repo.insert_opened_bid(
        conn, lot_id=bid.lot_id, bid_id=bid.bid_id, bidder_org_id=bid.bidder_org_id, bidder_name=name,
        manifest_sha256=bid.manifest_sha256, status=status, cause=result.cause, detail=result.detail,
        dek=result.dek, price_fen=result.price_fen if status == "opened" else None,
        duration_days=result.duration_days if status == "opened" else None,
        form=result.form if status == "opened" else None,
        attachments=result.attachments if status == "opened" else [], plaintext_sha256=None, opened_at=now)
    await repo.set_bid_state(conn, bid.lot_id, bid.bid_id, status)
    body: dict[str, Any] = {"bid_id": str(bid.bid_id), "manifest_sha256": bid.manifest_sha256,
                            "bidder_org_id": str(bid.bidder_org_id)}
    if result.dek is not None:
        body["dek"] = result.dek.hex()  # DESIGN §6: the DEK is public to the record once the bid is opened
    if status == "opened":
        body["attachments"] = [a["sha256"] for a in result.attachments]
        await append_entry(conn, clock, Tag.OPENING_BID_UNSEAL_OK, actor=PLATFORM_ACTOR,
                           tender_id=session.tender_id, lot_id=bid.lot_id, body=body)
    else:
        # 电子招标投标办法 第三十一条: bidder's fault → treated as revoked (撤销); otherwise withdrawn (撤回).
        body.update({"outcome": status, "cause": result.cause, "detail": (result.detail or "")[:500]})
        await append_entry(conn, clock, Tag.OPENING_BID_UNSEAL_FAIL, actor=PLATFORM_ACTOR,
                           tender_id=session.tender_id, lot_id=bid.lot_id, body=body)
    await publish_hall_event(conn, bid.lot_id, "unsealed", bid_id=str(bid.bid_id), status=status)


# Bids settled per transaction: fewer commits (a WAL flush each) without holding many rows for long.
SETTLE_BATCH = 8


async def settle_ready_bids(conn: asyncpg.Connection, clock: Clock, settings: Settings, lot_id: UUID, *,
                            limit: int = SETTLE_BATCH) -> int:
    """Open up to `limit` pending bids that have k good shares (in the caller's transaction); returns how many.

    Each bid is decrypted in a worker thread while its row is locked; rows another worker holds are skipped."""
    session = await repo.get_session(conn, lot_id)
    if session.status != "unsealing":
        return 0
    bids = await repo.lock_ready_bids(conn, lot_id, session.k, limit)
    blobs = blob_store(settings)
    results = []
    # All file work first, the log appends last: the log's single-writer lock is then held only for the
    # short end of the transaction, and other workers decrypt meanwhile.
    for bid in bids:
        shares = {s.x: bytes(s.share) for s in await repo.list_good_shares(conn, lot_id, bid.bid_id)}
        try:
            manifest = await source.load_manifest(conn, lot_id, bid.bid_id)
        except sealing.ManifestInvalid as exc:
            results.append(OpenedFiles(ok=False, cause="ciphertext_corrupt", detail=f"stored manifest: {exc}"))
        else:
            results.append(await asyncio.to_thread(open_bid_files, blobs, manifest, shares, lot_id=str(lot_id)))
    for bid, result in zip(bids, results):
        if result.ok:
            status = "opened"
        elif result.cause in BIDDER_FAULT:
            status = "revoked"
        else:
            status = "withdrawn"
        await _settle(conn, clock, session, bid, result, status=status)
    return len(bids)


async def settle_next_bid(conn: asyncpg.Connection, clock: Clock, settings: Settings, lot_id: UUID) -> bool:
    """Open one ready bid (see settle_ready_bids). False when none is ready."""
    return await settle_ready_bids(conn, clock, settings, lot_id, limit=1) == 1


async def store_attachments(pool: asyncpg.Pool, settings: Settings, lot_id: UUID, *, workers: int = 2) -> int:
    """Write the opened bids' decrypted attachments to the blob store (after the record: the disk never delays
    it). Derived data — ciphertext + the logged DEK — so idempotent and safe to resume after a restart."""
    blobs = blob_store(settings)
    done = 0

    async def worker() -> None:
        nonlocal done
        while True:
            async with pool.acquire() as conn, conn.transaction():
                row = await repo.lock_next_unstored(conn, lot_id)
                if row is None:
                    return
                manifest = await source.load_manifest(conn, lot_id, row["bid_id"])
                result = await asyncio.to_thread(decrypt_bid_files, blobs, manifest, bytes(row["dek"]),
                                                 lot_id=str(lot_id), store=True)
                if not result.ok:  # opened once, so this is the platform's storage failing: retry next round
                    log.error("storing attachments of bid %s failed: %s", row["bid_id"], result.detail)
                    return
                await repo.mark_attachments_stored(conn, lot_id, row["bid_id"])
                done += 1

    await asyncio.gather(*(worker() for _ in range(max(1, workers))))
    return done


async def settle_expired(conn: asyncpg.Connection, clock: Clock, lot_id: UUID) -> int:
    """After the decryption window: bids still short of k good shares are treated as withdrawn (撤回) —
    not the bidder's fault, the deposit is refunded (电子招标投标办法 第三十一条)."""
    session = await repo.lock_session(conn, lot_id)
    if session.status != "unsealing" or clock.now() <= session.window_ends_at:
        return 0
    n = 0
    for bid in await repo.lock_pending_bids(conn, lot_id):
        good = len(await repo.list_good_shares(conn, lot_id, bid.bid_id))
        result = OpenedFiles(ok=False, cause="custodians_absent",
                             detail=f"{good} of {session.k} shares released within the decryption window")
        await _settle(conn, clock, session, bid, result, status="withdrawn")
        n += 1
    return n


async def run_unsealing(pool: asyncpg.Pool, clock: Clock, settings: Settings, lot_id: UUID, *,
                        workers: int = 2, attachments: bool = True) -> UnsealReport:
    """Settle every bid that can be settled now, then publish the record when none is pending.

    Each bid is its own transaction; workers skip rows another worker (or process) holds. Safe to call any
    number of times from anywhere (release endpoint, scanner, agency's resume button, after a restart)."""

    async def worker() -> None:
        while True:
            async with pool.acquire() as conn, conn.transaction():
                if not await settle_ready_bids(conn, clock, settings, lot_id):
                    return

    await asyncio.gather(*(worker() for _ in range(max(1, workers))))
    async with pool.acquire() as conn, conn.transaction():
        await settle_expired(conn, clock, lot_id)
    async with pool.acquire() as conn, conn.transaction():
        await publish_record_if_done(conn, clock, settings, lot_id)
    if attachments:
        await store_attachments(pool, settings, lot_id, workers=workers)
    async with pool.acquire() as conn:
        return await unseal_report(conn, lot_id)


async def unseal_report(conn: asyncpg.Connection, lot_id: UUID) -> UnsealReport:
    session = await repo.get_session(conn, lot_id)
    c = await repo.count_bid_states(conn, lot_id)
    return UnsealReport(lot_id=lot_id, opened=c["opened"], revoked=c["revoked"], withdrawn=c["withdrawn"],
                        pending=c["pending"], status=session.status)


# --- the opening record (开标记录表) ---------------------------------------------------------------------------

async def build_record(conn: asyncpg.Connection, clock: Clock, lot_id: UUID) -> dict[str, Any]:
    lot = await repo.get_lot(conn, lot_id)
    session = await repo.get_session(conn, lot_id)
    on_list = {b.bid_id: b for b in await repo.list_bids_on_list(conn, lot_id)}
    opened = await repo.list_opened_bids(conn, lot_id)
    deposits = await deposit_statuses(conn, lot_id, [o.bidder_org_id for o in opened])
    names = await repo.get_org_names(conn, [lot.agency_org_id, lot.tenderer_org_id])
    rows = []
    for i, o in enumerate(opened, 1):
        b = on_list[o.bid_id]
        fields = dict((o.form or {}).get("fields") or {})
        rows.append({
            "no": i, "bid_id": str(o.bid_id), "bidder_org_id": str(o.bidder_org_id), "bidder_name": o.bidder_name,
            "received_at": b.accepted_at.isoformat(), "manifest_sha256": o.manifest_sha256,
            "status": o.status, "cause": o.cause, "unsealed_at": o.opened_at.isoformat(),
            "price_fen": o.price_fen,
            "price_yuan": fen_to_yuan(o.price_fen) if o.price_fen is not None else None,
            "price_capital": to_chinese_capital(o.price_fen) if o.price_fen is not None else None,
            "duration_days": o.duration_days, "fields": fields,
            "deposit_status": deposits[o.bidder_org_id],
        })
    return {
        "v": "tenderhall/opening-record/v1",
        "tender": {"id": str(lot.tender_id), "code": lot.tender_code, "title": lot.tender_title},
        "lot": {"id": str(lot.id), "number": lot.number, "name": lot.name},
        "opening_time": session.deadline.isoformat(),
        "unsealed_at": clock.now().isoformat(),
        "host": names.get(lot.agency_org_id, ""),
        "tenderer": names.get(lot.tenderer_org_id, ""),
        "max_price_fen": lot.max_price_fen,
        "max_price_yuan": fen_to_yuan(lot.max_price_fen) if lot.max_price_fen is not None else None,
        # 招标投标法实施条例 第五十条: a 标底, if any, is announced at the opening.
        "reference_price_fen": lot.reference_price_fen,
        "reference_price_yuan": fen_to_yuan(lot.reference_price_fen) if lot.reference_price_fen is not None else None,
        "bid_fields": lot.bid_fields,
        "bidder_count": len(rows),
        "opened_count": sum(1 for r in rows if r["status"] == "opened"),
        "outcome": "opened",
        "bids": rows,
    }


def _render_record_pdf(record: dict[str, Any], *, objections: list[dict] | None = None,
                       confirmations: list[dict] | None = None) -> bytes:
    from trading.opening.record_pdf import render_record_pdf

    return render_record_pdf(record, CAUSE_LABELS, objections=objections, confirmations=confirmations)


async def _store_pdf(conn: asyncpg.Connection, clock: Clock, settings: Settings, lot: LotForOpening, pdf: bytes,
                     *, filename: str, kind: str) -> str:
    """Sign (PAdES, platform certificate) and register the PDF in the tender archive; returns its sha256."""
    from trading.records.pdf import sign_pdf_async

    signed = await sign_pdf_async(pdf, settings, reason="开标记录表 / opening record")
    try:
        from trading.records.services import record_document
    except ImportError:
        return await asyncio.to_thread(blob_store(settings).put_bytes, signed)
    return await record_document(conn, clock, tender_id=lot.tender_id, lot_id=lot.id, kind=kind,
                                 filename=filename, data=signed, actor=PLATFORM_ACTOR, settings=settings)


async def publish_record_if_done(conn: asyncpg.Connection, clock: Clock, settings: Settings,
                                 lot_id: UUID) -> bool:
    """When every bid is settled: publish names, prices and the other contents — only now, when decryption is
    complete (电子招标投标办法 第三十条) — as the signed opening record (招标投标法 第三十六条, 电子 第三十二条)."""
    session = await repo.lock_session(conn, lot_id)
    if session.status != "unsealing":
        return False
    counts = await repo.count_bid_states(conn, lot_id)
    if counts["pending"]:
        return False
    lot = await repo.get_lot(conn, lot_id)
    record = await build_record(conn, clock, lot_id)
    record_sha = hashlib.sha256(msgspec.json.encode(record)).hexdigest()
    pdf = await asyncio.to_thread(_render_record_pdf, record)
    pdf_sha = await _store_pdf(conn, clock, settings, lot, pdf, filename=f"opening-record-lot{lot.number}.pdf",
                               kind="opening_record")
    now = clock.now()
    await repo.insert_record(conn, lot_id, record, record_sha, pdf_sha, now)
    await repo.set_session_status(conn, lot_id, "published", unsealed_at=now, published_at=now)
    await append_entry(conn, clock, Tag.OPENING_RECORD_PUBLISH, actor=PLATFORM_ACTOR, tender_id=lot.tender_id,
                       lot_id=lot_id, body={"record_sha256": record_sha, "pdf_sha256": pdf_sha,
                                            "bids": [{"bid_id": r["bid_id"], "bidder_org_id": r["bidder_org_id"],
                                                      "status": r["status"]} for r in record["bids"]]})
    await publish_hall_event(conn, lot_id, "record", record_sha256=record_sha)
    return True


# --- the hall: sign-in, confirmations, objections, close ----------------------------------------------------

async def _bidder_on_list(conn: asyncpg.Connection, lot_id: UUID, user: User) -> None:
    if user.org_id is None or not any(b.bidder_org_id == user.org_id
                                      for b in await repo.list_bids_on_list(conn, lot_id)):
        raise OpeningNotParticipant("only bidders whose bid is on this opening's list may do this")


async def sign_in(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User, *,
                  addr: str | None = None) -> bool:
    """签到 in the online hall (电子招标投标办法 第二十九条). Open once the deadline has passed: before it, a sign-in
    would reveal who bid (招标投标法 第二十二条)."""
    session = await repo.get_session(conn, lot_id)
    if session.status == "closed":
        raise OpeningClosed("the opening is closed")
    await _bidder_on_list(conn, lot_id, user)
    new = await repo.insert_signin(conn, lot_id, user.org_id, user.id, clock.now(), addr)
    if new:
        await append_entry(conn, clock, Tag.OPENING_BIDDER_SIGNIN, actor=str(user.id), tender_id=session.tender_id,
                           lot_id=lot_id, body={"org_id": str(user.org_id)}, addr=addr)
        await publish_hall_event(conn, lot_id, "signin")
    return new


async def _published_session(conn: asyncpg.Connection, lot_id: UUID) -> OpeningSession:
    session = await repo.lock_session(conn, lot_id)
    if session.status == "closed":
        raise OpeningClosed("the opening is closed")
    if session.status != "published":
        raise OpeningNotPublished("the opening record is not published yet (decryption is not complete)")
    return session


async def confirm_record(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User, *,
                         addr: str | None = None) -> None:
    session = await _published_session(conn, lot_id)
    await _bidder_on_list(conn, lot_id, user)
    if not await repo.insert_confirmation(conn, lot_id, user.org_id, user.id, clock.now()):
        raise RecordAlreadyConfirmed("your organisation has already confirmed this record")
    record = await repo.find_record(conn, lot_id)
    await append_entry(conn, clock, Tag.OPENING_RECORD_CONFIRM, actor=str(user.id), tender_id=session.tender_id,
                       lot_id=lot_id, body={"org_id": str(user.org_id), "record_sha256": record.record_sha256},
                       addr=addr)
    await publish_hall_event(conn, lot_id, "confirmed")


async def raise_objection(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, user: User, content: str, *,
                          addr: str | None = None) -> UUID:
    """招标投标法实施条例 第四十四条: objections to the opening are raised at the opening."""
    session = await _published_session(conn, lot_id)
    await _bidder_on_list(conn, lot_id, user)
    content = content.strip()
    if not 1 <= len(content) <= 4000:
        raise OpeningTextInvalid("an objection needs 1 to 4000 characters", field="content")
    objection_id = await repo.insert_objection(conn, lot_id, user.org_id, user.id, content, clock.now())
    await append_entry(conn, clock, Tag.OPENING_OBJECTION_RAISE, actor=str(user.id), tender_id=session.tender_id,
                       lot_id=lot_id, body={"objection_id": str(objection_id), "org_id": str(user.org_id),
                                            "content_sha256": hashlib.sha256(content.encode()).hexdigest()},
                       addr=addr)
    await publish_hall_event(conn, lot_id, "objection", objection_id=str(objection_id))
    return objection_id


async def answer_objection(conn: asyncpg.Connection, clock: Clock, lot_id: UUID, objection_id: UUID, user: User,
                           answer: str, *, addr: str | None = None) -> None:
    """The agency answers on the spot, on the record (招标投标法实施条例 第四十四条)."""
    session = await _published_session(conn, lot_id)
    _require_agency(user, await repo.get_lot(conn, lot_id))
    objection = await repo.lock_objection(conn, lot_id, objection_id)
    if objection.answer is not None:
        raise ObjectionAlreadyAnswered("this objection has already been answered")
    answer = answer.strip()
    if not 1 <= len(answer) <= 4000:
        raise OpeningTextInvalid("an answer needs 1 to 4000 characters", field="answer")
    await repo.answer_objection(conn, objection_id, answer, user.id, clock.now())
    await append_entry(conn, clock, Tag.OPENING_OBJECTION_ANSWER, actor=str(user.id), tender_id=session.tender_id,
                       lot_id=lot_id, body={"objection_id": str(objection_id),
                                            "answer_sha256": hashlib.sha256(answer.encode()).hexdigest()},
                       addr=addr)
    await publish_hall_event(conn, lot_id, "answer", objection_id=str(objection_id))


async def close_opening(conn: asyncpg.Connection, clock: Clock, settings: Settings, lot_id: UUID, user: User, *,
                        addr: str | None = None) -> OpeningSession:
    """Close the record and hand the lot to evaluation. Refused while an objection is unanswered
    (招标投标法实施条例 第四十四条)."""
    await _published_session(conn, lot_id)  # locks the session; refuses unless the record is published
    lot = await repo.get_lot(conn, lot_id)
    _require_agency(user, lot)
    unanswered = await repo.count_unanswered_objections(conn, lot_id)
    if unanswered:
        raise OpeningObjectionsUnanswered(
            f"{unanswered} objection(s) still unanswered: the opening cannot close (招标投标法实施条例 第四十四条)",
            unanswered=unanswered)
    record = await repo.find_record(conn, lot_id)
    confirmations = await repo.list_confirmations(conn, lot_id)
    names = await repo.get_org_names(conn, list(confirmations))
    objections = await repo.list_objections(conn, lot_id)
    final = dict(record.record)
    final["confirmations"] = [{"org_id": str(o), "org_name": names.get(o, ""), "at": show(at)}
                              for o, at in confirmations.items()]
    final["objections"] = [{"org_name": o.org_name, "content": o.content, "raised_at": show(o.raised_at),
                            "answer": o.answer, "answered_at": show(o.answered_at)} for o in objections]
    final["closed_at"] = clock.now().isoformat()
    confirmed = {str(o) for o in confirmations}
    final["unconfirmed"] = [r["bidder_name"] for r in final["bids"] if r["bidder_org_id"] not in confirmed]
    if lot.regime == "gov_procurement":
        # 政府采购货物和服务招标投标管理办法 第四十二条: a bidder that neither confirms nor objects accepts the record.
        final["unconfirmed_deemed_accepted"] = True
    pdf = await asyncio.to_thread(_render_record_pdf, final, objections=final["objections"],
                                  confirmations=final["confirmations"])
    pdf_sha = await _store_pdf(conn, clock, settings, lot, pdf, filename=f"opening-record-lot{lot.number}-final.pdf",
                               kind="opening_record_final")
    now = clock.now()
    await repo.set_final_record(conn, lot_id, final, pdf_sha, now)
    await repo.set_session_status(conn, lot_id, "closed", closed_at=now, closed_by=user.id)
    await append_entry(conn, clock, Tag.OPENING_SESSION_CLOSE, actor=str(user.id), tender_id=lot.tender_id,
                       lot_id=lot_id, body={"record_sha256": record.record_sha256, "final_pdf_sha256": pdf_sha,
                                            "confirmations": len(confirmations), "objections": len(objections)},
                       addr=addr)
    await _transition(conn, clock, lot_id, "evaluation", actor=str(user.id), addr=addr)
    await _sign_checkpoint(conn, clock, settings, "opening")
    await emit(conn, clock, "lot.opened", {"lot_id": lot_id, "tender_id": lot.tender_id})
    await publish_hall_event(conn, lot_id, "closed")
    return await repo.get_session(conn, lot_id)
