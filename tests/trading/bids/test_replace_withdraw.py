"""Replacement and withdrawal before the deadline (招标投标法 第二十九条); never after; never unsealed."""
from __future__ import annotations

import base64
import os
from datetime import timedelta

from tests.trading.bids.conftest import at, make_bidder, post_upload, seal_bytes, submit
from trading import events
from trading.bids import client as bid_client
from trading.bids import seal
from trading.bids.repository import list_bids_to_open


async def _statuses(pool, lot_id) -> list[tuple[int, str]]:
    async with pool.acquire() as c:
        rows = await c.fetch("SELECT version, status FROM bids WHERE lot_id = $1 ORDER BY version", lot_id)
    return [(r["version"], r["status"]) for r in rows]


async def test_replacement_supersedes_previous_version(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"v1" * 1000)
    assert (await submit(client, lot["lot_id"], bidder, s1, ct1)).status_code == 201
    s2, ct2 = await seal_bytes(pool, lot["lot_id"], bidder, b"v2" * 1000, version=2, previous=s1.manifest_sha256)
    r = await submit(client, lot["lot_id"], bidder, s2, ct2)
    assert r.status_code == 201, r.text
    assert await _statuses(pool, lot["lot_id"]) == [(1, "superseded"), (2, "active")]
    to_open = await list_bids_to_open(pool, lot["lot_id"])  # type: ignore[arg-type]
    assert [b.manifest_sha256 for b in to_open] == [s2.manifest_sha256.hex()]


async def test_replacement_refuses_second_version_one(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"v1")
    assert (await submit(client, lot["lot_id"], bidder, s1, ct1)).status_code == 201
    again, _ = await seal_bytes(pool, lot["lot_id"], bidder, b"v1 again")
    r = await post_upload(client, lot["lot_id"], bidder, again)
    assert r.status_code == 409 and r.json()["code"] == "bid_version_conflict"


async def test_replacement_refuses_wrong_previous(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"v1")
    assert (await submit(client, lot["lot_id"], bidder, s1, ct1)).status_code == 201
    s2, _ = await seal_bytes(pool, lot["lot_id"], bidder, b"v2", version=2, previous=os.urandom(32))
    r = await post_upload(client, lot["lot_id"], bidder, s2)
    assert r.status_code == 409 and r.json()["code"] == "bid_version_conflict"


async def test_withdraw_marks_bid_and_emits_event(client, pool, factory, lot) -> None:
    seen = []

    async def handler(conn, clock, payload):
        seen.append(payload)

    events.subscribe("bid.withdrawn", handler)
    try:
        bidder = await make_bidder(factory, lot["lot_id"])
        s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"v1")
        assert (await submit(client, lot["lot_id"], bidder, s1, ct1)).status_code == 201
        client.headers.update(bidder.headers)
        try:
            out = await bid_client.withdraw(client, str(lot["lot_id"]), bidder.key)
        finally:
            client.headers.pop("Authorization", None)
        assert out["bid_id"] == s1.manifest.bid_id.hex()
    finally:
        events._HANDLERS["bid.withdrawn"].remove(handler)
    assert await _statuses(pool, lot["lot_id"]) == [(1, "withdrawn")]
    assert await list_bids_to_open(pool, lot["lot_id"]) == []  # type: ignore[arg-type]
    assert seen and seen[0]["bidder_org_id"] == bidder.org.id
    async with pool.acquire() as c:
        entry = await c.fetchrow("SELECT actor, entry FROM log_entries WHERE tag = 'bid:seal:withdraw'")
    assert entry["actor"] is None and str(bidder.org.id).encode() not in bytes(entry["entry"])


def _withdrawal(lot_id, bidder, sealed) -> dict:
    statement = seal.withdrawal_bytes(seal.Withdrawal(
        v=seal.PROTOCOL, lot_id=str(lot_id), bid_id=sealed.manifest.bid_id, manifest_sha256=sealed.manifest_sha256,
        bidder_org_id=str(bidder.org.id), signer_id=str(bidder.user.id)))
    return {"statement": base64.b64encode(statement).decode(),
            "signature": base64.b64encode(seal.sign_withdrawal(bidder.key, statement)).decode()}


async def test_withdraw_refuses_after_deadline(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"v1")
    assert (await submit(client, lot["lot_id"], bidder, s1, ct1)).status_code == 201
    await at(factory, lot["deadline"] + timedelta(milliseconds=1), bidder)
    r = await client.post(f"/api/lots/{lot['lot_id']}/bids/withdraw", headers=bidder.headers,
                          json=_withdrawal(lot["lot_id"], bidder, s1))
    assert r.status_code == 409 and r.json()["code"] == "bid_deadline_passed"
    assert await _statuses(pool, lot["lot_id"]) == [(1, "active")]


async def test_withdraw_refuses_statement_signed_by_another_key(client, pool, factory, lot) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    bidder = await make_bidder(factory, lot["lot_id"])
    s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"v1")
    assert (await submit(client, lot["lot_id"], bidder, s1, ct1)).status_code == 201
    body = _withdrawal(lot["lot_id"], bidder, s1)
    body["signature"] = base64.b64encode(Ed25519PrivateKey.generate().sign(b"x")).decode()
    r = await client.post(f"/api/lots/{lot['lot_id']}/bids/withdraw", headers=bidder.headers, json=body)
    assert r.status_code == 422 and r.json()["code"] == "manifest_signature_invalid"


async def test_withdraw_refuses_superseded_version(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"v1")
    assert (await submit(client, lot["lot_id"], bidder, s1, ct1)).status_code == 201
    s2, ct2 = await seal_bytes(pool, lot["lot_id"], bidder, b"v2", version=2, previous=s1.manifest_sha256)
    assert (await submit(client, lot["lot_id"], bidder, s2, ct2)).status_code == 201
    r = await client.post(f"/api/lots/{lot['lot_id']}/bids/withdraw", headers=bidder.headers,
                          json=_withdrawal(lot["lot_id"], bidder, s1))
    assert r.status_code == 422 and r.json()["code"] == "withdrawal_invalid"


async def test_replace_refuses_after_deadline(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"v1")
    assert (await submit(client, lot["lot_id"], bidder, s1, ct1)).status_code == 201
    s2, _ = await seal_bytes(pool, lot["lot_id"], bidder, b"v2", version=2, previous=s1.manifest_sha256)
    await at(factory, lot["deadline"], bidder)
    r = await post_upload(client, lot["lot_id"], bidder, s2)
    assert r.status_code == 409 and r.json()["code"] == "bid_deadline_passed"
    assert await _statuses(pool, lot["lot_id"]) == [(1, "active")]


async def test_bid_after_withdrawal_continues_the_chain(client, pool, factory, lot) -> None:
    bidder = await make_bidder(factory, lot["lot_id"])
    s1, ct1 = await seal_bytes(pool, lot["lot_id"], bidder, b"v1")
    assert (await submit(client, lot["lot_id"], bidder, s1, ct1)).status_code == 201
    r = await client.post(f"/api/lots/{lot['lot_id']}/bids/withdraw", headers=bidder.headers,
                          json=_withdrawal(lot["lot_id"], bidder, s1))
    assert r.status_code == 200, r.text
    s2, ct2 = await seal_bytes(pool, lot["lot_id"], bidder, b"v2", version=2, previous=s1.manifest_sha256)
    assert (await submit(client, lot["lot_id"], bidder, s2, ct2)).status_code == 201
    assert await _statuses(pool, lot["lot_id"]) == [(1, "withdrawn"), (2, "active")]
    assert len(await list_bids_to_open(pool, lot["lot_id"])) == 1  # type: ignore[arg-type]
