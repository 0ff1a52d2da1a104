"""Public listing and announcements: no login, search, filters, pages, drafts hidden, Chinese round-trips."""
from __future__ import annotations

from trading.accounts.schemas import Role


async def test_draft_is_invisible_except_to_its_agency(client, clock, factory, agency):
    t = await agency.create(client, clock)
    assert (await client.get(f"/api/tenders/{t['id']}")).status_code == 404
    assert (await client.get(f"/tenders/{t['id']}")).status_code == 404
    other = await factory.org("agency")
    _, other_headers = await factory.signed_in(Role.AGENCY, org_id=other.id)
    assert (await client.get(f"/api/tenders/{t['id']}", headers=other_headers)).status_code == 404
    r = await client.get(f"/api/tenders/{t['id']}", headers=agency.headers)
    assert r.status_code == 200
    assert r.json()["status"] == "draft"
    assert (await client.get("/api/tenders")).json()["total"] == 0


async def test_published_tender_is_listed_and_chinese_round_trips(client, clock, factory, pool, agency):
    title = "闽侯县𠮷祥村饮水安全工程（二期）——设备采购"
    t = await agency.published(client, clock, factory, pool, title=title, procurement_type="goods")
    r = await client.get("/api/tenders")
    assert r.status_code == 200
    page = r.json()
    assert page["total"] == 1
    assert page["items"][0]["title"] == title
    assert page["items"][0]["status"] == "open"
    assert page["items"][0]["estimated_total"] == "1000000.00"
    view = (await client.get(f"/api/tenders/{t['id']}")).json()
    assert view["title"] == title
    assert view["tenderer_name"] == "某某市交通运输局"
    html = (await client.get(f"/tenders/{t['id']}")).text
    assert title in html and "壹佰万元整" in html and "贰万元整" in html
    assert "招标公告" in html


async def test_search_filters_and_pagination(client, clock, factory, pool, agency):
    specs = [("350100", "works", "福州地铁站装修工程"), ("350200", "goods", "厦门医院医疗设备采购"),
             ("350102", "services", "福州鼓楼区物业管理服务"), ("110000", "works", "北京道路工程")]
    for region, kind, title in specs:
        await agency.published(client, clock, factory, pool, region=region, procurement_type=kind, title=title)
        clock.advance(minutes=1)
    get = lambda **q: client.get("/api/tenders", params=q)  # noqa: E731
    assert [i["title"] for i in (await get(q="福州")).json()["items"]] == ["福州鼓楼区物业管理服务", "福州地铁站装修工程"]
    assert (await get(region="3501")).json()["total"] == 2
    assert (await get(region="35")).json()["total"] == 3
    assert [i["title"] for i in (await get(type="goods")).json()["items"]] == ["厦门医院医疗设备采购"]
    assert (await get(q="100%")).json()["total"] == 0
    p1 = (await get(page_size=3)).json()
    p2 = (await get(page_size=3, page=2)).json()
    assert p1["total"] == 4 and p1["pages"] == 2 and len(p1["items"]) == 3 and len(p2["items"]) == 1
    assert {i["id"] for i in p1["items"]}.isdisjoint({i["id"] for i in p2["items"]})
    assert (await get(page=9)).json()["items"] == []
    assert (await get(page=9)).json()["total"] == 4
    r = await get(page_size=1000)
    assert r.status_code == 422
    r = await get(status="draft")
    assert r.status_code == 422
    r = await get(type="weapons")
    assert r.status_code == 422


async def test_status_filter_follows_the_clock(client, clock, factory, pool, agency):
    t = await agency.published(client, clock, factory, pool)
    assert (await client.get("/api/tenders", params={"status": "open"})).json()["total"] == 1
    clock.advance(days=26)
    assert (await client.get("/api/tenders", params={"status": "open"})).json()["total"] == 0
    r = await client.get("/api/tenders", params={"status": "closed"})
    assert r.json()["items"][0]["id"] == t["id"]
    view = (await client.get(f"/api/tenders/{t['id']}")).json()
    assert view["lots"][0]["status"] == "closed"


async def test_list_page_in_chinese_and_english(client, clock, factory, pool, agency):
    await agency.published(client, clock, factory, pool, title="某某学校食堂设备采购")
    zh = await client.get("/tenders")
    assert zh.status_code == 200
    assert "交易公告" in zh.text and "某某学校食堂设备采购" in zh.text and "正在招标" in zh.text
    en = await client.get("/tenders", params={"lang": "en"})
    assert "Tender announcements" in en.text and "Open for bids" in en.text
    assert "某某学校食堂设备采购" in en.text
    r = await client.get("/tenders", params={"q": "食堂", "page": "x"})
    assert r.status_code == 422
    r = await client.get("/", follow_redirects=False)
    assert r.status_code in (301, 302, 303, 307) and r.headers["location"].startswith("/tenders")


async def test_cancelled_draft_stays_invisible(client, clock, agency):
    t = await agency.create(client, clock)
    r = await client.post(f"/api/tenders/{t['id']}/cancel", headers=agency.headers, json={"reason": "立项撤销"})
    assert r.status_code == 200, r.text
    assert (await client.get(f"/api/tenders/{t['id']}")).status_code == 404
    assert (await client.get("/api/tenders", params={"status": "cancelled"})).json()["total"] == 0


async def test_cached_listing_never_serves_a_stale_page(client, clock, factory, pool, agency, app):
    t = await agency.published(client, clock, factory, pool, title="旧标题工程")
    assert (await client.get("/api/tenders")).json()["items"][0]["title"] == "旧标题工程"
    assert (await client.get("/api/tenders")).json()["items"][0]["title"] == "旧标题工程"
    cache = app.state["tender_listing_cache"]
    assert cache.hits >= 1
    r = await client.post(f"/api/tenders/{t['id']}/amendments", headers=agency.headers,
                          json={"summary": "更正项目名称", "title": "新标题工程", "affects_bid_preparation": False})
    assert r.status_code == 201
    assert (await client.get("/api/tenders")).json()["items"][0]["title"] == "新标题工程"
    assert "新标题工程" in (await client.get("/tenders")).text
    # A change made behind the app's back (another process) is seen as well.
    async with pool.acquire() as c:
        await c.execute("UPDATE tenders SET title = '另一进程修改' WHERE id = $1", t["id"])
    assert (await client.get("/api/tenders")).json()["items"][0]["title"] == "另一进程修改"


async def test_version_probe_serves_each_caller_a_read_started_after_it_called(pool):
    import asyncio

    from trading.tenders.listing import VersionProbe

    probe = VersionProbe()
    first = await probe.stamp(pool)
    results = await asyncio.gather(*(probe.stamp(pool) for _ in range(20)))
    assert all(r == first for r in results)
    # A change committed before a call is always seen by that call.
    async with pool.acquire() as c:
        await c.execute("UPDATE tender_listing_version SET v = v + 1")
    after = await probe.stamp(pool)
    assert after[1] == first[1] + 1


async def test_announcement_page_links_documents_for_signed_in_bidders(client, factory):
    p = await factory.published_lot()
    anonymous = (await client.get(f"/tenders/{p['tender_id']}")).text
    assert "招标文件.pdf" in anonymous and "/documents/" not in anonymous
    _, _, headers = await factory.downloader(p["lot_id"])
    page = (await client.get(f"/tenders/{p['tender_id']}", headers=headers)).text
    assert f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/documents/" in page


async def test_openapi_documents_the_tender_routes(client):
    r = await client.get("/api/docs/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    for path in ("/api/tenders", "/api/tenders/{tender_id}", "/api/tenders/{tender_id}/publish",
                 "/api/tenders/{tender_id}/lots/{lot_id}/obtain", "/api/tenders/{tender_id}/lots/{lot_id}/downloads"):
        assert path in paths
