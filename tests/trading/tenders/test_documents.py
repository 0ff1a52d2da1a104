"""Publication needs the key ceremony; documents are obtained free without approval; downloaders stay secret."""
from __future__ import annotations

import hashlib
from datetime import timedelta

from tests.trading.tenders.helpers import give_keys
from trading.accounts.schemas import Role
from trading.bids.ceremony import ceremony_hash, decode_ceremony


async def test_publish_without_custodians_is_refused(client, clock, agency):
    t = await agency.create(client, clock)
    await client.post(f"/api/tenders/{t['id']}/documents", headers=agency.headers,
                      files={"file": ("招标文件.pdf", b"x", "application/pdf")})
    r = await client.post(f"/api/tenders/{t['id']}/publish", headers=agency.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "ceremony_incomplete"
    assert r.json()["missing"] == 3


async def test_publish_with_missing_keys_names_how_many(client, clock, factory, pool, agency):
    t = await agency.create(client, clock)
    [users] = await agency.ready(client, clock, t, factory, pool, keys=False)
    await give_keys(pool, clock, t["lots"][0]["id"], [u.id for u in users], skip=2)
    r = await client.post(f"/api/tenders/{t['id']}/publish", headers=agency.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "ceremony_incomplete"
    assert r.json()["missing"] == 2
    assert "2 missing" in r.json()["detail"]


async def test_publish_refuses_a_key_without_its_custodians_signature(client, clock, factory, pool, agency):
    t = await agency.create(client, clock)
    [users] = await agency.ready(client, clock, t, factory, pool, keys=False)
    await give_keys(pool, clock, t["lots"][0]["id"], [u.id for u in users], bad_signature_for=1)
    r = await client.post(f"/api/tenders/{t['id']}/publish", headers=agency.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "custodian_key_invalid"


async def test_publish_refuses_a_tender_without_documents(client, clock, factory, pool, agency):
    t = await agency.create(client, clock)
    users = [await factory.user(Role.CUSTODIAN) for _ in range(3)]
    lot_id = t["lots"][0]["id"]
    await client.post(f"/api/tenders/{t['id']}/lots/{lot_id}/custodians", headers=agency.headers,
                      json={"custodian_ids": [str(u.id) for u in users]})
    await give_keys(pool, clock, lot_id, [u.id for u in users])
    r = await client.post(f"/api/tenders/{t['id']}/publish", headers=agency.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "documents_unavailable"


async def test_publish_fixes_and_logs_the_ceremony(client, clock, factory, pool, agency):
    t = await agency.published(client, clock, factory, pool)
    lot = t["lots"][0]
    assert lot["status"] == "published"
    async with pool.acquire() as c:
        row = await c.fetchrow("SELECT ceremony_record, ceremony_hash FROM lots WHERE id = $1", lot["id"])
        entry = await c.fetchval("SELECT entry FROM log_entries WHERE tag = 'tender:lot:publish' AND lot_id = $1",
                                 lot["id"])
    assert ceremony_hash(row["ceremony_record"]) == row["ceremony_hash"]
    assert lot["ceremony_hash"] == row["ceremony_hash"].hex()
    assert decode_ceremony(row["ceremony_record"]).lot_id == lot["id"]
    assert row["ceremony_hash"].hex().encode() in entry


async def test_assign_custodians_refuses_non_custodians_and_wrong_count(client, clock, factory, agency):
    t = await agency.create(client, clock)
    lot_id = t["lots"][0]["id"]
    bidder = await factory.user(Role.BIDDER)
    cust = [await factory.user(Role.CUSTODIAN) for _ in range(2)]
    url = f"/api/tenders/{t['id']}/lots/{lot_id}/custodians"
    r = await client.post(url, headers=agency.headers, json={"custodian_ids": [str(u.id) for u in [*cust, bidder]]})
    assert r.status_code == 422
    assert r.json()["code"] == "custodians_invalid"
    r = await client.post(url, headers=agency.headers, json={"custodian_ids": [str(u.id) for u in cust]})
    assert r.status_code == 422


async def test_approved_bidder_obtains_documents_without_any_approval_step(client, factory, clock):
    p = await factory.published_lot()
    org = await factory.org("bidder")
    _, headers = await factory.signed_in(Role.BIDDER, org_id=org.id)
    r = await client.post(f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/obtain", headers=headers)
    assert r.status_code == 200, r.text
    [doc] = r.json()
    r = await client.get(f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/documents/{doc['id']}", headers=headers)
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == doc["sha256"]
    assert "filename*=UTF-8''%E6%8B%9B%E6%A0%87" in r.headers["content-disposition"]
    async with factory.pool.acquire() as c:
        row = await c.fetchrow("SELECT count FROM document_downloads WHERE lot_id = $1 AND org_id = $2",
                               p["lot_id"], org.id)
    assert row["count"] == 2


async def test_unapproved_bidder_cannot_obtain_documents(client, factory):
    p = await factory.published_lot()
    org = await factory.org("bidder", approved=False)
    _, headers = await factory.signed_in(Role.BIDDER, org_id=org.id)
    r = await client.post(f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/obtain", headers=headers)
    assert r.status_code == 403
    assert r.json()["code"] == "bidder_not_approved"
    r = await client.post(f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/obtain")
    assert r.status_code == 401


async def test_documents_are_not_on_offer_before_docs_from_or_after_the_deadline(client, factory, clock, pool,
                                                                             agency):
    t = await agency.create(client, clock, docs_from=(clock.now() + timedelta(days=2)).isoformat(), days=30)
    await agency.ready(client, clock, t, factory, pool)
    assert (await client.post(f"/api/tenders/{t['id']}/publish", headers=agency.headers)).status_code == 200
    org = await factory.org("bidder")
    bidder, headers = await factory.signed_in(Role.BIDDER, org_id=org.id)
    url = f"/api/tenders/{t['id']}/lots/{t['lots'][0]['id']}/obtain"
    r = await client.post(url, headers=headers)
    assert r.status_code == 409
    assert r.json()["code"] == "documents_unavailable"
    clock.advance(days=2)
    headers = {"Authorization": f"Bearer {await factory.token(bidder)}"}
    assert (await client.post(url, headers=headers)).status_code == 200
    clock.advance(days=29)
    headers = {"Authorization": f"Bearer {await factory.token(bidder)}"}
    r = await client.post(url, headers=headers)
    assert r.status_code == 409
    assert r.json()["code"] == "bid_deadline_passed"


async def test_downloaders_are_confidential_before_the_deadline(client, factory, clock):
    p = await factory.published_lot()
    org, _, bidder_headers = await factory.downloader(p["lot_id"])
    url = f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/downloads"
    # The agency and other bidders may not list them before the deadline (招标投标法 第二十二条).
    r = await client.get(url, headers=p["agency_headers"])
    assert r.status_code == 403
    assert r.json()["code"] == "downloaders_confidential"
    assert (await client.get(url, headers=bidder_headers)).status_code == 403
    assert (await client.get(url)).status_code == 401
    # Nothing in the public announcement reveals them either.
    pub = await client.get(f"/api/tenders/{p['tender_id']}")
    assert "download" not in pub.text and str(org.id) not in pub.text
    # A regulator may.
    _, reg = await factory.signed_in(Role.REGULATOR)
    r = await client.get(url, headers=reg)
    assert r.status_code == 200
    assert [d["org_id"] for d in r.json()] == [str(org.id)]
    assert r.json()[0]["org_name"] == org.name


async def test_downloaders_are_listed_to_the_agency_after_the_deadline(client, factory, clock):
    p = await factory.published_lot()
    org, _, bidder_headers = await factory.downloader(p["lot_id"])
    clock.set(p["deadline"])
    headers = {"Authorization": f"Bearer {await factory.token(p['agency_user'])}"}
    r = await client.get(f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/downloads", headers=headers)
    assert r.status_code == 200
    assert [d["org_id"] for d in r.json()] == [str(org.id)]
    other_org = await factory.org("bidder")
    _, other = await factory.signed_in(Role.BIDDER, org_id=other_org.id)
    r = await client.get(f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/downloads", headers=other)
    assert r.status_code == 403


async def test_amendments_reach_every_organisation_that_obtained_the_documents(client, factory, clock):
    # 电子招标投标办法 第二十二条
    p = await factory.published_lot()
    _, _, got = await factory.downloader(p["lot_id"])
    other = await factory.org("bidder")
    _, not_got = await factory.signed_in(Role.BIDDER, org_id=other.id)
    r = await client.post(f"/api/tenders/{p['tender_id']}/amendments", headers=p["agency_headers"],
                          json={"kind": "clarify", "summary": "澄清：工期为日历天"})
    assert r.status_code == 201
    notices = (await client.get("/api/bidder/tender-notices", headers=got)).json()
    assert [(n["kind"], n["summary"]) for n in notices] == [("clarify", "澄清：工期为日历天")]
    assert (await client.get("/api/bidder/tender-notices", headers=not_got)).json() == []


async def test_agency_lists_its_own_tenders_with_drafts(client, clock, agency, factory):
    t = await agency.create(client, clock)
    r = await client.get("/api/agency/tenders", headers=agency.headers)
    assert r.status_code == 200
    assert [(i["id"], i["status"]) for i in r.json()] == [(t["id"], "draft")]
    other = await factory.org("agency")
    _, headers = await factory.signed_in(Role.AGENCY, org_id=other.id)
    assert (await client.get("/api/agency/tenders", headers=headers)).json() == []


async def test_no_single_organisation_may_hold_k_custodians(client, clock, factory, agency):
    # With k = 2, two custodians of the agency itself could unseal every bid: refused.
    t = await agency.create(client, clock)
    lot_id = t["lots"][0]["id"]
    own = [await factory.user(Role.CUSTODIAN, org_id=agency.org.id) for _ in range(2)]
    outsider = await factory.user(Role.CUSTODIAN)
    url = f"/api/tenders/{t['id']}/lots/{lot_id}/custodians"
    r = await client.post(url, headers=agency.headers, json={"custodian_ids": [str(u.id) for u in [*own, outsider]]})
    assert r.status_code == 422
    assert r.json()["code"] == "custodians_invalid"
    others = [await factory.user(Role.CUSTODIAN) for _ in range(2)]
    r = await client.post(url, headers=agency.headers,
                          json={"custodian_ids": [str(u.id) for u in [own[0], *others]]})
    assert r.status_code == 200, r.text


async def test_tender_code_is_unique(client, clock, agency):
    r = await client.post("/api/tenders", json=agency.payload(clock, code="FZ-2026-0001"), headers=agency.headers)
    assert r.status_code == 201
    r = await client.post("/api/tenders", json=agency.payload(clock, code="FZ-2026-0001"), headers=agency.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "tender_code_taken"
