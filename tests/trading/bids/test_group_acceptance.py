"""Group acceptance (several bids per transaction / log-lock hold) and the one-request submission."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import uuid
from datetime import timedelta

import httpx

from tests.trading.bids.conftest import at, make_bidder, seal_bytes, submit
from trading.bids import acceptance, cthash, uploads
from trading.bids import client as api
from trading.bids import receipt as receipt_mod
from trading.bids.schemas import BidAccepted
from trading.blobs import blob_store
from trading.records.keys import platform_verifier_key
from trading.records.log import leaf_hash


async def _count(pool, table: str) -> int:
    async with pool.acquire() as c:
        return await c.fetchval(f"SELECT count(*) FROM {table}")


async def _entries(pool, tag: str) -> list:
    async with pool.acquire() as c:
        return await c.fetch("SELECT seq, entry, leaf_hash FROM log_entries WHERE tag = $1 ORDER BY seq", tag)


def _metadata(sealed, signature: bytes | None = None) -> str:
    return (f"manifest {base64.b64encode(sealed.manifest_bytes).decode()},"
            f"signature {base64.b64encode(signature or sealed.signature).decode()}")


async def post_whole(client, lot_id, bidder, sealed, body: bytes, signature: bytes | None = None):
    return await client.post(f"/api/lots/{lot_id}/bids", content=body, headers={
        **bidder.headers, "Upload-Metadata": _metadata(sealed, signature),
        "Content-Type": "application/offset+octet-stream"})


def _spools_left(settings) -> list:
    d = settings.blob_dir / "uploads"
    return list(d.iterdir()) if d.exists() else []


# one request -----------------------------------------------------------------------------------------------

async def test_one_request_submission_returns_a_receipt(client, pool, factory, settings) -> None:
    lot = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(700_000))
    r = await post_whole(client, lot["lot_id"], bidder, sealed, ct)
    assert r.status_code == 201, r.text
    body = r.json()
    rec = receipt_mod.verify_receipt(body["receipt"], platform_verifier_key(settings))
    assert rec.manifest_sha256 == sealed.manifest_sha256.hex() and rec.ct_root == sealed.manifest.ct_root.hex()
    [entry] = await _entries(pool, "bid:seal:accept")
    assert entry["seq"] == rec.log_index == body["log_index"]
    assert bytes(entry["leaf_hash"]).hex() == rec.leaf_hash == leaf_hash(bytes(entry["entry"])).hex()
    assert blob_store(settings).ciphertext_path(rec.ct_root).read_bytes() == ct
    assert await _count(pool, "bids") == 1 and await _count(pool, "bid_uploads") == 0
    assert _spools_left(settings) == []


async def test_one_request_refused_after_deadline_before_reading_the_body(client, pool, factory, settings) -> None:
    lot = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(5000))
    await at(factory, lot["deadline"], bidder)  # the deadline instant itself is too late
    r = await post_whole(client, lot["lot_id"], bidder, sealed, ct)
    assert r.status_code == 409 and r.json()["code"] == "bid_deadline_passed"
    [refusal] = await _entries(pool, "bid:seal:refuse")
    assert b'"stage":"create"' in bytes(refusal["entry"]) and sealed.manifest_sha256.hex().encode() in bytes(
        refusal["entry"])
    assert await _count(pool, "bids") == 0 and _spools_left(settings) == []


async def test_one_request_refuses_tampered_and_truncated_ciphertext(client, pool, factory, settings) -> None:
    lot = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(300_000))
    bad = bytearray(ct)
    bad[1000] ^= 1
    r = await post_whole(client, lot["lot_id"], bidder, sealed, bytes(bad))
    assert r.status_code == 422 and r.json()["code"] == "ciphertext_hash_mismatch"
    r = await post_whole(client, lot["lot_id"], bidder, sealed, ct[:-1])
    assert r.status_code == 409 and r.json()["code"] == "upload_incomplete"
    r = await post_whole(client, lot["lot_id"], bidder, sealed, ct + b"x")
    assert r.status_code == 422 and r.json()["code"] == "ciphertext_hash_mismatch"
    assert len(await _entries(pool, "bid:seal:refuse")) == 3
    assert await _count(pool, "bids") == 0 and _spools_left(settings) == []
    assert not blob_store(settings).ciphertext_path(sealed.manifest.ct_root.hex()).exists()
    # the same sealed bid, sent whole and intact, is still accepted
    assert (await post_whole(client, lot["lot_id"], bidder, sealed, ct)).status_code == 201


async def test_one_request_refuses_bad_signature_and_bad_metadata(client, pool, factory, settings) -> None:
    lot = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(2000))
    r = await post_whole(client, lot["lot_id"], bidder, sealed, ct, signature=bytes(64))
    assert r.status_code == 422 and r.json()["code"] == "manifest_signature_invalid"
    assert len(await _entries(pool, "bid:seal:refuse")) == 1
    for header in ("", "manifest !!!,signature AAAA", f"manifest {base64.b64encode(b'x').decode()}"):
        r = await client.post(f"/api/lots/{lot['lot_id']}/bids", content=ct, headers={
            **bidder.headers, "Upload-Metadata": header, "Content-Type": "application/offset+octet-stream"})
        assert r.status_code == 422 and r.json()["code"] == "manifest_invalid", header
    assert await _count(pool, "bids") == 0 and _spools_left(settings) == []


async def test_client_library_submits_small_bids_in_one_request_and_never_twice(client, pool, factory) -> None:
    lot = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(50_000))
    calls: list[str] = []

    class LosesFirstAnswer:
        """The bidder's connection drops after the server got the whole request (the answer is lost)."""

        def __init__(self) -> None:
            self.lost = False

        def __getattr__(self, method):
            async def go(url, **kw):
                kw["headers"] = {**kw.get("headers", {}), **bidder.headers}
                calls.append(f"{method} {url}")
                resp = await getattr(client, method)(url, **kw)
                if method == "post" and not self.lost:
                    self.lost = True
                    raise httpx.ReadError("connection reset")
                return resp
            return go

    out = await api.upload(LosesFirstAnswer(), str(lot["lot_id"]), sealed.manifest_bytes, sealed.signature, ct)
    assert out["manifest_sha256"] == sealed.manifest_sha256.hex() and out["receipt"]
    assert calls[0] == f"post /api/lots/{lot['lot_id']}/bids"
    assert [c for c in calls if c.startswith("post")] == calls[:1]  # found among its own, not sent again
    assert await _count(pool, "bids") == 1


# the group ---------------------------------------------------------------------------------------------------

async def _pending(factory, settings, lot, bidder, data: bytes) -> acceptance.Pending:
    sealed, ct = await seal_bytes(factory.pool, lot["lot_id"], bidder, data)
    store = blob_store(settings)
    spool = uuid.uuid4()

    async def body():
        yield ct

    assert await uploads.receive(store, spool, 0, len(ct), body()) == len(ct)
    return acceptance.Pending(user=bidder.user, lot_id=lot["lot_id"], manifest=sealed.manifest_bytes,
                              signature=sealed.signature, ct_root=cthash.of_bytes(ct), spool_id=spool,
                              upload_id=None, addr=None, clock=factory.clock, settings=settings, store=store)


async def test_one_batch_accepts_each_bid_with_its_own_index_and_refuses_the_late_one(pool, factory, settings
                                                                                       ) -> None:
    early = await factory.published_lot(deadline=factory.clock.now() + timedelta(days=21))
    later = await factory.published_lot(deadline=factory.clock.now() + timedelta(days=30))
    items = [await _pending(factory, settings, later, await make_bidder(factory, later["lot_id"]), os.urandom(n))
             for n in (1000, 2000, 3000)]
    late = await _pending(factory, settings, early, await make_bidder(factory, early["lot_id"]), b"late")
    factory.clock.set(early["deadline"])
    group = acceptance.Group(pool)
    results = await group._process([items[0], late, items[1], items[2]])
    assert group.batches == 1
    accepted = [results[0], results[2], results[3]]
    assert all(isinstance(r, BidAccepted) for r in accepted)
    assert getattr(results[1], "code", None) == "bid_deadline_passed"
    entries = {e["seq"]: e for e in await _entries(pool, "bid:seal:accept")}
    assert sorted(entries) == sorted(r.log_index for r in accepted)
    vkey = platform_verifier_key(settings)
    async with pool.acquire() as c:
        rows = {r["accept_seq"]: r for r in await c.fetch("SELECT accept_seq, receipt, manifest_sha256 FROM bids")}
    for item, r in zip([items[0], items[1], items[2]], accepted):
        rec = receipt_mod.verify_receipt(r.receipt, vkey)
        e = entries[rec.log_index]
        assert rec.leaf_hash == bytes(e["leaf_hash"]).hex()  # the receipt names its own entry
        assert hashlib.sha256(item.manifest).hexdigest().encode() in bytes(e["entry"])
        assert rows[rec.log_index]["receipt"] == r.receipt
    [refusal] = await _entries(pool, "bid:seal:refuse")
    assert hashlib.sha256(late.manifest).hexdigest().encode() in bytes(refusal["entry"])
    assert await _count(pool, "bids") == 3
    assert not uploads.spool_path(late.store, late.spool_id).exists()


async def test_two_versions_of_one_bidder_go_in_order_in_separate_batches(pool, factory, settings) -> None:
    lot = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    v1 = await _pending(factory, settings, lot, bidder, b"first")
    sealed2, ct2 = await seal_bytes(pool, lot["lot_id"], bidder, b"second", version=2,
                                    previous=hashlib.sha256(v1.manifest).digest())
    store = blob_store(settings)
    spool = uuid.uuid4()

    async def body():
        yield ct2

    await uploads.receive(store, spool, 0, len(ct2), body())
    v2 = acceptance.Pending(user=bidder.user, lot_id=lot["lot_id"], manifest=sealed2.manifest_bytes,
                            signature=sealed2.signature, ct_root=cthash.of_bytes(ct2), spool_id=spool,
                            upload_id=None, addr=None, clock=factory.clock, settings=settings, store=store)
    group = acceptance.Group(pool)
    r1, r2 = await asyncio.gather(group.accept(v1), group.accept(v2))
    assert isinstance(r1, BidAccepted) and isinstance(r2, BidAccepted), (r1, r2)
    assert r2.log_index > r1.log_index and group.batches == 2
    async with pool.acquire() as c:
        assert [r["status"] for r in await c.fetch("SELECT status FROM bids ORDER BY version")] == \
            ["superseded", "active"]


async def test_concurrent_http_finalizes_each_get_their_own_receipt(client, pool, factory, settings) -> None:
    lot = await factory.published_lot()
    bidders = [await make_bidder(factory, lot["lot_id"]) for _ in range(6)]
    sealed = [await seal_bytes(pool, lot["lot_id"], b, os.urandom(20_000 + i)) for i, b in enumerate(bidders)]
    # half through the resumable protocol (create, PATCH, finalize), half in one request, all at once
    resps = await asyncio.gather(*[submit(client, lot["lot_id"], b, s, ct)
                                   for b, (s, ct) in zip(bidders[:3], sealed[:3])],
                                 *[post_whole(client, lot["lot_id"], b, s, ct)
                                   for b, (s, ct) in zip(bidders[3:], sealed[3:])])
    assert all(r.status_code == 201 for r in resps), [r.text for r in resps]
    vkey = platform_verifier_key(settings)
    entries = {e["seq"]: e for e in await _entries(pool, "bid:seal:accept")}
    seen = set()
    for r, (s, _) in zip(resps, sealed):
        rec = receipt_mod.verify_receipt(r.json()["receipt"], vkey)
        assert rec.manifest_sha256 == s.manifest_sha256.hex()
        assert rec.leaf_hash == bytes(entries[rec.log_index]["leaf_hash"]).hex()
        seen.add(rec.log_index)
    assert len(seen) == 6 and await _count(pool, "bid_uploads") == 0
