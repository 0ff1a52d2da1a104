"""The evaluation time (招标投标法实施条例 第四十八条第二款): scoring stops at the limit the agency set unless more than
a third of the members say the time is not enough — then the limit does not bind until the agency extends it,
and an extension is only ever later."""
from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from evaluation import errors, services
from evaluation.schemas import TimeLimitIn, TimeRequestIn
from tests.evaluation.test_services import declare_all, full_sheet, tx


async def _save(pool, clock, lot, person):
    return await tx(pool, services.save_sheet, clock, lot["lot_id"], full_sheet(lot["bid_ids"]), user=person["user"],
                    src=lot["roster"])


async def _ask(pool, clock, lot, person, reason="投标文件篇幅大，时间不够"):
    return await tx(pool, services.request_more_time, clock, lot["lot_id"], TimeRequestIn(reason=reason),
                    user=person["user"])


async def _set(pool, clock, lot, until):
    return await tx(pool, services.set_time_limit, clock, lot["lot_id"], TimeLimitIn(until=until, reason="安排"),
                    actor=lot["agency_user"])


async def _entries(pool, tag):
    async with pool.acquire() as c:
        return [msgspec.json.decode(bytes(r["entry"])) for r in
                await c.fetch("SELECT entry FROM log_entries WHERE tag = $1 ORDER BY seq", tag)]


async def test_scoring_stops_at_the_limit_until_more_than_a_third_ask_and_the_agency_extends(make_lot, pool, clock):
    lot = await make_lot()
    experts = lot["experts"]  # five: more than a third is two
    await declare_all(pool, clock, lot)
    limit = clock.now() + timedelta(hours=3)
    status = await _set(pool, clock, lot, limit)
    assert status.time_limit == limit and status.needed == 2 and status.open
    await _save(pool, clock, lot, experts[0])  # within the time

    clock.set(limit)
    with pytest.raises(errors.EvaluationTimeOver):
        await _save(pool, clock, lot, experts[0])
    with pytest.raises(errors.EvaluationTimeOver):
        await tx(pool, services.submit_sheet, clock, lot["lot_id"], user=experts[0]["user"], src=lot["roster"])

    status = await _ask(pool, clock, lot, experts[1])
    assert status.requests == 1 and not status.extension_due and not status.open
    with pytest.raises(errors.TimeAlreadyRequested):
        await _ask(pool, clock, lot, experts[1])
    with pytest.raises(errors.EvaluationTimeOver):  # one of five is not more than a third
        await _save(pool, clock, lot, experts[0])

    status = await _ask(pool, clock, lot, experts[2])
    assert status.requests == 2 and status.extension_due and status.open
    await _save(pool, clock, lot, experts[0])  # the limit no longer binds: the agency owes an extension

    with pytest.raises(errors.TimeLimitInvalid):  # never shortened, never in the past
        await _set(pool, clock, lot, limit - timedelta(minutes=1))
    with pytest.raises(errors.TimeLimitInvalid):
        await _set(pool, clock, lot, clock.now() - timedelta(seconds=1))
    status = await _set(pool, clock, lot, clock.now() + timedelta(hours=2))
    assert status.requests == 0 and not status.extension_due and status.open  # a new round of requests
    [first, second] = await _entries(pool, "evaluation:time:set")
    assert second["body"]["previous"] == limit.isoformat() and second["body"]["extension_due"] is True
    assert len(await _entries(pool, "evaluation:time:request")) == 2

    clock.advance(hours=2)
    with pytest.raises(errors.EvaluationTimeOver):
        await _save(pool, clock, lot, experts[0])
    await _ask(pool, clock, lot, experts[1])  # may ask again in the new round


async def test_only_members_ask_and_only_the_agency_sets(make_lot, pool, clock, factory):
    from trading.accounts.schemas import Role

    lot = await make_lot()
    with pytest.raises(errors.NoTimeLimit):
        await _ask(pool, clock, lot, lot["experts"][0])
    other, _ = await factory.signed_in(Role.EXPERT)
    await _set(pool, clock, lot, clock.now() + timedelta(hours=1))
    with pytest.raises(errors.MemberRequired):
        await _ask(pool, clock, lot, {"user": other})
    with pytest.raises(errors.ReasonRequired):
        await _ask(pool, clock, lot, lot["experts"][0], reason="  ")
    stranger, _ = await factory.signed_in(Role.AGENCY, org_id=(await factory.org("agency")).id)
    with pytest.raises(errors.AgencyRequired):
        await tx(pool, services.set_time_limit, clock, lot["lot_id"],
                 TimeLimitIn(until=clock.now() + timedelta(hours=5)), actor=stranger)


async def test_time_over_http(make_lot, pool, clock, client, factory):
    lot = await make_lot()
    await declare_all(pool, clock, lot)
    until = (clock.now() + timedelta(hours=1)).isoformat()
    r = await client.put(f"/api/lots/{lot['lot_id']}/evaluation/time-limit", headers=lot["agency_headers"],
                         json={"until": until})
    assert r.status_code == 200, r.text
    r = await client.put(f"/api/lots/{lot['lot_id']}/evaluation/time-limit", headers=lot["agency_headers"],
                         json={"until": "2020-01-01T00:00:00+08:00"})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "time_limit_invalid"
    # a limit at the end of time: refused (it could never be corrected, only extended, and the members' desk could
    # not show it), and the desk still opens
    r = await client.put(f"/api/lots/{lot['lot_id']}/evaluation/time-limit", headers=lot["agency_headers"],
                         json={"until": "9999-12-31T23:59:59+00:00", "reason": "r"})
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, "time_limit_invalid", "until")
    member = lot["experts"][0]["user"]
    r = await client.get(f"/evaluation/lots/{lot['lot_id']}/desk",
                         headers={"Authorization": f"Bearer {await factory.token(member)}"})
    assert r.status_code == 200, r.text
    clock.advance(hours=1)
    expert = lot["experts"][0]
    headers = {"Authorization": f"Bearer {await factory.token(expert['user'])}"}
    r = await client.get(f"/api/lots/{lot['lot_id']}/evaluation/time", headers=headers)
    assert r.status_code == 200 and r.json()["open"] is False
    r = await client.post(f"/api/lots/{lot['lot_id']}/evaluation/time-requests", headers=headers,
                          json={"reason": "时间不够"})
    assert r.status_code == 200, r.text
    assert r.json()["requests"] == 1 and r.json()["extension_due"] is False
