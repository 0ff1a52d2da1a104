"""The expert pool over HTTP: applications, review, the draw, invitations, DRAW.json, and secrecy of names."""
from __future__ import annotations

from datetime import timedelta

import msgspec

from expert_pool import draw as protocol
from tests.expert_pool.conftest import application
from trading.accounts.schemas import Role


def _json(struct) -> dict:
    return msgspec.to_builtins(struct)


async def _headers(factory, user) -> dict[str, str]:
    return {"Authorization": f"Bearer {await factory.token(user)}"}


async def test_expert_applies_and_admin_reviews_over_http(client, factory, experts):
    user = await experts.user("王工")
    headers = await _headers(factory, user)
    r = await client.post("/api/experts/apply", json=_json(application(name="王工")), headers=headers)
    assert r.status_code == 201, r.text
    expert_id = r.json()["id"]
    assert (await client.get("/api/experts/me", headers=headers)).json()["status"] == "pending"
    # only administrators review
    r = await client.post(f"/api/experts/{expert_id}/approve", headers=headers)
    assert r.status_code == 403 and r.json()["code"] == "role_required"
    assert (await client.post(f"/api/experts/{expert_id}/approve")).status_code == 401
    _, admin = await factory.signed_in(Role.ADMIN)
    queue = (await client.get("/api/experts?status=pending", headers=admin)).json()
    assert [e["id"] for e in queue] == [expert_id]
    r = await client.post(f"/api/experts/{expert_id}/approve", headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "approved"
    r = await client.post(f"/api/experts/{expert_id}/suspend", json={"reason": ""}, headers=admin)
    assert r.status_code == 422 and r.json()["code"] == "expert_reason_required"
    r = await client.post(f"/api/experts/{expert_id}/suspend", json={"reason": "年度考核不合格"}, headers=admin)
    assert r.json()["status"] == "suspended"


async def test_bad_input_is_a_problem_not_a_500(client, factory, experts):
    user = await experts.user()
    headers = await _headers(factory, user)
    body = _json(application())
    body["unexpected"] = 1
    r = await client.post("/api/experts/apply", json=body, headers=headers)
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    body = _json(application())
    body["id_number"] = "123"
    r = await client.post("/api/experts/apply", json=body, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "expert_application_invalid"
    assert r.json()["field"] == "id_number"


async def test_draw_with_an_evaluation_time_beyond_the_horizon_is_refused_not_a_500(client, factory):
    # Year 9999 in UTC cannot be shown in Asia/Shanghai: this answered 500 (OverflowError in to_shanghai).
    lot = await factory.published_lot()
    r = await client.post("/api/expert-draws", headers=lot["agency_headers"], json={
        "lot_id": str(lot["lot_id"]), "size": 5, "quotas": [{"specialty": "A0103", "count": 5}],
        "evaluation_at": "9999-12-31T23:59:59+00:00", "alternates": 1})
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "draw_request_invalid", "evaluation_at")


async def test_specialties_are_public_and_two_level(client):
    items = (await client.get("/api/experts/specialties")).json()
    codes = {s["code"]: s for s in items}
    assert codes["A01"]["level"] == 1 and codes["A0101"]["parent"] == "A01"
    assert codes["A0901"]["kind"] == "economic" and codes["A0101"]["name"] == "建筑设计"
    assert {s["code"][0] for s in items} == {"A", "B", "C"}


async def test_committee_names_stay_secret_until_evaluation(client, factory, experts, pool, clock):
    team = await experts.pool_of(7)
    names = [e.full_name for _, e in team]
    ids = [str(e.id) for _, e in team]
    lot = await factory.published_lot()
    _, insider = await experts.approved(employer_code=lot["tenderer_org"].credit_code)
    names.append(insider.full_name)
    ids.append(str(insider.id))
    agency = lot["agency_headers"]
    _, regulator = await factory.signed_in(Role.REGULATOR)
    evaluation_at = (clock.now() + timedelta(days=30)).isoformat()
    r = await client.post("/api/expert-draws", headers=agency, json={
        "lot_id": str(lot["lot_id"]), "size": 5, "quotas": [{"specialty": "A0103", "count": 5}],
        "evaluation_at": evaluation_at, "alternates": 1})
    assert r.status_code == 201, r.text
    draw_id = r.json()["id"]
    assert r.json()["server_secret"] is None
    r = await client.post(f"/api/expert-draws/{draw_id}/contribute", headers=agency,
                          json={"agency_value": "页面生成的随机数-0123456789"})
    assert r.status_code == 200, r.text

    def leaks(text: str) -> list[str]:
        return [x for x in names + ids if x in text]

    # the agency: counts and progress only, over the API and the page
    r = await client.get(f"/api/expert-draws/{draw_id}", headers=agency)
    view = r.json()
    assert view["names_visible"] is False and view["members"] == []
    assert view["quotas"][0]["invited"] == 5 and view["confirmed"] == 0
    assert leaks(r.text) == []
    r = await client.get(f"/api/expert-draws/lot/{lot['lot_id']}", headers=agency)
    assert r.status_code == 200 and leaks(r.text) == []
    page = await client.get(f"/expert-draws/{draw_id}", headers=agency)
    assert page.status_code == 200 and "draw-names-hidden" in page.text and leaks(page.text) == []
    r = await client.get(f"/api/expert-draws/{draw_id}/record", headers=agency)
    assert r.status_code == 403
    # another agency sees nothing at all
    other_org = await factory.org("agency")
    _, other = await factory.signed_in(Role.AGENCY, org_id=other_org.id)
    assert (await client.get(f"/api/expert-draws/{draw_id}", headers=other)).status_code == 403
    # the regulator sees names, and DRAW.json replays
    r = await client.get(f"/api/expert-draws/{draw_id}", headers=regulator)
    members = r.json()["members"]
    assert len(members) == 5 and all(m["name"] in names for m in members)
    page = await client.get(f"/expert-draws/{draw_id}", headers=regulator)
    assert all(m["name"] in page.text for m in members) and "draw-record" in page.text
    assert insider.full_name in page.text and "招标人员工" in page.text     # exclusions with reasons
    assert view["exclusions"] == {"employee_tenderer": 1}                # the agency: a count
    listed = (await client.get("/api/expert-draws", headers=regulator)).json()
    assert [d["id"] for d in listed] == [draw_id] and listed[0]["needed"] == 5
    assert (await client.get("/api/expert-draws", headers=agency)).status_code == 403
    page = await client.get("/expert-draws?lang=en", headers=regulator)
    assert page.status_code == 200 and f"/expert-draws/{draw_id}" in page.text
    r = await client.get(f"/api/expert-draws/{draw_id}/record", headers=regulator)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert protocol.replay(r.json()).ok
    # each expert sees their own invitation, and no one else's
    drawn_ids = {m["expert_id"] for m in members}
    drawn = [(u, e) for u, e in team if str(e.id) in drawn_ids]
    not_drawn = [(u, e) for u, e in team if str(e.id) not in drawn_ids]
    mine = await _headers(factory, drawn[0][0])
    invitations = (await client.get("/api/expert-invitations", headers=mine)).json()
    assert len(invitations) == 1 and invitations[0]["status"] == "invited"
    inbox = await client.get("/experts/inbox", headers=mine)
    assert invitations[0]["member_id"] in inbox.text and leaks(inbox.text) == []
    outsider = await _headers(factory, not_drawn[0][0])
    assert (await client.get("/api/expert-invitations", headers=outsider)).json() == []
    r = await client.post(f"/api/expert-invitations/{invitations[0]['member_id']}/confirm", headers=outsider)
    assert r.status_code == 404
    r = await client.post(f"/api/expert-invitations/{invitations[0]['member_id']}/confirm", headers=mine)
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    view = (await client.get(f"/api/expert-draws/{draw_id}", headers=agency)).json()
    assert view["confirmed"] == 1 and leaks(str(view)) == []
    # evaluation starts: the agency may now see the committee
    async with pool.acquire() as c:
        await c.execute("UPDATE lots SET status = 'evaluation' WHERE id = $1", lot["lot_id"])
    view = (await client.get(f"/api/expert-draws/{draw_id}", headers=agency)).json()
    assert view["names_visible"] is True and {m["name"] for m in view["members"]} <= set(names)
    page = await client.get(f"/expert-draws/{draw_id}", headers=agency)
    assert drawn[0][1].full_name in page.text


async def test_decline_over_http_invites_the_alternate(client, factory, experts, clock):
    team = await experts.pool_of(6)
    lot = await factory.published_lot()
    agency = lot["agency_headers"]
    r = await client.post("/api/expert-draws", headers=agency, json={
        "lot_id": str(lot["lot_id"]), "size": 5, "quotas": [{"specialty": "A0103", "count": 5}],
        "evaluation_at": (clock.now() + timedelta(days=30)).isoformat(), "alternates": 1})
    draw_id = r.json()["id"]
    await client.post(f"/api/expert-draws/{draw_id}/contribute", headers=agency, json={"agency_value": "x" * 16})
    invited = []
    for user, _ in team:
        h = await _headers(factory, user)
        inv = (await client.get("/api/expert-invitations", headers=h)).json()
        if inv:
            invited.append((h, inv[0]))
    assert len(invited) == 5
    h, inv = invited[0]
    r = await client.post(f"/api/expert-invitations/{inv['member_id']}/decline", headers=h,
                          json={"reason": "", "conflict": False})
    assert r.status_code == 422
    r = await client.post(f"/api/expert-invitations/{inv['member_id']}/decline", headers=h,
                          json={"reason": "当日出差", "conflict": False})
    assert r.status_code == 200 and r.json()["status"] == "declined"
    view = (await client.get(f"/api/expert-draws/{draw_id}", headers=agency)).json()
    assert view["quotas"][0]["declined"] == 1 and view["quotas"][0]["invited"] == 5
    assert view["quotas"][0]["alternates_left"] == 0


async def test_inbox_page_shows_invitations_and_withdrawals(client, factory, experts, pool, clock):
    from expert_pool import services
    from expert_pool.notify import CollectingSender
    from tests.expert_pool.conftest import draw_request
    from trading.events import emit, load_subscriptions

    load_subscriptions()
    team = await experts.pool_of(5)
    lot = await factory.published_lot()
    async with pool.acquire() as c, c.transaction():
        view = await services.request_draw(c, clock, lot["agency_user"],
                                           draw_request(lot["lot_id"], clock, alternates=0))
        await services.contribute(c, clock, lot["agency_user"], view.id, "agency-random-value")
        await services.sweep(c, clock, sender=CollectingSender())
        await emit(c, clock, "lot.failed", {"lot_id": lot["lot_id"], "tender_id": lot["tender_id"],
                                            "reason": "投标人不足三家"})
        await services.sweep(c, clock, sender=CollectingSender())
    headers = await _headers(factory, team[0][0])
    page = await client.get("/experts/inbox?lang=zh", headers=headers)
    assert page.status_code == 200
    assert "评标邀请" in page.text and "邀请已撤销" in page.text and "投标人不足三家" in page.text
    assert (await client.get("/api/expert-invitations", headers=headers)).json()[0]["status"] == "withdrawn"


async def test_hostile_draw_input_is_refused_with_problems(client, factory, experts, clock):
    lot = await factory.published_lot()
    agency = lot["agency_headers"]
    base = {"lot_id": str(lot["lot_id"]), "size": 5, "quotas": [{"specialty": "A0103", "count": 5}],
            "evaluation_at": (clock.now() + timedelta(days=30)).isoformat(), "alternates": 0}
    naive = {**base, "evaluation_at": (clock.now() + timedelta(days=30)).replace(tzinfo=None).isoformat()}
    r = await client.post("/api/expert-draws", headers=agency, json=naive)
    assert r.status_code == 400 and r.json()["code"] == "validation_error"
    huge = {**base, "size": 2**40, "quotas": [{"specialty": "A0103", "count": 2**40}]}
    r = await client.post("/api/expert-draws", headers=agency, json=huge)
    assert r.status_code == 422 and r.json()["code"] == "draw_request_invalid"
    r = await client.post("/api/expert-draws", headers=agency, json={**base, "lot_id": "not-a-uuid"})
    assert r.status_code == 400
    await experts.pool_of(5)
    draw_id = (await client.post("/api/expert-draws", headers=agency, json=base)).json()["id"]
    r = await client.post(f"/api/expert-draws/{draw_id}/contribute", headers=agency,
                          json={"agency_value": "abc\x00defghij"})
    assert r.status_code == 422 and r.json()["field"] == "agency_value"
    user = await experts.user()
    body = _json(application())
    body["full_name"] = "张\x00三"
    r = await client.post("/api/experts/apply", json=body, headers=await _headers(factory, user))
    assert r.status_code == 422 and r.json()["field"] == "full_name"


async def test_a_standing_conflict_is_declared_once(client, factory, experts, pool):
    user, expert = await experts.approved()
    headers = await _headers(factory, user)
    org = await factory.org("bidder")
    body = {"credit_code": org.credit_code, "reason": "配偶任该公司法定代表人"}
    r = await client.post("/api/experts/me/conflicts", json=body, headers=headers)
    assert r.status_code == 201, r.text
    # the same organisation again (a double click, a second form) is refused, not stored twice
    r = await client.post("/api/experts/me/conflicts", json={**body, "reason": "再次申报"}, headers=headers)
    assert r.status_code == 409 and r.json()["code"] == "conflict_already_declared", r.text
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM expert_conflicts WHERE expert_id = $1", expert.id) == 1
        assert await c.fetchval("SELECT count(*) FROM log_entries WHERE tag = 'expert:conflict:declare'") == 1
    # another organisation is a conflict of its own
    other = await factory.org("bidder")
    r = await client.post("/api/experts/me/conflicts", json={**body, "credit_code": other.credit_code},
                          headers=headers)
    assert r.status_code == 201, r.text
