"""The lot state machine: every legal move, illegal moves refused with 409 and a reason, events, suspension."""
from __future__ import annotations

from datetime import timedelta

import pytest

from trading import events
from trading.errors import DomainError
from trading.tenders import repository as repo
from trading.tenders.lifecycle import LOT_TRANSITIONS, effective_lot_status, transition_lot


async def _move(pool, clock, lot_id, to, reason=None):
    async with pool.acquire() as c, c.transaction():
        await transition_lot(c, clock, lot_id, to, actor="test", reason=reason)


async def _status(pool, lot_id):
    async with pool.acquire() as c:
        return (await repo.get_lot(c, lot_id)).status


async def _refused(pool, clock, lot_id, to, reason=None) -> DomainError:
    with pytest.raises(DomainError) as info:
        await _move(pool, clock, lot_id, to, reason)
    assert info.value.status == 409 or info.value.status == 422
    return info.value


def test_effective_status_closes_at_the_deadline_instant():
    from datetime import datetime, timezone

    deadline = datetime(2026, 3, 27, 1, 0, tzinfo=timezone.utc)
    assert effective_lot_status("published", deadline, deadline - timedelta(microseconds=1)) == "published"
    assert effective_lot_status("published", deadline, deadline) == "closed"
    assert effective_lot_status("opening", deadline, deadline) == "opening"


async def test_lot_runs_the_whole_lifecycle(factory, pool, clock):
    p = await factory.published_lot()
    lot_id = p["lot_id"]
    clock.set(p["deadline"])
    for to in ("closed", "opening", "evaluation", "publicity", "evaluation", "publicity", "awarded"):
        await _move(pool, clock, lot_id, to)
        assert await _status(pool, lot_id) == to
    async with pool.acquire() as c:
        tags = [r["tag"] for r in await c.fetch("SELECT tag FROM log_entries WHERE lot_id = $1 ORDER BY seq", lot_id)]
    assert tags[-7:] == ["tender:lot:close"] + ["tender:lot:transition"] * 6


async def test_close_before_the_deadline_is_refused(factory, pool, clock):
    p = await factory.published_lot()
    err = await _refused(pool, clock, p["lot_id"], "closed")
    assert err.code == "illegal_transition"
    assert "deadline" in err.message


async def test_opening_directly_at_the_deadline_records_the_close_first(factory, pool, clock):
    p = await factory.published_lot()
    clock.set(p["deadline"])
    await _move(pool, clock, p["lot_id"], "opening")
    async with pool.acquire() as c:
        tags = [r["tag"] for r in await c.fetch("SELECT tag FROM log_entries WHERE lot_id = $1 ORDER BY seq",
                                                p["lot_id"])]
    assert tags[-2:] == ["tender:lot:close", "tender:lot:transition"]


async def test_opening_before_the_deadline_is_refused(factory, pool, clock):
    p = await factory.published_lot()
    err = await _refused(pool, clock, p["lot_id"], "opening")
    assert err.code == "illegal_transition"


@pytest.mark.parametrize("path,bad", [
    (("closed",), "awarded"),
    (("closed",), "evaluation"),
    (("closed", "opening"), "publicity"),
    (("closed", "opening", "evaluation"), "awarded"),
    (("closed", "opening", "evaluation", "publicity", "awarded"), "cancelled"),
    (("closed", "opening", "evaluation", "publicity", "awarded"), "failed"),
    (("closed",), "published"),
    (("closed",), "no-such-status"),
])
async def test_illegal_moves_are_refused_with_a_reason(factory, pool, clock, path, bad):
    p = await factory.published_lot()
    clock.set(p["deadline"])
    for to in path:
        await _move(pool, clock, p["lot_id"], to)
    err = await _refused(pool, clock, p["lot_id"], bad, reason="x")
    assert err.code == "illegal_transition"
    assert "→" in err.message
    assert await _status(pool, p["lot_id"]) == path[-1]


@pytest.mark.parametrize("path,to", [
    (("closed", "opening", "evaluation"), "failed"),          # not awarded: the ordinary failure, not a re-tender
    (("closed", "opening", "evaluation", "publicity", "awarded"), "cancelled"),
])
async def test_retender_flag_moves_only_awarded_to_failed(factory, pool, clock, path, to):
    from trading.tenders.lifecycle import transition_lot

    p = await factory.published_lot()
    clock.set(p["deadline"])
    for step in path:
        await _move(pool, clock, p["lot_id"], step)
    with pytest.raises(DomainError) as info:
        async with pool.acquire() as c, c.transaction():
            await transition_lot(c, clock, p["lot_id"], to, actor=None, reason="重新招标", retender=True)
    assert info.value.code == "illegal_transition"
    assert await _status(pool, p["lot_id"]) == path[-1]


async def test_failed_needs_a_reason_and_emits_lot_failed(factory, pool, clock):
    p = await factory.published_lot()
    clock.set(p["deadline"])
    seen = []

    async def on_failed(conn, clk, payload):
        seen.append(payload)

    events.subscribe("lot.failed", on_failed)
    try:
        err = await _refused(pool, clock, p["lot_id"], "failed")
        assert err.code == "reason_required"
        await _move(pool, clock, p["lot_id"], "failed", reason="投标人少于3个")
    finally:
        events._HANDLERS["lot.failed"].remove(on_failed)
    assert seen == [{"lot_id": p["lot_id"], "tender_id": p["tender_id"], "reason": "投标人少于3个"}]
    assert await _status(pool, p["lot_id"]) == "failed"
    err = await _refused(pool, clock, p["lot_id"], "opening")
    assert "final" in err.message


async def test_failed_allowed_from_opening_and_evaluation(factory, pool, clock):
    for path in (("closed", "opening"), ("closed", "opening", "evaluation")):
        p = await factory.published_lot()
        clock.set(p["deadline"])
        for to in path:
            await _move(pool, clock, p["lot_id"], to)
        await _move(pool, clock, p["lot_id"], "failed", reason="所有投标均被否决")
        assert await _status(pool, p["lot_id"]) == "failed"


async def test_transitions_are_refused_while_suspended(client, factory, pool, clock):
    p = await factory.published_lot()
    org, user, headers = await factory.downloader(p["lot_id"])
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers,
                          json={"content": "评分标准中“企业业绩”分值设置明显倾向特定投标人"})
    assert r.status_code == 201, r.text
    clock.set(p["deadline"])
    for to in ("closed", "opening"):
        err = await _refused(pool, clock, p["lot_id"], to)
        assert err.code == "tender_suspended"
    assert await _status(pool, p["lot_id"]) == "published"


def test_cancel_is_legal_from_every_open_state_and_no_final_state():
    for state, targets in LOT_TRANSITIONS.items():
        assert ("cancelled" in targets) == (state not in ("awarded", "failed", "cancelled"))


async def test_cancel_tender_over_http_cancels_its_lots_and_emits_once(client, factory, pool, clock):
    p = await factory.published_lot()
    seen = []

    async def on_cancel(conn, clk, payload):
        seen.append(payload)

    events.subscribe("tender.cancelled", on_cancel)
    try:
        r = await client.post(f"/api/tenders/{p['tender_id']}/cancel", headers=p["agency_headers"],
                              json={"reason": "  "})
        assert r.status_code == 422
        assert r.json()["code"] == "reason_required"
        r = await client.post(f"/api/tenders/{p['tender_id']}/cancel", headers=p["agency_headers"],
                              json={"reason": "项目资金未落实，终止招标"})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
        assert r.json()["lots"][0]["status"] == "cancelled"
        assert r.json()["history"][-1]["kind"] == "cancel"
        r = await client.post(f"/api/tenders/{p['tender_id']}/cancel", headers=p["agency_headers"],
                              json={"reason": "再次终止"})
        assert r.status_code == 409
        assert r.json()["code"] == "illegal_transition"
    finally:
        events._HANDLERS["tender.cancelled"].remove(on_cancel)
    assert len(seen) == 1
    assert seen[0]["lot_ids"] == [p["lot_id"]]


async def test_cancel_lot_over_http_after_award_is_refused(client, factory, pool, clock):
    p = await factory.published_lot()
    clock.set(p["deadline"])
    for to in ("closed", "opening", "evaluation", "publicity", "awarded"):
        await _move(pool, clock, p["lot_id"], to)
    headers = {"Authorization": f"Bearer {await factory.token(p['agency_user'])}"}
    r = await client.post(f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/cancel", headers=headers,
                          json={"reason": "试图终止"})
    assert r.status_code == 409
    assert r.json()["code"] == "illegal_transition"
    assert "awarded" in r.json()["detail"]


async def test_cancel_lot_over_http_during_evaluation(client, factory, pool, clock):
    p = await factory.published_lot()
    clock.set(p["deadline"])
    for to in ("closed", "opening", "evaluation"):
        await _move(pool, clock, p["lot_id"], to)
    headers = {"Authorization": f"Bearer {await factory.token(p['agency_user'])}"}
    r = await client.post(f"/api/tenders/{p['tender_id']}/lots/{p['lot_id']}/cancel", headers=headers,
                          json={"reason": "招标人依法终止"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert r.json()["status_reason"] == "招标人依法终止"


async def test_suspended_tender_can_still_be_cancelled_after_its_deadline(client, factory, pool, clock):
    p = await factory.published_lot()
    _, _, headers = await factory.downloader(p["lot_id"])
    r = await client.post(f"/api/tenders/{p['tender_id']}/objections", headers=headers, json={"content": "异议内容"})
    assert r.status_code == 201
    clock.set(p["deadline"])
    token = await factory.token(p["agency_user"])
    r = await client.post(f"/api/tenders/{p['tender_id']}/cancel", headers={"Authorization": f"Bearer {token}"},
                          json={"reason": "异议成立，招标文件存在重大缺陷，终止招标"})
    assert r.status_code == 200, r.text
    assert await _status(pool, p["lot_id"]) == "cancelled"


async def test_lot_cancelled_in_draft_is_not_published_with_the_others(client, clock, factory, pool, agency):
    t = await agency.create(client, clock, lots=[
        {"name": "一标段", "estimated_price": "1000000.00"}, {"name": "二标段", "estimated_price": "500000.00"}])
    await agency.ready(client, clock, t, factory, pool)
    second = t["lots"][1]["id"]
    r = await client.post(f"/api/tenders/{t['id']}/lots/{second}/cancel", headers=agency.headers,
                          json={"reason": "二标段暂缓实施"})
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/tenders/{t['id']}/publish", headers=agency.headers)
    assert r.status_code == 200, r.text
    assert [lot["status"] for lot in r.json()["lots"]] == ["published", "cancelled"]
