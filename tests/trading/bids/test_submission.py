"""Submission over HTTP: create upload → PATCH chunks → finalize → signed receipt; every refusal logged."""
from __future__ import annotations

import base64
import os
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.trading.bids.conftest import (
    at,
    make_bidder,
    patch_chunk,
    post_upload,
    seal_bytes,
    submit,
)
from trading.bids import receipt as receipt_mod
from trading.bids.repository import list_bids_to_open
from trading.records.keys import platform_verifier_key


async def _log(pool, tag: str) -> list:
    async with pool.acquire() as c:
        return await c.fetch("SELECT seq, actor, entry, lot_id FROM log_entries WHERE tag = $1 ORDER BY seq", tag)


async def _count(pool, table: str) -> int:
    async with pool.acquire() as c:
        return await c.fetchval(f"SELECT count(*) FROM {table}")


async def test_submit_returns_receipt_verifiable_offline(client, pool, factory, lot, settings) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(2_500_000))
    r = await submit(client, lot["lot_id"], bidder, sealed, ct)
    assert r.status_code == 201, r.text
    body = r.json()
    rec = receipt_mod.verify_receipt(body["receipt"], platform_verifier_key(settings))
    assert rec.lot == str(lot["lot_id"]) and rec.version == 1
    assert rec.manifest_sha256 == sealed.manifest_sha256.hex() and rec.ct_root == sealed.manifest.ct_root.hex()
    accepts = await _log(pool, "bid:seal:accept")
    assert [a["seq"] for a in accepts] == [rec.log_index]
    assert accepts[0]["actor"] is None  # no bidder identity in the witness entry
    assert str(bidder.org.id).encode() not in bytes(accepts[0]["entry"])
    assert str(bidder.user.id).encode() not in bytes(accepts[0]["entry"])
    to_open = await list_bids_to_open(pool, lot["lot_id"])  # type: ignore[arg-type]
    assert [b.manifest_sha256 for b in to_open] == [sealed.manifest_sha256.hex()]
    assert (settings.blob_dir / "sha256").exists()


async def test_submit_refuses_bad_signature_and_logs_it(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, _ = await seal_bytes(pool, lot["lot_id"], bidder, b"x" * 1000)
    bad = Ed25519PrivateKey.generate().sign(b"tenderhall/seal/v2 manifest\n" + sealed.manifest_bytes)
    r = await post_upload(client, lot["lot_id"], bidder, sealed, signature=bad)
    assert r.status_code == 422 and r.json()["code"] == "manifest_signature_invalid"
    refusals = await _log(pool, "bid:seal:refuse")
    assert len(refusals) == 1 and refusals[0]["actor"] is None
    assert await _count(pool, "bid_uploads") == 0 and await _count(pool, "bids") == 0


async def test_submit_refuses_malformed_manifest(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    r = await client.post(f"/api/lots/{lot['lot_id']}/bids/uploads", headers=bidder.headers, json={
        "manifest": base64.b64encode(b'{"v": "nope"}').decode(), "signature": base64.b64encode(b"s" * 64).decode()})
    assert r.status_code == 422 and r.json()["code"] == "manifest_invalid"
    assert len(await _log(pool, "bid:seal:refuse")) == 1


async def test_submit_refuses_other_ceremony(client, pool, factory, lot) -> None:
    other = await factory.published_lot()
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, _ = await seal_bytes(pool, other["lot_id"], bidder, b"x")
    # sealed for the other lot's ceremony, sent to this lot
    r = await post_upload(client, lot["lot_id"], bidder, sealed)
    assert r.status_code == 422 and r.json()["code"] == "manifest_invalid"


async def test_submit_refuses_bidder_without_documents(client, pool, factory, lot) -> None:
    from tests.trading.bids.conftest import Bidder, approved_key
    from trading.accounts.schemas import Role

    org = await factory.org("bidder")
    user, headers = await factory.signed_in(Role.BIDDER, org_id=org.id)
    bidder = Bidder(org, user, headers, await approved_key(pool, user.id))
    sealed, _ = await seal_bytes(pool, lot["lot_id"], bidder, b"x")
    r = await post_upload(client, lot["lot_id"], bidder, sealed)
    assert r.status_code == 403 and r.json()["code"] == "documents_not_obtained"
    assert len(await _log(pool, "bid:seal:refuse")) == 1


async def test_submit_refuses_hash_mismatch(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(5000))
    bad = bytearray(ct)
    bad[100] ^= 1
    r = await submit(client, lot["lot_id"], bidder, sealed, bytes(bad))
    assert r.status_code == 422 and r.json()["code"] == "ciphertext_hash_mismatch"
    assert await _count(pool, "bid_uploads") == 0 and await _count(pool, "bids") == 0
    assert len(await _log(pool, "bid:seal:refuse")) == 1


async def test_submit_refuses_truncated_upload(client, pool, factory, lot, settings) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(5000))
    r = await post_upload(client, lot["lot_id"], bidder, sealed)
    upload_id = r.json()["upload_id"]
    assert (await patch_chunk(client, upload_id, bidder, 0, ct[:-10])).status_code == 204
    r = await client.post(f"/api/bids/uploads/{upload_id}/finalize", headers=bidder.headers)
    assert r.status_code == 409 and r.json()["code"] == "upload_incomplete"
    assert await _count(pool, "bid_uploads") == 0 and await _count(pool, "bids") == 0
    assert not any((settings.blob_dir / "uploads").iterdir())


async def test_patch_refuses_more_bytes_than_declared(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, b"x" * 100)
    upload_id = (await post_upload(client, lot["lot_id"], bidder, sealed)).json()["upload_id"]
    r = await patch_chunk(client, upload_id, bidder, 0, ct + b"extra")
    assert r.status_code == 422
    assert await _count(pool, "bid_uploads") == 0
    assert len(await _log(pool, "bid:seal:refuse")) == 1


async def test_upload_resumes_from_reported_offset(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(3_000_000))
    upload_id = (await post_upload(client, lot["lot_id"], bidder, sealed)).json()["upload_id"]
    assert (await patch_chunk(client, upload_id, bidder, 0, ct[:1_000_000])).status_code == 204
    # a client that lost track sends from a wrong offset: told where the server is
    r = await patch_chunk(client, upload_id, bidder, 500, ct[500:2000])
    assert r.status_code == 409 and r.json()["offset"] == 1_000_000
    head = await client.head(f"/api/bids/uploads/{upload_id}", headers=bidder.headers)
    assert head.headers["Upload-Offset"] == "1000000" and head.headers["Upload-Length"] == str(len(ct))
    assert (await patch_chunk(client, upload_id, bidder, 1_000_000, ct[1_000_000:])).status_code == 204
    r = await client.post(f"/api/bids/uploads/{upload_id}/finalize", headers=bidder.headers)
    assert r.status_code == 201, r.text


async def test_finalize_refuses_after_deadline_to_the_millisecond(client, pool, factory, lot, clock) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(1000))
    upload_id = (await post_upload(client, lot["lot_id"], bidder, sealed)).json()["upload_id"]
    assert (await patch_chunk(client, upload_id, bidder, 0, ct)).status_code == 204
    await at(factory, lot["deadline"], bidder)  # the deadline instant itself is too late
    r = await client.post(f"/api/bids/uploads/{upload_id}/finalize", headers=bidder.headers)
    assert r.status_code == 409 and r.json()["code"] == "bid_deadline_passed"
    assert await _count(pool, "bids") == 0 and await _count(pool, "bid_uploads") == 0
    assert len(await _log(pool, "bid:seal:refuse")) == 1


async def test_finalize_accepts_one_millisecond_before_deadline(client, pool, factory, lot, clock) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, os.urandom(1000))
    upload_id = (await post_upload(client, lot["lot_id"], bidder, sealed)).json()["upload_id"]
    assert (await patch_chunk(client, upload_id, bidder, 0, ct)).status_code == 204
    await at(factory, lot["deadline"] - timedelta(milliseconds=1), bidder)
    r = await client.post(f"/api/bids/uploads/{upload_id}/finalize", headers=bidder.headers)
    assert r.status_code == 201, r.text


async def test_create_refuses_after_deadline(client, pool, factory, lot, clock) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, _ = await seal_bytes(pool, lot["lot_id"], bidder, b"x")
    await at(factory, lot["deadline"] + timedelta(seconds=1), bidder)
    r = await post_upload(client, lot["lot_id"], bidder, sealed)
    assert r.status_code == 409 and r.json()["code"] == "bid_deadline_passed"
    assert len(await _log(pool, "bid:seal:refuse")) == 1


async def test_patch_refuses_after_deadline(client, pool, factory, lot, clock) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], bidder, b"x")
    upload_id = (await post_upload(client, lot["lot_id"], bidder, sealed)).json()["upload_id"]
    await at(factory, lot["deadline"], bidder)
    r = await patch_chunk(client, upload_id, bidder, 0, ct)
    assert r.status_code == 409 and r.json()["code"] == "bid_deadline_passed"
    assert await _count(pool, "bid_uploads") == 0


async def test_submit_refuses_unapproved_identity_key(client, pool, factory, lot) -> None:
    from tests.trading.bids.conftest import Bidder

    org, user, headers = await factory.downloader(lot["lot_id"])
    bidder = Bidder(org, user, headers, Ed25519PrivateKey.generate())
    sealed, _ = await seal_bytes(pool, lot["lot_id"], bidder, b"x")
    r = await post_upload(client, lot["lot_id"], bidder, sealed)
    assert r.status_code == 403 and r.json()["code"] == "identity_key_not_approved"


async def test_submit_refuses_manifest_naming_another_org(client, pool, factory, lot) -> None:
    a = await make_bidder(factory, lot["lot_id"])
    b = await make_bidder(factory, lot["lot_id"])
    sealed, _ = await seal_bytes(pool, lot["lot_id"], a, b"x")
    r = await post_upload(client, lot["lot_id"], b, sealed)
    assert r.status_code == 403 and r.json()["code"] == "bidder_not_eligible"


async def test_upload_of_another_bidder_is_not_found(client, pool, factory, lot) -> None:
    a = await make_bidder(factory, lot["lot_id"])
    b = await make_bidder(factory, lot["lot_id"])
    sealed, ct = await seal_bytes(pool, lot["lot_id"], a, b"x")
    upload_id = (await post_upload(client, lot["lot_id"], a, sealed)).json()["upload_id"]
    r = await patch_chunk(client, upload_id, b, 0, ct)
    assert r.status_code == 404


async def test_submit_refuses_a_reused_bid_id(client, pool, factory, lot) -> None:
    import msgspec

    from trading.bids import seal

    a = await make_bidder(factory, lot["lot_id"])
    b = await make_bidder(factory, lot["lot_id"])
    sa, cta = await seal_bytes(pool, lot["lot_id"], a, b"a")
    assert (await submit(client, lot["lot_id"], a, sa, cta)).status_code == 201
    sb, _ = await seal_bytes(pool, lot["lot_id"], b, b"b")
    forged = seal.encode_manifest(msgspec.structs.replace(sb.manifest, bid_id=sa.manifest.bid_id))
    r = await client.post(f"/api/lots/{lot['lot_id']}/bids/uploads", headers=b.headers, json={
        "manifest": base64.b64encode(forged).decode(),
        "signature": base64.b64encode(seal.sign_manifest(b.key, forged)).decode()})
    assert r.status_code == 422 and r.json()["code"] == "manifest_invalid"
