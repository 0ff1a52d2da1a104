"""Every tender rule refused over HTTP, and accepted at its boundary."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from trading.clock import SHANGHAI


def at(y, m, d, hh=9, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


# The test clock starts on Monday 2026-03-02 09:00 Asia/Shanghai.

async def test_create_tender_refuses_deposit_over_two_percent(client, clock, agency):
    # 招标投标法实施条例 第二十六条
    body = agency.payload(clock, lots=[{"name": "一标段", "estimated_price": "1000000.00", "deposit": "20000.01"}])
    r = await client.post("/api/tenders", json=body, headers=agency.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "deposit_too_high"
    assert r.json()["max_deposit"] == "20000.00"


async def test_create_tender_accepts_deposit_of_exactly_two_percent(client, clock, agency):
    body = agency.payload(clock, lots=[{"name": "一标段", "estimated_price": "1000000.00", "deposit": "20000.00"}])
    r = await client.post("/api/tenders", json=body, headers=agency.headers)
    assert r.status_code == 201, r.text
    lot = r.json()["lots"][0]
    assert lot["deposit"] == "20000.00"
    assert lot["deposit_capital"] == "贰万元整"
    assert lot["estimated_price_capital"] == "壹佰万元整"


async def test_create_tender_refuses_minimum_price_on_lot(client, clock, agency):
    # 招标投标法实施条例 第二十七条
    body = agency.payload(clock, lots=[{"name": "一标段", "estimated_price": "1000000.00", "min_price": "800000"}])
    r = await client.post("/api/tenders", json=body, headers=agency.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "minimum_price_forbidden"


async def test_create_tender_refuses_minimum_price_on_tender(client, clock, agency):
    r = await client.post("/api/tenders", json=agency.payload(clock, min_price="1"), headers=agency.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "minimum_price_forbidden"


async def test_amendment_refuses_minimum_price(client, clock, factory, pool, agency):
    t = await agency.published(client, clock, factory, pool)
    r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=agency.headers,
                          json={"summary": "设定最低价", "min_price": "900000"})
    assert r.status_code == 422
    assert r.json()["code"] == "minimum_price_forbidden"


async def test_create_tender_refuses_bid_period_under_twenty_days(client, clock, agency):
    # 招标投标法 第二十四条: 2026-03-02 + 20 days = 2026-03-22
    r = await client.post("/api/tenders", json=agency.payload(clock, bid_deadline=at(2026, 3, 20)),
                          headers=agency.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "bid_period_too_short"


async def test_bid_period_ending_on_a_sunday_rolls_to_monday(client, clock, agency):
    # Day 20 is Sunday 2026-03-22: the period ends on Monday 03-23 (RULES G2), so a Sunday deadline is refused.
    r = await client.post("/api/tenders", json=agency.payload(clock, bid_deadline=at(2026, 3, 22)),
                          headers=agency.headers)
    assert r.status_code == 422
    assert r.json()["earliest"] == "2026-03-23"
    r = await client.post("/api/tenders", json=agency.payload(clock, bid_deadline=at(2026, 3, 23)),
                          headers=agency.headers)
    assert r.status_code == 201, r.text


async def test_bid_period_minimum_applies_to_goods_and_services(client, clock, agency):
    for kind in ("goods", "services"):
        r = await client.post("/api/tenders", json=agency.payload(clock, procurement_type=kind, days=19),
                              headers=agency.headers)
        assert r.status_code == 422, kind
        assert r.json()["code"] == "bid_period_too_short"


async def test_bid_period_minimum_does_not_bind_a_tender_not_required_by_law(client, clock, agency):
    # The 20-day minimum of 第二十四条 binds 依法必须招标 projects only.
    r = await client.post("/api/tenders", json=agency.payload(clock, must_tender=False, days=10),
                          headers=agency.headers)
    assert r.status_code == 201, r.text


async def test_gov_procurement_documents_need_five_working_days(client, clock, agency):
    # 87号令 第十八条: 5 working days from Monday 03-02 end on Monday 03-09, not Friday 03-06.
    body = agency.payload(clock, regime="gov_procurement")
    body["docs_until"] = at(2026, 3, 7).isoformat()
    r = await client.post("/api/tenders", json=body, headers=agency.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "document_period_too_short"
    body["docs_until"] = at(2026, 3, 9, 17).isoformat()
    body["code"] = "GP-OK-1"
    r = await client.post("/api/tenders", json=body, headers=agency.headers)
    assert r.status_code == 201, r.text


async def test_bidding_law_documents_need_five_days(client, clock, agency):
    # 招标投标法实施条例 第十六条
    body = agency.payload(clock)
    body["docs_until"] = at(2026, 3, 6).isoformat()
    r = await client.post("/api/tenders", json=body, headers=agency.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "document_period_too_short"


async def test_create_tender_refuses_naive_times_and_unknown_fields(client, clock, agency):
    body = agency.payload(clock)
    body["bid_deadline"] = "2026-04-01T09:00:00"
    r = await client.post("/api/tenders", json=body, headers=agency.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "timeline_invalid"
    r = await client.post("/api/tenders", json=agency.payload(clock, floor="1"), headers=agency.headers)
    assert r.status_code == 400


async def test_amendment_within_fifteen_days_must_move_the_deadline(client, clock, factory, pool, agency):
    # 招标投标法 第二十三条: deadline 03-27 09:00; on 03-15 only 12 days remain.
    t = await agency.published(client, clock, factory, pool)
    clock.set(at(2026, 3, 15))
    await agency.refresh()
    r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=agency.headers,
                          json={"summary": "修改工程量清单第3项"})
    assert r.status_code == 409
    assert r.json()["code"] == "amendment_too_late"
    assert r.json()["earliest"] == "2026-03-30"
    # Moving the deadline to 03-29 (14 days) is still refused; 03-30 is accepted.
    r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=agency.headers,
                          json={"summary": "修改工程量清单第3项", "bid_deadline": at(2026, 3, 29).isoformat(),
                                "docs_until": at(2026, 3, 29).isoformat()})
    assert r.status_code == 409
    r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=agency.headers,
                          json={"summary": "修改工程量清单第3项，投标截止时间顺延",
                                "bid_deadline": at(2026, 3, 30).isoformat(),
                                "docs_until": at(2026, 3, 30).isoformat()})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["version"] == 1
    assert [v["kind"] for v in body["history"]] == ["publish", "amend"]
    assert body["bid_deadline"].startswith("2026-03-30T01:00:00")


async def test_amendment_fifteen_days_ahead_keeps_the_deadline(client, clock, factory, pool, agency):
    t = await agency.published(client, clock, factory, pool)
    clock.set(at(2026, 3, 12))  # 15 days before 03-27
    await agency.refresh()
    r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=agency.headers,
                          json={"kind": "clarify", "summary": "澄清：资格条件中的“类似业绩”指近五年"})
    assert r.status_code == 201, r.text
    assert r.json()["history"][-1]["kind"] == "clarify"
    assert r.json()["history"][-1]["summary"] == "澄清：资格条件中的“类似业绩”指近五年"


async def test_every_amendment_is_kept_as_a_version(client, clock, factory, pool, agency):
    t = await agency.published(client, clock, factory, pool)
    for i in range(3):
        r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=agency.headers,
                              json={"summary": f"第{i + 1}次修改", "title": f"福州市某某道路改造工程（第{i + 1}次修改）"})
        assert r.status_code == 201, r.text
    r = await client.get(f"/api/tenders/{t['id']}")
    hist = r.json()["history"]
    assert [v["version"] for v in hist] == [0, 1, 2, 3]
    assert [v["summary"] for v in hist][1:] == ["第1次修改", "第2次修改", "第3次修改"]
    assert r.json()["title"] == "福州市某某道路改造工程（第3次修改）"
    r = await client.get(f"/tenders/{t['id']}")
    assert "第2次修改" in r.text


async def test_amendment_documents_are_issued_with_their_version(client, clock, factory, pool, agency):
    t = await agency.published(client, clock, factory, pool)
    r = await client.post(f"/api/tenders/{t['id']}/documents", headers=agency.headers,
                          files={"file": ("补遗书1.pdf", "补遗内容".encode(), "application/pdf")})
    assert r.status_code == 201
    assert r.json()["version"] == 1
    # Staged: invisible to the public until the amendment issues it.
    pub = (await client.get(f"/api/tenders/{t['id']}")).json()
    assert "补遗书1.pdf" not in [d["filename"] for d in pub["documents"]]
    r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=agency.headers,
                          json={"summary": "发布补遗书1"})
    assert r.status_code == 201
    pub = (await client.get(f"/api/tenders/{t['id']}")).json()
    assert "补遗书1.pdf" in [d["filename"] for d in pub["documents"]]


async def test_amendment_by_another_agency_is_forbidden(client, clock, factory, pool, agency):
    from trading.accounts.schemas import Role

    t = await agency.published(client, clock, factory, pool)
    other = await factory.org("agency")
    _, headers = await factory.signed_in(Role.AGENCY, org_id=other.id)
    r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=headers, json={"summary": "x"})
    assert r.status_code == 403
    assert r.json()["code"] == "not_the_agency"


async def test_create_tender_needs_agency_role(client, clock, factory, agency):
    from trading.accounts.schemas import Role

    _, headers = await factory.signed_in(Role.BIDDER, org_id=(await factory.org("bidder")).id)
    r = await client.post("/api/tenders", json=agency.payload(clock), headers=headers)
    assert r.status_code == 403
    r = await client.post("/api/tenders", json=agency.payload(clock))
    assert r.status_code == 401


async def test_utc_input_is_accepted(client, clock, agency):
    deadline = datetime(2026, 3, 27, 1, 0, tzinfo=timezone.utc)
    r = await client.post("/api/tenders", json=agency.payload(clock, bid_deadline=deadline), headers=agency.headers)
    assert r.status_code == 201
    assert r.json()["bid_deadline"].startswith("2026-03-27T01:00:00")
    assert timedelta(0) == timedelta(0)


async def test_times_beyond_the_ten_year_horizon_are_refused_not_a_500(client, clock, factory, pool, agency):
    # Year 9999 in UTC runs past datetime's range once shown in Asia/Shanghai (+08:00), and year 1 at +23:59 runs
    # before it: each of these answered 500 (OverflowError in trading.dates.local_date) — found by a mutation fuzz.
    far, early = "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+23:59"
    for field, value in (("bid_deadline", far), ("docs_from", early)):
        body = agency.payload(clock)
        body[field] = value
        r = await client.post("/api/tenders", json=body, headers=agency.headers)
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "timeline_invalid", field), r.text
    draft = await agency.create(client, clock)
    r = await client.patch(f"/api/tenders/{draft['id']}", headers=agency.headers,
                           json={"bid_deadline": far, "docs_until": far})
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "timeline_invalid", "docs_until"), r.text
    t = await agency.published(client, clock, factory, pool)
    r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=agency.headers,
                          json={"summary": "延期", "bid_deadline": far, "docs_until": far})
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "timeline_invalid", "docs_until"), r.text
    # nine years ahead is a strange tender, not an impossible one
    r = await client.post("/api/tenders", json=agency.payload(clock, days=9 * 365), headers=agency.headers)
    assert r.status_code == 201, r.text


async def test_draft_edit_checks_the_rules_again(client, clock, agency):
    t = await agency.create(client, clock)
    lot = t["lots"][0]
    r = await client.patch(f"/api/tenders/{t['id']}", headers=agency.headers,
                           json={"lots": [{"id": lot["id"], "deposit": "20000.01"}]})
    assert r.status_code == 422
    assert r.json()["code"] == "deposit_too_high"
    r = await client.patch(f"/api/tenders/{t['id']}", headers=agency.headers,
                           json={"lots": [{"id": lot["id"], "min_price": "1"}]})
    assert r.json()["code"] == "minimum_price_forbidden"
    r = await client.patch(f"/api/tenders/{t['id']}", headers=agency.headers,
                           json={"bid_deadline": at(2026, 3, 20).isoformat(), "docs_until": at(2026, 3, 20).isoformat()})
    assert r.json()["code"] == "bid_period_too_short"
    r = await client.patch(f"/api/tenders/{t['id']}", headers=agency.headers,
                           json={"title": "更正后的项目名称", "lots": [{"id": lot["id"], "estimated_price": "2000000.00",
                                                                  "deposit": "40000.00"}]})
    assert r.status_code == 200, r.text
    assert r.json()["title"] == "更正后的项目名称"
    assert r.json()["lots"][0]["deposit_capital"] == "肆万元整"


async def test_published_tender_cannot_be_edited_as_a_draft(client, clock, factory, pool, agency):
    t = await agency.published(client, clock, factory, pool)
    r = await client.patch(f"/api/tenders/{t['id']}", headers=agency.headers, json={"title": "x"})
    assert r.status_code == 409
    assert r.json()["code"] == "tender_not_draft"
