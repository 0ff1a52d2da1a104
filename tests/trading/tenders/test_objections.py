"""Objections to the tender documents (招标投标法实施条例 第二十二条)."""
from __future__ import annotations

from datetime import timedelta

from trading.accounts.schemas import Role

TEXT = "第三章评标办法中“类似工程业绩”的要求超出项目实际需要，请予澄清"


async def test_objection_suspends_until_answered(client, factory, clock):
    p = await factory.published_lot()
    org, _, headers = await factory.downloader(p["lot_id"])
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": TEXT})
    assert r.status_code == 201, r.text
    objection = r.json()
    assert objection["content"] == TEXT
    view = (await client.get(f"/api/tenders/{p['tender_id']}")).json()
    assert view["suspended"] is True
    assert "暂停" in (await client.get(f"/tenders/{p['tender_id']}")).text
    # The agency reads it without learning who filed it (a potential bidder) before the deadline.
    r = await client.get(f"/api/tenders/{p['tender_id']}/objections", headers=p["agency_headers"])
    assert r.status_code == 200
    assert r.json()[0]["org_id"] is None
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections/{objection['id']}/answer",
                          headers=p["agency_headers"], json={"answer": "经核查，业绩要求将调整为近三年一项，另行发布修改公告。"})
    assert r.status_code == 200, r.text
    assert r.json()["answered_at"] is not None
    assert (await client.get(f"/api/tenders/{p['tender_id']}")).json()["suspended"] is False
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections/{objection['id']}/answer",
                          headers=p["agency_headers"], json={"answer": "again"})
    assert r.status_code == 409
    assert r.json()["code"] == "objection_already_answered"


async def test_tender_stays_suspended_while_any_objection_is_unanswered(client, factory, clock):
    p = await factory.published_lot()
    ids = []
    for _ in range(2):
        _, _, headers = await factory.downloader(p["lot_id"])
        r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": TEXT})
        ids.append(r.json()["id"])
    await client.post(f"/api/tenders/{p['tender_id']}/objections/{ids[0]}/answer", headers=p["agency_headers"],
                      json={"answer": "已答复"})
    assert (await client.get(f"/api/tenders/{p['tender_id']}")).json()["suspended"] is True
    await client.post(f"/api/tenders/{p['tender_id']}/objections/{ids[1]}/answer", headers=p["agency_headers"],
                      json={"answer": "已答复"})
    assert (await client.get(f"/api/tenders/{p['tender_id']}")).json()["suspended"] is False


async def test_objection_later_than_ten_days_before_the_deadline_is_refused(client, factory, clock):
    p = await factory.published_lot()  # deadline: now + 25 days
    org, user, _ = await factory.downloader(p["lot_id"])
    clock.set(p["deadline"] - timedelta(days=10))
    headers = {"Authorization": f"Bearer {await factory.token(user)}"}
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": TEXT})
    assert r.status_code == 201, r.text
    clock.advance(days=1)
    headers = {"Authorization": f"Bearer {await factory.token(user)}"}
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": TEXT})
    assert r.status_code == 409
    assert r.json()["code"] == "objection_too_late"


async def test_objection_needs_the_documents_obtained(client, factory):
    p = await factory.published_lot()
    org = await factory.org("bidder")
    _, headers = await factory.signed_in(Role.BIDDER, org_id=org.id)
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": TEXT})
    assert r.status_code == 403
    assert r.json()["code"] == "documents_not_obtained"
    assert (await client.get(f"/api/tenders/{p['tender_id']}")).json()["suspended"] is False


async def test_only_the_agency_answers(client, factory):
    p = await factory.published_lot()
    _, _, headers = await factory.downloader(p["lot_id"])
    oid = (await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers,
                             json={"content": TEXT})).json()["id"]
    other = await factory.org("agency")
    _, other_headers = await factory.signed_in(Role.AGENCY, org_id=other.id)
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections/{oid}/answer", headers=other_headers,
                          json={"answer": "x"})
    assert r.status_code == 403
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections/{oid}/answer", headers=headers,
                          json={"answer": "x"})
    assert r.status_code == 403


async def test_gov_procurement_challenge_within_seven_working_days_of_obtaining(client, factory, clock):
    # 政府采购法 第五十二条: documents obtained Monday 2026-03-02 → challenges until Wednesday 03-11.
    from datetime import datetime

    from trading.clock import SHANGHAI

    p = await factory.published_lot(regime="gov_procurement", procurement_type="goods")
    _, user, _ = await factory.downloader(p["lot_id"])
    clock.set(datetime(2026, 3, 11, 17, 0, tzinfo=SHANGHAI))
    headers = {"Authorization": f"Bearer {await factory.token(user)}"}
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": TEXT})
    assert r.status_code == 201, r.text
    clock.set(datetime(2026, 3, 12, 9, 0, tzinfo=SHANGHAI))
    headers = {"Authorization": f"Bearer {await factory.token(user)}"}
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": TEXT})
    assert r.status_code == 409
    assert r.json()["code"] == "objection_too_late"
    assert r.json()["last_day"] == "2026-03-11"
