"""Group acceptance of sealed bids: concurrent finalisations share one transaction, one hold of the log's
single-writer lock, one append and one commit (docs/sealing.md §4 "Acceptance").

Under a deadline surge every accepting transaction used to hold the log's writer lock from its deadline check
to its commit, one bid after the other: the lock was the queue. Here each app process keeps one group per
pool. A finalising request verifies its ciphertext (hash and length, off the database) and hands the bid to
the group; the group takes every bid waiting at that moment (at most MAX_BATCH, at most one per bidder and
lot) into one transaction that
1. takes the bidder-and-lot locks of the whole batch (one statement, fixed order) and re-reads the lots and the
   bidders' standings (one statement each): every manifest check runs again, as a finalize always did;
2. takes the log's writer lock and only then reads the clock: every bid is checked against its lot's deadline
   at that instant (a late one is refused, the others go on), so no accept entry can follow a deadline entry;
3. appends every accept entry (and the refusal entries of the batch) in one statement, signs each receipt over
   its own log index, stores the bids and deletes their uploads in one statement, and commits.
A bid row and its witness entry are in the same transaction, as before. A refusal of one bid never sinks the
others: checks are per bid, and a batch that fails for any other reason (a database error) is retried one
bid per transaction, so only the bid that fails gets the error.

The first bid to arrive at an idle group is processed at once (no waiting for company); bids arriving while a
batch works form the next one. Up to MAX_RUNNING batches run at once (one can check its bids while another
holds the log lock); two versions of one bidder on one lot never run at once. Requests do not hold a pool connection while they wait: the group takes
one connection per batch, so waiting requests can never starve it.
"""
from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from trading.accounts.schemas import User
from trading.bids import receipt as receipt_mod
from trading.bids import repository as repo
from trading.bids import seal, services, uploads
from trading.bids.errors import BidTooLarge, LotNotFound, UploadHashMismatch, UploadIncomplete, UploadNotFound
from trading.bids.schemas import BidAccepted
from trading.blobs import BlobStore
from trading.clock import Clock
from trading.errors import DomainError
from trading.records import Tag
from trading.records.log import Draft, append_entries, lock_log

log = logging.getLogger("tenderhall.bids")

MAX_BATCH = 512
MAX_RUNNING = 2   # batches in flight: one checks its bids while another holds the log lock


@dataclass(eq=False)
class Pending:
    """One bid whose ciphertext is verified (`ct_root` and length of the spool), waiting to be accepted."""

    user: User
    lot_id: UUID
    manifest: bytes
    signature: bytes
    ct_root: bytes                # ct_root of the spool, computed by the caller
    spool_id: UUID                # the spool file holding the ciphertext
    upload_id: UUID | None        # the upload row (resumable protocol), None for a one-request submission
    addr: str | None
    clock: Clock
    settings: Any
    store: BlobStore
    future: asyncio.Future | None = field(default=None)


Result = BidAccepted | DomainError


class Group:
    """The bids waiting to be accepted through one pool (one per app process)."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self.pending: list[Pending] = []
        self.busy: set[tuple[UUID, Any]] = set()    # (lot, organisation) of the bids in running batches
        self.running: set[asyncio.Task] = set()
        self.batches = 0            # for tests and the benchmark: how many transactions accepted bids
        self.largest = 0

    async def accept(self, item: Pending) -> Result:
        """Accept the bid with whatever else is waiting; its receipt, or its refusal (already logged)."""
        item.future = asyncio.get_running_loop().create_future()
        self.pending.append(item)
        self._start()
        # A request that goes away meanwhile does not cancel the batch: its bid is accepted or refused all the
        # same (the client finds it among its own bids by manifest hash).
        return await asyncio.shield(item.future)

    def _start(self) -> None:
        """Start batches of the waiting bids while fewer than MAX_RUNNING run."""
        while self.pending and len(self.running) < MAX_RUNNING:
            batch: list[Pending] = []
            rest: list[Pending] = []
            keys: set[tuple[UUID, Any]] = set()
            for it in self.pending:
                key = (it.lot_id, it.user.org_id)
                # two versions of one bidder on one lot never share a batch nor run at once: arrival order
                if key in keys or key in self.busy or len(batch) >= MAX_BATCH:
                    rest.append(it)
                else:
                    keys.add(key)
                    batch.append(it)
            if not batch:
                return
            self.pending = rest
            self.busy |= keys
            task = asyncio.get_running_loop().create_task(self._run(batch, keys), name="bids-group-acceptance")
            self.running.add(task)

    async def _run(self, batch: list[Pending], keys: set[tuple[UUID, Any]]) -> None:
        try:
            try:
                results = await self._process(batch)
            except Exception as exc:  # noqa: BLE001 - retried bid by bid below; a lone bid gets the error
                if len(batch) == 1:
                    _deliver(batch[0], exc)
                    return
                log.warning("group acceptance of %d bids failed (%s); retrying one bid per transaction",
                            len(batch), exc)
                for it in batch:
                    try:
                        one = await self._process([it])
                    except Exception as err:  # noqa: BLE001 - this bid's own failure
                        _deliver(it, err)
                    else:
                        _deliver(it, one[0])
                return
            for it, res in zip(batch, results):
                _deliver(it, res)
        finally:
            self.busy -= keys
            self.running.discard(asyncio.current_task())  # type: ignore[arg-type]
            self._start()

    async def _process(self, batch: list[Pending]) -> list[Result]:
        results: dict[int, Result] = {}
        refused: list[tuple[int, repo.LotForBids, DomainError]] = []
        clock = batch[0].clock
        async with self.pool.acquire() as conn, conn.transaction():
            await repo.lock_bidder_lots(conn, [(it.lot_id, it.user.org_id) for it in batch])
            resumable = [it.upload_id for it in batch if it.upload_id is not None]
            if resumable:
                # as the single finalize did: a concurrent PATCH of the same upload waits for this commit
                await repo.lock_uploads(conn, resumable)
            lots = await repo.get_lots_for_bids(conn, [it.lot_id for it in batch])
            decoded: list[tuple[int, repo.LotForBids, seal.Manifest]] = []
            for i, it in enumerate(batch):
                lot = lots.get(it.lot_id)
                if lot is None:
                    results[i] = LotNotFound(f"lot {it.lot_id} not found")
                    continue
                try:
                    decoded.append((i, lot, services.decode_for(lot, it.user, it.manifest)))
                except DomainError as exc:
                    refused.append((i, lot, exc))
            standings = await repo.bidder_standings(conn, [
                (batch[i].lot_id, batch[i].user.org_id, batch[i].user.id, UUID(bytes=m.bid_id), batch[i].upload_id)
                for i, _, m in decoded]) if decoded else []
            now = clock.now()
            ok: list[tuple[int, repo.LotForBids, seal.Manifest, UUID, repo.Standing]] = []
            for (i, lot, m), bs in zip(decoded, standings):
                it = batch[i]
                if it.upload_id is not None and bs.upload_received is None:
                    # accepted or refused meanwhile (a retried finalize): not a new attempt, nothing to log
                    results[i] = UploadNotFound(f"upload {it.upload_id} not found (refused, finished, or not yours)")
                    continue
                try:
                    key_id = services.check_standing(lot, m, it.signature, seal.manifest_signed_bytes(it.manifest),
                                                     now, bs.standing)
                    if it.upload_id is not None and bs.upload_received != m.ct_len:
                        raise UploadIncomplete(f"truncated: {bs.upload_received} of {m.ct_len} bytes received",
                                               offset=bs.upload_received)
                    if it.ct_root != m.ct_root:
                        raise UploadHashMismatch("the uploaded ciphertext does not match the manifest's"
                                                 " ct_root/ct_len")
                except DomainError as exc:
                    refused.append((i, lot, exc))
                    continue
                ok.append((i, lot, m, key_id, bs.standing))
            if not ok and not refused:
                return [results[i] for i in range(len(batch))]
            first = (ok[0][1] if ok else refused[0][1])
            # The writer lock first, the clock after: a lot's deadline entry (appended under the same lock at or
            # after the deadline) can then never precede an accept entry of a bid verified before it.
            await lock_log(conn, tender_id=first.tender_id, lot_id=first.lot_id)
            verified_at = clock.now()
            accepted_at = services.ms(verified_at)
            accepted: list[tuple[int, repo.LotForBids, seal.Manifest, UUID, repo.Standing]] = []
            for entry in ok:
                try:
                    services.check_open(entry[1], verified_at)
                except DomainError as exc:
                    refused.append((entry[0], entry[1], exc))
                    continue
                accepted.append(entry)
            # Everything above only read. From here on, the accepted bids are accepted.
            supersede = [st.latest_bid_id for _, _, _, _, st in accepted if st.latest_bid_id is not None]
            if supersede:
                await repo.mark_superseded_many(conn, supersede, accepted_at)
            received_at = receipt_mod.format_time(accepted_at)
            # A rolled-back transaction leaves at most an orphan content-addressed ciphertext, never a bid. The
            # renames run on a worker thread (a rename can wait for the file system's journal).
            await asyncio.to_thread(_adopt_all, [(batch[i].store, batch[i].spool_id, m.ct_root.hex())
                                                 for i, _, m, _, _ in accepted])
            drafts: list[Draft] = []
            for i, lot, m, _, _ in accepted:
                # No actor, no address: the entry must not say who bid (招标投标法 第二十二条).
                drafts.append(Draft(tag=Tag.BID_SEAL_ACCEPT, tender_id=lot.tender_id, lot_id=lot.lot_id, body={
                    "bid": m.bid_id.hex(), "version": m.version, "manifest_sha256": seal.manifest_sha256(
                        batch[i].manifest).hex(), "ct_root": m.ct_root.hex(), "ct_len": m.ct_len,
                    "received_at": received_at}))
            for i, lot, exc in refused:
                drafts.append(Draft(tag=Tag.BID_SEAL_REFUSE, tender_id=lot.tender_id, lot_id=lot.lot_id, body={
                    "stage": "finalize", "code": exc.code,
                    "manifest_sha256": seal.manifest_sha256(batch[i].manifest).hex()}))
                results[i] = exc
            entries = await append_entries(conn, clock, drafts)
            rows: list[repo.NewBid] = []
            for (i, lot, m, key_id, _), entry in zip(accepted, entries):
                it = batch[i]
                manifest_hex = seal.manifest_sha256(it.manifest).hex()
                receipt = receipt_mod.Receipt(
                    origin=it.settings.origin, lot=str(lot.lot_id), bid=m.bid_id.hex(), version=m.version,
                    manifest_sha256=manifest_hex, ct_root=m.ct_root.hex(), received_at=received_at,
                    log_index=entry.seq, leaf_hash=entry.leaf_hash.hex())
                note = receipt_mod.sign_receipt(receipt, services.platform_key(it.settings), it.settings.origin)
                assert it.user.org_id is not None
                rows.append(repo.NewBid(
                    bid_id=UUID(bytes=m.bid_id), lot_id=lot.lot_id, tender_id=lot.tender_id,
                    bidder_org_id=it.user.org_id, signer_id=it.user.id, identity_key_id=key_id, version=m.version,
                    previous=m.previous, manifest=it.manifest, signature=it.signature,
                    manifest_sha256=bytes.fromhex(manifest_hex), ct_root=m.ct_root, ct_len=m.ct_len,
                    accepted_at=accepted_at, accept_seq=entry.seq, receipt=note, addr=it.addr))
                results[i] = BidAccepted(bid_id=m.bid_id.hex(), lot_id=lot.lot_id, version=m.version,
                                         manifest_sha256=manifest_hex, ct_root=m.ct_root.hex(),
                                         received_at=accepted_at, log_index=entry.seq, receipt=note)
            done_uploads = [batch[i].upload_id for i, *_ in accepted] + [batch[i].upload_id for i, _, _ in refused]
            await repo.insert_bids(conn, rows, [u for u in done_uploads if u is not None])
        # committed: a refused bid keeps nothing but its logged attempt
        for i, _, _ in refused:
            uploads.discard(batch[i].store, batch[i].spool_id)
        self.batches += 1
        self.largest = max(self.largest, len(batch))
        return [results[i] for i in range(len(batch))]


def _adopt_all(spools: list[tuple[BlobStore, UUID, str]]) -> None:
    for store, spool_id, digest_hex in spools:
        uploads.adopt(store, spool_id, digest_hex)


def _deliver(item: Pending, result: Result | BaseException) -> None:
    fut = item.future
    if fut is None or fut.done():
        return
    if isinstance(result, BaseException) and not isinstance(result, DomainError):
        fut.set_exception(result)
    else:
        fut.set_result(result)


def group_of(state: Any) -> Group:
    """The app's acceptance group (created on first use; `state` is the app's State)."""
    group = getattr(state, "bid_acceptance", None)
    if group is None or group.pool is not state.pool:
        group = Group(state.pool)
        state.bid_acceptance = group
    return group


# the two ways a bid reaches the group ---------------------------------------------------------------------------

async def finalize(pool: Any, group: Group, clock: Clock, settings: Any, store: BlobStore, upload_id: UUID,
                   user: User, addr: str | None = None) -> Result:
    """POST /api/bids/uploads/{id}/finalize: verify the whole ciphertext (every byte received, its ct_root and
    length), then accept it with whatever else is being accepted — or refuse it (logged, upload dropped).
    No connection is held while the spool is hashed or the group works."""
    async with pool.acquire() as conn:
        up = await repo.get_upload(conn, upload_id, user.id)
    try:
        if up.received != up.ct_len:
            raise UploadIncomplete(f"truncated: {up.received} of {up.ct_len} bytes received", offset=up.received)
        digest, size = await uploads.digest(store, up.id, up.ct_len)
        if size != up.ct_len or not hmac.compare_digest(digest, up.ct_root):
            raise UploadHashMismatch("the uploaded ciphertext does not match the manifest's ct_root/ct_len")
    except DomainError as exc:
        await services.refuse_in_own_transaction(pool, clock, store, up, "finalize", exc)
        return exc
    return await group.accept(Pending(user=user, lot_id=up.lot_id, manifest=up.manifest, signature=up.signature,
                                      ct_root=digest, spool_id=up.id, upload_id=up.id, addr=addr, clock=clock,
                                      settings=settings, store=store))


async def submit_whole(pool: Any, group: Group, clock: Clock, settings: Any, store: BlobStore, lot_id: UUID,
                       user: User, manifest: bytes, signature: bytes, chunks: AsyncIterator[bytes],
                       addr: str | None = None) -> Result:
    """POST /api/lots/{lot}/bids: the signed manifest and the whole ciphertext in one request (tus
    "creation-with-upload", finalised in the same request). The manifest is checked before the body is read
    (a refusal then reads nothing), the body streams into a spool (hashed on the way, fsynced), and the group
    accepts it with every check run again. Nothing is kept of a request that breaks off: the client sends it
    again (or uses the resumable protocol for large bids)."""
    try:
        m = await _precheck(pool, lot_id, user, manifest, clock)
    except DomainError as exc:
        async with pool.acquire() as conn, conn.transaction():
            await services.record_refusal(conn, clock, None, lot_id, "create", exc, manifest=manifest)
        return exc
    spool_id = uuid4()
    stage = "upload"  # the stages of the resumable protocol's refusals, for the same checks
    try:
        try:
            received = await uploads.receive(store, spool_id, 0, m.ct_len, chunks)
        except uploads.Overflow as exc:
            raise UploadHashMismatch(f"refused: {exc}") from None
        except uploads.Interrupted as exc:
            raise exc.cause from None
        stage = "finalize"
        if received != m.ct_len:
            raise UploadIncomplete(f"truncated: {received} of {m.ct_len} bytes received", offset=received)
        digest, size = await uploads.digest(store, spool_id, m.ct_len)
        if size != m.ct_len or not hmac.compare_digest(digest, m.ct_root):
            raise UploadHashMismatch("the uploaded ciphertext does not match the manifest's ct_root/ct_len")
    except DomainError as exc:
        uploads.discard(store, spool_id)
        async with pool.acquire() as conn, conn.transaction():
            await services.record_refusal(conn, clock, None, lot_id, stage, exc, manifest=manifest)
        return exc
    except BaseException:
        uploads.discard(store, spool_id)
        raise
    return await group.accept(Pending(user=user, lot_id=lot_id, manifest=manifest, signature=signature,
                                      ct_root=digest, spool_id=spool_id, upload_id=None, addr=addr, clock=clock,
                                      settings=settings, store=store))


LOT_TTL = 1.0
_lots: dict[UUID, tuple[float, repo.LotForBids]] = {}


async def _precheck(pool: Any, lot_id: UUID, user: User, manifest: bytes, clock: Clock) -> seal.Manifest:
    """What a one-request submission must pass before its body is read: the manifest decodes, is for this lot
    and names the caller and its organisation, the lot is open and its deadline not passed, the size allowed.
    The lot comes from a cache of one second, but only to let a bid through: a refusal is decided on a fresh
    read, and the acceptance checks everything again on fresh data (signature, standing, documents, version
    chain, ceremony, deadline) — so the pre-check costs no query in a surge."""
    now = clock.now()
    cached = _lots.get(lot_id)
    if cached is not None and cached[0] > time.monotonic():
        with contextlib.suppress(DomainError):  # a refusal is decided on fresh data, below
            return _precheck_with(cached[1], user, manifest, now)
    async with pool.acquire() as conn:
        lot = await repo.get_lot_for_bids(conn, lot_id)
    m = _precheck_with(lot, user, manifest, now)
    if len(_lots) > 10_000:
        _lots.clear()
    _lots[lot_id] = (time.monotonic() + LOT_TTL, lot)
    return m


def _precheck_with(lot: repo.LotForBids, user: User, manifest: bytes, now: Any) -> seal.Manifest:
    m = services.decode_for(lot, user, manifest)
    services.check_open(lot, now)
    if m.ct_len > services.MAX_BID_BYTES:
        raise BidTooLarge(f"a sealed bid may be at most {services.MAX_BID_BYTES} bytes")
    return m
