from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from lxml import etree

from deposits import refunds
from deposits.errors import DepositRetained, RetentionNotAllowed
from trading.events import emit

NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


def test_interest_splits_at_rate_changes_and_rounds_once():
    rates = [{"effective_from": date(2026, 1, 1), "annual_rate": Decimal("0.0035"), "day_count": 360},
             {"effective_from": date(2026, 3, 11), "annual_rate": Decimal("0.0010"), "day_count": 360}]
    fen, basis = refunds.interest(1_000_000, date(2026, 3, 1), date(2026, 3, 21), rates)
    # 9 days at 0.35 % + 11 days at 0.10 %: 1e6 × (0.0035×9 + 0.001×11) / 360 = 118.06 fen → 118
    assert fen == 118 and [b["days"] for b in basis] == [9, 11]


def test_interest_zero_when_no_days():
    assert refunds.interest(1_000_000, date(2026, 3, 1), date(2026, 3, 1), []) == (0, [])


async def _paid(scenario, n=1):
    bidders = [await scenario.bidder() for _ in range(n)]
    for i, b in enumerate(bidders):
        await scenario.pay(b, payer=f"62220202000012345{i:02d}")
    await scenario.match()
    return bidders


async def _emit(pool, clock, event, payload):
    async with pool.acquire() as c, c.transaction():
        await emit(c, clock, event, payload)


async def _refunds(pool):
    async with pool.acquire() as c:
        return await c.fetch("SELECT * FROM deposit_refunds ORDER BY created_at, id")


async def test_refund_on_withdrawal_before_deadline_due_in_five_days_and_log_hides_lot(scenario, pool, clock):
    import deposits.subscriptions  # noqa: F401  (subscribes)

    (b,) = await _paid(scenario, 1)
    await _emit(pool, clock, "bid.withdrawn", {"lot_id": scenario.lot_id, "bidder_org_id": b["org"].id,
                                               "bid_id": "x"})
    (r,) = await _refunds(pool)
    assert r["reason"] == "withdrawn" and r["principal_fen"] == 1_000_000
    assert r["payee_account"] == "6222020200001234500"
    assert (r["due_at"].date() - clock.now().date()).days in (5, 6, 7, 8)   # 5 days, rolled off rest days
    async with pool.acquire() as c:
        entry = await c.fetchrow("SELECT tag, lot_id, entry FROM log_entries WHERE tag = 'deposit:refund:create'")
    assert entry["lot_id"] is None and str(scenario.lot_id).encode() not in entry["entry"]
    assert str(b["org"].id).encode() not in entry["entry"]


async def test_refund_on_failed_lot_covers_every_bidder(scenario, pool, clock):
    import deposits.subscriptions  # noqa: F401

    await _paid(scenario, 2)
    await _emit(pool, clock, "lot.failed", {"lot_id": scenario.lot_id, "tender_id": scenario.lot["tender_id"],
                                            "reason": "少于三家"})
    assert [r["reason"] for r in await _refunds(pool)] == ["lot_failed", "lot_failed"]


async def test_refund_on_cancelled_tender(scenario, pool, clock):
    import deposits.subscriptions  # noqa: F401

    await _paid(scenario, 1)
    await _emit(pool, clock, "tender.cancelled", {"tender_id": scenario.lot["tender_id"],
                                                  "lot_ids": [str(scenario.lot_id)], "reason": "终止"})
    assert [r["reason"] for r in await _refunds(pool)] == ["tender_cancelled"]


async def test_refund_on_award_losers_first_winner_after_contract(scenario, pool, clock):
    import deposits.subscriptions  # noqa: F401

    winner, loser = await _paid(scenario, 2)
    clock.set(scenario.deadline + timedelta(days=10))
    await _emit(pool, clock, "lot.awarded", {"lot_id": scenario.lot_id, "tender_id": scenario.lot["tender_id"],
                                             "winner_org_id": winner["org"].id, "notice_at": clock.now()})
    rows = await _refunds(pool)
    assert [r["reason"] for r in rows] == ["not_awarded"] and rows[0]["payee_account"].endswith("01")
    clock.advance(days=7)
    await _emit(pool, clock, "contract.signed", {"lot_id": scenario.lot_id, "winner_org_id": winner["org"].id,
                                                 "signed_at": clock.now().isoformat()})
    assert sorted(r["reason"] for r in await _refunds(pool)) == ["awarded", "not_awarded"]


async def test_refund_export_once_then_settled_by_the_bank_debit(scenario, pool, clock, admin):
    import deposits.subscriptions  # noqa: F401
    from deposits import ledger
    from tests.deposits.builders import camt, entry

    user, _ = admin
    async with pool.acquire() as c, c.transaction():
        await refunds.add_rate(c, clock, "demand_deposit", date(2015, 10, 24), "0.0035", "中国人民银行 活期存款基准利率")
    (b,) = await _paid(scenario, 1)
    clock.advance(days=30)
    await _emit(pool, clock, "lot.failed", {"lot_id": scenario.lot_id, "tender_id": scenario.lot["tender_id"],
                                            "reason": "流标"})
    async with pool.acquire() as c, c.transaction():
        export_id, document = await refunds.export(c, clock, scenario.bank, actor=user.id)
    async with pool.acquire() as c, c.transaction():
        assert await refunds.export(c, clock, scenario.bank, actor=user.id) is None   # never sent twice
    (r,) = await _refunds(pool)
    tree = etree.fromstring(document)
    assert tree.findtext(".//p:CdtTrfTxInf/p:PmtId/p:InstrId", namespaces=NS) == r["business_ref"]
    assert tree.findtext(".//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "6222020200001234500"
    assert r["status"] == "exported" and r["interest_fen"] > 0 and r["interest_basis"]["interest"]
    total = r["principal_fen"] + r["interest_fen"]
    assert tree.findtext(".//p:InstdAmt", namespaces=NS) == f"{total // 100}.{total % 100:02d}"
    # the debit on a later statement closes the refund
    debit = entry("DEB-1", f"{total // 100}.{total % 100:02d}", account=scenario.bank.main_account,
                  name=b["org"].name, payer="6222020200001234500", direction="DBIT", e2e=r["business_ref"],
                  when=clock.now().isoformat())
    res = await scenario.import_bytes(camt("camt.053.001.08", "BkToCstmrStmt", "Stmt", "S-R", [debit]))
    assert res.refunds_settled == 1
    (r,) = await _refunds(pool)
    assert r["status"] == "settled"
    async with pool.acquire() as c:
        bal = await c.fetch("SELECT account, sum(debit_fen - credit_fen) AS b FROM ledger_postings GROUP BY 1")
        balances = {x["account"]: x["b"] for x in bal}
        assert balances[f"deposit:{r['requirement_id']}"] == 0
        assert balances[f"clearing:{scenario.bank.code}:CNY"] == 0
        async with c.transaction():
            report = await ledger.check(c, clock)
    assert all(i["ok"] for i in report["identity"])


async def test_refund_late_under_gov_procurement_adds_loan_rate_plus_twenty_percent(pool, clock, factory, bank,
                                                                                   admin):
    import deposits.subscriptions  # noqa: F401
    from tests.deposits.conftest import Scenario

    user, _ = admin
    lot = await factory.published_lot(deposit_yuan="10000.00", regime="gov_procurement",
                                      procurement_type="goods")
    s = Scenario(pool, clock, factory, bank, lot)
    async with pool.acquire() as c, c.transaction():
        await refunds.add_rate(c, clock, "demand_deposit", date(2015, 10, 24), "0.0035", "PBoC")
        await refunds.add_rate(c, clock, "loan_base", date(2015, 10, 24), "0.0435", "PBoC 一年期贷款基准利率")
    winner, loser = await _paid(s, 2)
    clock.set(s.deadline + timedelta(days=3))
    await _emit(pool, clock, "lot.awarded", {"lot_id": s.lot_id, "tender_id": lot["tender_id"],
                                             "winner_org_id": winner["org"].id, "notice_at": clock.now()})
    (r,) = await _refunds(pool)
    clock.set(r["due_at"] + timedelta(days=10))
    async with pool.acquire() as c, c.transaction():
        await refunds.export(c, clock, bank, actor=user.id)
    (r,) = await _refunds(pool)
    assert r["late_charge_fen"] > 0
    assert r["interest_basis"]["late_charge"][0]["markup"] == "1.2"
    # 1e6 fen × 4.35 % × 1.2 × days / 360
    days = r["interest_basis"]["late_charge"][0]["days"]
    assert r["late_charge_fen"] == int((Decimal(1_000_000) * Decimal("0.0435") * Decimal("1.2") * days / 360)
                                       .quantize(Decimal(1), rounding="ROUND_HALF_UP"))


async def test_retention_needs_the_deadline_and_a_recorded_decision(scenario, pool, clock, admin):
    import deposits.subscriptions  # noqa: F401

    user, _ = admin
    (b,) = await _paid(scenario, 1)
    res = await scenario.result(b)
    async with pool.acquire() as c:
        with pytest.raises(RetentionNotAllowed):
            async with c.transaction():
                await refunds.retain(c, clock, res["requirement_id"], reason="开标后撤销投标", article="条例35",
                                     actor=user.id)
    clock.set(scenario.deadline + timedelta(hours=1))
    async with pool.acquire() as c, c.transaction():
        out = await refunds.retain(c, clock, res["requirement_id"], reason="投标截止后撤销投标文件",
                                   article="招标投标法实施条例 第三十五条第二款", actor=user.id)
    assert out["retained_fen"] == 1_000_000
    async with pool.acquire() as c:
        with pytest.raises(DepositRetained):
            async with c.transaction():
                await refunds.create_for_requirement(c, clock, res["requirement_id"], "lot_failed",
                                                     trigger_at=clock.now())
        row = await c.fetchrow("SELECT actor, reason FROM deposit_retentions")
    assert row["actor"] == user.id


async def test_winner_losing_the_award_keeps_or_gets_back_its_deposit_by_cause(scenario, pool, clock, admin):
    """招标投标法实施条例 第七十四条: a winner that gives up the award or provides no performance bond loses its deposit —
    the rescission is the recorded decision; any other cause (force majeure; government procurement, where no
    article says so) returns it. The lot failing afterwards does not return what was kept."""
    import deposits.subscriptions  # noqa: F401

    user, _ = admin
    gave_up, no_bond, force, gp = await _paid(scenario, 4)
    clock.set(scenario.deadline + timedelta(days=10))
    base = {"lot_id": scenario.lot_id, "tender_id": scenario.lot["tender_id"], "reason": "书面放弃中标",
            "actor": user.id, "at": clock.now(), "bid_id": "x"}
    for b, regime, cause in ((gave_up, "bidding_law", "gave_up"), (no_bond, "bidding_law", "no_performance_bond"),
                             (force, "bidding_law", "force_majeure"), (gp, "gov_procurement", "gave_up")):
        await _emit(pool, clock, "award.rescinded", {**base, "regime": regime, "cause": cause, "org_id": b["org"].id})
    async with pool.acquire() as c:
        kept = await c.fetch("SELECT r.org_id, k.article, k.amount_fen, k.actor FROM deposit_retentions k"
                             " JOIN deposit_requirements r ON r.id = k.requirement_id")
        held = {r["org_id"]: await c.fetchval(
            "SELECT coalesce(sum(credit_fen - debit_fen), 0) FROM ledger_postings p JOIN deposit_requirements q"
            " ON p.account = 'deposit:' || q.id WHERE q.org_id = $1", r["org_id"]) for r in kept}
    assert {r["org_id"] for r in kept} == {gave_up["org"].id, no_bond["org"].id}
    assert all(r["article"] == "招标投标法实施条例 第七十四条" and r["amount_fen"] == 1_000_000 and r["actor"] == user.id
               for r in kept)
    assert set(held.values()) == {0}   # moved from the bidder's liability to retained:{lot}
    rows = await _refunds(pool)
    assert sorted((r["reason"], r["payee_account"][-2:]) for r in rows) == [("award_rescinded", "02"),
                                                                           ("award_rescinded", "03")]
    # tendered again: the lot fails; the kept deposits stay kept, nothing is refunded twice
    await _emit(pool, clock, "lot.failed", {"lot_id": scenario.lot_id, "tender_id": scenario.lot["tender_id"],
                                            "reason": "重新招标"})
    assert len(await _refunds(pool)) == 2
