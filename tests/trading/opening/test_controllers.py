"""The opening over HTTP, with the custodians' real client (`trading.opening.custodian.custodian_unseal`)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from trading.accounts.schemas import Role
from trading.opening.custodian import ServerRefused, custodian_unseal


async def _custodian_release(client, opening, i: int):
    cust = opening.custodian(i)
    client.headers["Authorization"] = f"Bearer {await opening.factory.token(cust['user'])}"
    try:
        return await custodian_unseal(client, str(opening.lot_id), identity_key=cust["identity_private_key"],
                                      hpke_key=opening.hpke(i), now=opening.clock.now())
    finally:
        client.headers.pop("Authorization", None)


async def _fresh(factory, user) -> dict:
    """Tokens live a day: after moving the clock to the deadline, sign in again."""
    return {"Authorization": f"Bearer {await factory.token(user)}"}


async def test_opening_over_http_start_release_record_objection_close(client, opening, factory):
    bidders = []
    for p in ("950000.00", "980000.00", "1010000.00"):
        b = await opening.bidder()
        await opening.submit(b, p)
        bidders.append(b)
    base = f"/api/opening/lots/{opening.lot_id}"

    opening.clock.set(opening.deadline - timedelta(seconds=5))
    agency = await _fresh(factory, opening.lot["agency_user"])
    for b in bidders:
        b.headers = await _fresh(factory, b.user)
    r = await client.post(f"{base}/start", headers=agency)
    assert r.status_code == 409 and r.json()["code"] == "opening_before_deadline"

    opening.after_deadline()
    r = await client.post(f"{base}/start", headers=agency)
    assert r.status_code == 200 and r.json()["status"] == "unsealing"
    r = await client.post(f"{base}/start", headers=agency)  # idempotent
    assert r.status_code == 200

    r = await client.post(f"{base}/signin", headers=bidders[0].headers)
    assert r.status_code == 200 and r.json()["new"] is True

    # A bidder cannot release shares, and the record is not there before decryption is complete.
    r = await client.post(f"{base}/releases", headers=bidders[0].headers, json={"statement": "", "signature": ""})
    assert r.status_code == 403
    r = await client.get(f"{base}/record", headers=bidders[0].headers)
    assert r.status_code == 409 and r.json()["code"] == "opening_not_published"

    first = await _custodian_release(client, opening, 0)
    assert first["accepted"] == 3 and first["skipped"] == []
    second = await _custodian_release(client, opening, 2)
    assert second["accepted"] == 3
    r = await client.post(f"{base}/unseal", headers=agency)
    assert r.status_code == 200 and r.json()["status"] == "published" and r.json()["opened"] == 3

    r = await client.get(f"{base}/record", headers=bidders[1].headers)
    assert r.status_code == 200
    assert sorted(b["price_yuan"] for b in r.json()["record"]["bids"]) == ["1010000.00", "950000.00", "980000.00"]
    r = await client.get(f"{base}/record.pdf", headers=bidders[1].headers)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")

    outsider_org = await factory.org("bidder")
    _, outsider = await factory.signed_in(Role.BIDDER, org_id=outsider_org.id)
    r = await client.get(f"{base}/record", headers=outsider)
    assert r.status_code == 403

    r = await client.post(f"{base}/objections", headers=bidders[2].headers, json={"content": "请核对第一名的工期"})
    assert r.status_code == 201
    objection_id = r.json()["id"]
    r = await client.post(f"{base}/close", headers=agency)
    assert r.status_code == 409 and r.json()["code"] == "opening_objections_unanswered"
    r = await client.post(f"{base}/objections/{objection_id}/answer", headers=agency, json={"answer": "工期180日，无误"})
    assert r.status_code == 200
    r = await client.post(f"{base}/objections/{objection_id}/answer", headers=agency, json={"answer": "again"})
    assert r.status_code == 409
    r = await client.post(f"{base}/close", headers=agency)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert await opening.lot_status() == "evaluation"
    r = await client.get(f"{base}/opened-bids", headers=agency)
    assert r.status_code == 200 and len(r.json()) == 3


async def test_custodian_release_before_deadline_refused_over_http(client, opening):
    for p in ("950000.00", "980000.00", "1010000.00"):
        await opening.submit(await opening.bidder(), p)
    opening.clock.set(opening.deadline - timedelta(minutes=1))
    with pytest.raises(ServerRefused) as info:
        await _custodian_release(client, opening, 0)
    assert info.value.status == 404 and info.value.code == "opening_not_found"


async def test_objection_text_empty_refused(client, opening):
    bidders = []
    for p in ("950000.00", "980000.00", "1010000.00"):
        b = await opening.bidder()
        await opening.submit(b, p)
        bidders.append(b)
    opening.after_deadline()
    await opening.start()
    await opening.release(0)
    await opening.release(1)
    await opening.unseal()
    bidders[0].headers = await _fresh(opening.factory, bidders[0].user)
    r = await client.post(f"/api/opening/lots/{opening.lot_id}/objections", headers=bidders[0].headers,
                          json={"content": "   "})
    assert r.status_code == 422 and r.json()["code"] == "opening_text_invalid"
    r = await client.post(f"/api/opening/lots/{opening.lot_id}/objections", headers=bidders[0].headers,
                          json={"content": "x", "extra": 1})
    assert r.status_code == 400
