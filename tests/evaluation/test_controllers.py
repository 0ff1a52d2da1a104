"""Bad input over HTTP answers 4xx problem JSON with a machine code — never a 500, never a half-written record."""
from __future__ import annotations

from evaluation import sources


async def test_scheme_bad_numbers_refused_with_problem_codes(make_lot, client, factory, pool):
    lot = await make_lot(start=False, scheme=None)
    h = {"Authorization": f"Bearer {await factory.token(lot['agency_user'])}"}
    url = f"/api/lots/{lot['lot_id']}/evaluation/scheme"
    base = {"criteria": [{"id": "q1", "name": "资质", "reason_code": "bidder_unqualified"}],
            "items": [{"id": "t1", "name": "方案", "group": "technical", "max_points": "100"}],
            "technical_weight": "0.7", "price_weight": "0.3"}
    for change, code in (({"items": [{"id": "t1", "name": "方案", "group": "technical", "max_points": "1e10"}]},
                          "scheme_invalid"),
                         ({"technical_weight": "abc"}, "scheme_invalid"),
                         ({"technical_weight": "0.69999", "price_weight": "0.30001"}, "scheme_invalid"),
                         ({"publicity_days": 10**10}, "scheme_invalid"),
                         ({"items": [{"id": "t 1!", "name": "方案", "group": "technical", "max_points": "100"}]},
                          "scheme_invalid"),
                         ({"criteria": [{"id": "q1", "name": "x", "reason_code": "late"}]}, "scheme_invalid"),
                         ({"surprise": 1}, "validation_error")):
        r = await client.put(url, json={**base, **change}, headers=h)
        assert 400 <= r.status_code < 500, (change, r.status_code, r.text)
        assert r.json()["code"] == code, (change, r.text)
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM evaluation_schemes WHERE lot_id = $1", lot["lot_id"]) == 0
    r = await client.put(url, json=base, headers=h)
    assert r.status_code == 200 and r.json()["scheme_sha256"]


async def test_sheet_bad_input_refused(make_lot, client, factory, monkeypatch):
    lot = await make_lot()
    monkeypatch.setattr(sources, "current", lot["roster"])
    h = lot["experts"][0]["headers"]
    base = f"/api/lots/{lot['lot_id']}/evaluation"
    assert (await client.post(f"{base}/declaration", json={"conflict": False}, headers=h)).status_code == 200
    bid = str(lot["bid_ids"][0])
    for body, status, code in (
            ({"scores": [{"bid_id": bid, "item_id": "t1", "points": "abc"}]}, 422, "sheet_invalid"),
            ({"scores": [{"bid_id": bid, "item_id": "t1", "points": "NaN"}]}, 422, "sheet_invalid"),
            ({"scores": [{"bid_id": bid, "item_id": "t1", "points": "1e5"}]}, 422, "sheet_invalid"),
            ({"scores": [{"bid_id": bid, "item_id": "zz", "points": "1"}]}, 422, "sheet_invalid"),
            ({"scores": [{"bid_id": "not-a-uuid", "item_id": "t1", "points": "1"}]}, 400, "validation_error"),
            ({"marks": [{"bid_id": bid, "criterion_id": "q1", "passed": False}]}, 422, "sheet_invalid")):
        r = await client.put(f"{base}/sheet", json=body, headers=h)
        assert (r.status_code, r.json()["code"]) == (status, code), (body, r.text)
    r = await client.get(f"{base}/sheet", headers=h)
    assert r.json()["scores"] == [] and r.json()["marks"] == []
    r = await client.post(f"/api/lots/{lot['lot_id']}/publicity", json={"contact": "x", "days": 10**12},
                          headers=lot["agency_headers"])
    assert 400 <= r.status_code < 500
