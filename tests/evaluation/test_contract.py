"""The contract after the award (招标投标法 第四十六条; 条例 第五十七条、第五十八条): each rule with its refusal, the
"contract.signed" event in the same transaction, and the 30-day watch."""
from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import msgspec
import pytest

from evaluation import errors, services
from evaluation.schemas import AwardIn, ContractIn
from tests.evaluation.test_award import published
from tests.evaluation.test_services import tx
from trading import events
from trading.accounts.schemas import Role
from trading.money import fen_to_yuan


async def awarded(make_lot, pool, clock, settings):
    lot, _ = await published(make_lot, pool, clock, settings)
    clock.advance(days=3, seconds=1)
    out = await tx(pool, services.issue_award, clock, lot["lot_id"], AwardIn(), actor=lot["agency_user"],
                   settings=settings, src=lot["roster"])
    i = [str(b) for b in lot["bid_ids"]].index(out["winner_bid_id"])
    prices = (100_000_000, 80_000_000, 125_000_000, 90_000_000)
    return lot, out, prices[i]


async def _record(pool, clock, lot, **kw):
    return await tx(pool, services.record_contract, clock, lot["lot_id"], ContractIn(**kw), actor=lot["agency_user"],
                    src=lot["roster"])


async def _entries(pool, tag):
    async with pool.acquire() as c:
        return [msgspec.json.decode(bytes(r["entry"])) for r in
                await c.fetch("SELECT entry FROM log_entries WHERE tag = $1 ORDER BY seq", tag)]


@pytest.fixture
def signed_calls():
    calls = []

    async def on_signed(conn, clock, payload):
        calls.append({**payload, "in_tx": conn.is_in_transaction()})

    events.subscribe("contract.signed", on_signed)
    yield calls
    events._HANDLERS["contract.signed"].remove(on_signed)


async def test_contract_on_the_winning_terms_is_recorded_and_releases_the_winner(make_lot, pool, clock, settings,
                                                                                 signed_calls):
    lot, out, price = await awarded(make_lot, pool, clock, settings)
    notice_at = clock.now()
    clock.advance(days=10)
    signed = clock.now() - timedelta(hours=2)
    bond = fen_to_yuan(price // 10)  # exactly 10 %: allowed
    c = await _record(pool, clock, lot, signed_at=signed, price_yuan=fen_to_yuan(price), performance_bond_yuan=bond)
    assert c.price_fen == price and c.performance_bond_fen == price // 10 and not c.late
    assert c.due_at == services.contract_due(notice_at)
    [call] = signed_calls
    assert call["in_tx"] and call["lot_id"] == lot["lot_id"] and str(call["winner_org_id"]) == out["winner_org_id"]
    [entry] = await _entries(pool, "award:contract:sign")
    assert entry["body"]["price_fen"] == price and entry["body"]["late"] is False
    with pytest.raises(errors.ContractAlreadyRecorded):
        await _record(pool, clock, lot, signed_at=signed, price_yuan=fen_to_yuan(price))


async def test_contract_refusals(make_lot, pool, clock, settings, factory, signed_calls):
    lot, out, price = await awarded(make_lot, pool, clock, settings)
    notice_at = clock.now()
    clock.advance(days=1)
    ok = {"signed_at": clock.now() - timedelta(minutes=5), "price_yuan": fen_to_yuan(price)}
    with pytest.raises(errors.ContractTermsMismatch):          # not the winning price
        await _record(pool, clock, lot, **{**ok, "price_yuan": fen_to_yuan(price - 100)})
    with pytest.raises(errors.PerformanceBondTooHigh):         # more than 10 % (条例 第五十八条)
        await _record(pool, clock, lot, **ok, performance_bond_yuan=fen_to_yuan(price // 10 + 1))
    with pytest.raises(errors.ContractInvalid):                # before the award notice
        await _record(pool, clock, lot, **{**ok, "signed_at": notice_at - timedelta(seconds=1)})
    with pytest.raises(errors.ContractInvalid):                # in the future
        await _record(pool, clock, lot, **{**ok, "signed_at": clock.now() + timedelta(minutes=1)})
    other = await factory.org("agency")
    stranger, _ = await factory.signed_in(Role.AGENCY, org_id=other.id)
    with pytest.raises(errors.AgencyRequired):
        await tx(pool, services.record_contract, clock, lot["lot_id"], ContractIn(**ok), actor=stranger,
                 src=lot["roster"])
    assert signed_calls == [] and await _entries(pool, "award:contract:sign") == []


async def test_contract_refused_before_the_award(make_lot, pool, clock, settings):
    lot, _ = await published(make_lot, pool, clock, settings)
    with pytest.raises(errors.AwardNotIssued):
        await _record(pool, clock, lot, signed_at=clock.now(), price_yuan="800000.00")


async def test_missing_contract_is_logged_once_after_thirty_days_and_a_late_one_is_marked(
        make_lot, pool, clock, settings, client, factory):
    lot, out, price = await awarded(make_lot, pool, clock, settings)
    due = services.contract_due(clock.now())
    clock.set(due - timedelta(seconds=1))
    assert (await tx(pool, services.flag_overdue_duties, clock))["contract"] == 0
    _, regulator = await factory.signed_in(Role.REGULATOR)
    assert (await client.get("/api/regulator/overdue-contracts", headers=regulator)).json() == []
    clock.set(due)
    _, regulator = await factory.signed_in(Role.REGULATOR)
    assert (await tx(pool, services.flag_overdue_duties, clock))["contract"] == 1
    assert (await tx(pool, services.flag_overdue_duties, clock))["contract"] == 0
    [entry] = await _entries(pool, "award:contract:overdue")
    assert entry["body"]["lot"] == str(lot["lot_id"])
    r = await client.get("/api/regulator/overdue-contracts", headers=regulator)
    assert r.status_code == 200 and [UUID(x["lot_id"]) for x in r.json()] == [lot["lot_id"]]
    c = await _record(pool, clock, lot, signed_at=clock.now(), price_yuan=fen_to_yuan(price))
    assert c.late
    assert (await client.get("/api/regulator/overdue-contracts", headers=regulator)).json() == []


async def test_contract_over_http_and_who_reads_it(make_lot, pool, clock, settings, client, factory):
    lot, out, price = await awarded(make_lot, pool, clock, settings)
    agency = {"Authorization": f"Bearer {await factory.token(lot['agency_user'])}"}
    r = await client.post(f"/api/lots/{lot['lot_id']}/contract", headers=agency,
                          json={"signed_at": clock.now().isoformat(), "price_yuan": fen_to_yuan(price),
                                "performance_bond_yuan": "1.5e3"})
    assert r.status_code == 422, r.text
    r = await client.post(f"/api/lots/{lot['lot_id']}/contract", headers=agency,
                          json={"signed_at": clock.now().isoformat(), "price_yuan": fen_to_yuan(price)})
    assert r.status_code == 201, r.text
    winner = next(u for (o, (u, _)) in lot["bidders"] if str(o.id) == out["winner_org_id"])
    loser = next(u for (o, (u, _)) in lot["bidders"] if str(o.id) != out["winner_org_id"])
    for user, status in ((winner, 200), (loser, 403)):
        h = {"Authorization": f"Bearer {await factory.token(user)}"}
        assert (await client.get(f"/api/lots/{lot['lot_id']}/contract", headers=h)).status_code == status


async def test_result_with_the_committee_names_is_public_only_once_awarded(make_lot, pool, clock, settings, client):
    """法 第三十七条: names secret until the result; 87号令 第六十九条: published with the result."""
    from tests.evaluation.test_award import published

    lot, _ = await published(make_lot, pool, clock, settings)
    names = [p["member"].name for p in lot["experts"]]
    r = await client.get(f"/results/{lot['lot_id']}")
    assert r.status_code == 409 and not any(n in r.text for n in names)
    assert (await client.get(f"/api/lots/{lot['lot_id']}/award/result")).status_code == 409
    clock.advance(days=3, seconds=1)
    out = await tx(pool, services.issue_award, clock, lot["lot_id"], AwardIn(), actor=lot["agency_user"],
                   settings=settings, src=lot["roster"])
    r = await client.get(f"/results/{lot['lot_id']}")
    assert r.status_code == 200 and all(n in r.text for n in names)
    body = (await client.get(f"/api/lots/{lot['lot_id']}/award/result")).json()
    assert sorted(body["committee"]) == sorted(names) and body["winner"]
    assert out["winner_org_id"]
