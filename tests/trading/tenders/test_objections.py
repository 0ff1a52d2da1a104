"""Objections to the tender documents (招标投标法实施条例 第二十二条)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from trading.accounts.schemas import Role
from trading.tenders import services

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


# ---- the answer period (条例 第二十二条: 3 days; 政府采购法 第五十三条: 7 working days) ----------------------------

_SH = ZoneInfo("Asia/Shanghai")


async def _entries(pool, tag: str) -> list[dict]:
    async with pool.acquire() as c:
        rows = await c.fetch("SELECT entry FROM log_entries WHERE tag = $1 ORDER BY seq", tag)
    return [msgspec.json.decode(bytes(r["entry"])) for r in rows]


async def _sweep(pool, clock) -> int:
    async with pool.acquire() as c, c.transaction():
        return await services.flag_overdue_objections(c, clock)


async def test_unanswered_objection_is_logged_overdue_once_after_three_days(client, factory, clock, pool):
    clock.set(datetime(2026, 12, 4, 23, 30, tzinfo=_SH))  # received late on Friday 4 December
    p = await factory.published_lot()
    _, _, headers = await factory.downloader(p["lot_id"])
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": TEXT})
    assert r.status_code == 201, r.text
    objection = r.json()
    # The day of receipt does not count: 5, 6 and 7 December, so due at 24:00 on the 7th.
    due = datetime(2026, 12, 8, 0, 0, tzinfo=_SH)
    assert datetime.fromisoformat(objection["answer_due"]) == due
    assert objection["overdue_at"] is None

    clock.set(due - timedelta(seconds=1))
    _, regulator = await factory.signed_in(Role.REGULATOR)
    assert await _sweep(pool, clock) == 0
    assert (await client.get("/api/regulator/overdue-objections", headers=regulator)).json() == []
    assert await _entries(pool, "tender:objection:overdue") == []

    clock.set(due)
    _, regulator = await factory.signed_in(Role.REGULATOR)
    agency = {"Authorization": f"Bearer {await factory.token(p['agency_user'])}"}
    assert await _sweep(pool, clock) == 1
    assert await _sweep(pool, clock) == 0  # logged once
    [entry] = await _entries(pool, "tender:objection:overdue")
    assert entry["body"]["objection"] == objection["id"]
    r = await client.get("/api/regulator/overdue-objections", headers=regulator)
    assert r.status_code == 200
    [item] = r.json()
    assert item["id"] == objection["id"] and item["tender_title"] and item["overdue_at"] is not None
    r = await client.get("/api/regulator/overdue-objections", headers=agency)
    assert r.status_code == 403
    # Still suspended: the answer is still owed, and still possible (marked late in the record).
    assert (await client.get(f"/api/tenders/{p['tender_id']}")).json()["suspended"] is True
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections/{objection['id']}/answer",
                          headers=agency, json={"answer": "已答复"})
    assert r.status_code == 200, r.text
    [answer] = await _entries(pool, "tender:objection:answer")
    assert answer["body"]["late"] is True
    assert (await client.get("/api/regulator/overdue-objections", headers=regulator)).json() == []
    assert (await client.get(f"/api/tenders/{p['tender_id']}")).json()["suspended"] is False


async def test_objection_answered_in_time_is_never_overdue(client, factory, clock, pool):
    clock.set(datetime(2026, 12, 4, 9, 0, tzinfo=_SH))
    p = await factory.published_lot()
    _, _, headers = await factory.downloader(p["lot_id"])
    oid = (await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers,
                             json={"content": TEXT})).json()["id"]
    clock.set(datetime(2026, 12, 7, 23, 59, tzinfo=_SH))
    agency = {"Authorization": f"Bearer {await factory.token(p['agency_user'])}"}
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections/{oid}/answer", headers=agency,
                          json={"answer": "已答复"})
    assert r.status_code == 200, r.text
    [answer] = await _entries(pool, "tender:objection:answer")
    assert answer["body"]["late"] is False
    clock.set(datetime(2026, 12, 20, tzinfo=_SH))
    assert await _sweep(pool, clock) == 0
    assert await _entries(pool, "tender:objection:overdue") == []


async def test_procurement_challenge_answer_is_due_in_seven_working_days(client, factory, clock, pool):
    clock.set(datetime(2026, 12, 4, 10, 0, tzinfo=_SH))  # a Friday
    p = await factory.published_lot(regime="gov_procurement")
    _, _, headers = await factory.downloader(p["lot_id"])
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": TEXT})
    assert r.status_code == 201, r.text
    # Working days 7–11 and 14–15 December: due at 24:00 on Tuesday the 15th.
    assert datetime.fromisoformat(r.json()["answer_due"]) == datetime(2026, 12, 16, 0, 0, tzinfo=_SH)
    clock.set(datetime(2026, 12, 15, 23, 59, tzinfo=_SH))
    assert await _sweep(pool, clock) == 0
    clock.set(datetime(2026, 12, 16, 0, 0, tzinfo=_SH))
    assert await _sweep(pool, clock) == 1


async def test_the_app_runs_the_overdue_sweep_in_the_background(client, factory, clock, pool, settings):
    """The lifespan hook is wired: an app with background work on logs the overdue objection by itself."""
    import asyncio

    from litestar.testing import AsyncTestClient

    from trading.app import create_app

    clock.set(datetime(2026, 12, 4, 9, 0, tzinfo=_SH))
    p = await factory.published_lot()
    _, _, headers = await factory.downloader(p["lot_id"])
    assert (await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers,
                              json={"content": TEXT})).status_code == 201
    clock.set(datetime(2026, 12, 8, 0, 0, tzinfo=_SH))
    app = create_app(msgspec.structs.replace(settings, background=True), clock)
    async with AsyncTestClient(app=app):
        for _ in range(100):
            if await _entries(pool, "tender:objection:overdue"):
                break
            await asyncio.sleep(0.05)
    assert len(await _entries(pool, "tender:objection:overdue")) == 1
