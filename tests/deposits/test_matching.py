from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from deposits.matching import (
    RULE_VERSION,
    BasicAccountIn,
    RequirementIn,
    TxnIn,
    match,
    normalise_name,
)

DEADLINE = datetime(2026, 3, 27, 1, 0, tzinfo=timezone.utc)


def _req(**kw) -> RequirementIn:
    base = dict(id=uuid4(), lot_id=uuid4(), org_id=uuid4(), org_name="福州某某建设有限公司", amount_fen=1_000_000,
                deadline=DEADLINE, basic_account_rule=True,
                basic_accounts=(BasicAccountIn("6222020200001234567", date(2020, 1, 1), None),),
                virtual_accounts=(f"9558{uuid4().int % 10**11:011d}",), guarantee_ok=False)
    base.update(kw)
    return RequirementIn(**base)


def _txn(i: int, req: RequirementIn | None, amount: int = 1_000_000, **kw) -> TxnIn:
    base = dict(id=i, account=req.virtual_accounts[0] if req else "0000", direction="CRDT", amount_fen=amount,
                currency="CNY", status="BOOK", reversal=False, reverses_id=None,
                counted_at=DEADLINE - timedelta(days=1, seconds=-i), counted_precision="second",
                value_date=date(2026, 3, 26), payer_name=req.org_name if req else "某人",
                payer_account="6222020200001234567")
    base.update(kw)
    return TxnIn(**base)


def test_match_exact_payment_is_paid_without_flags():
    r = _req()
    txns, reqs = match([_txn(1, r)], [r])
    assert txns[1].requirement_id == r.id and txns[1].counts and txns[1].flags == ()
    assert reqs[r.id].state == "PAID" and reqs[r.id].flags == {}


def test_match_rerun_gives_identical_results():
    r = _req()
    inputs = [_txn(1, r, 400_000), _txn(2, r, 700_000), _txn(3, None)]
    assert match(inputs, [r], RULE_VERSION) == match(list(reversed(inputs)), [r], RULE_VERSION)


def test_match_underpaid_is_partial():
    r = _req()
    _, reqs = match([_txn(1, r, 999_999)], [r])
    assert reqs[r.id].state == "PARTIAL" and "UNDERPAID" in reqs[r.id].flags


def test_match_overpaid_flags_the_excess():
    r = _req()
    txns, reqs = match([_txn(1, r, 1_000_100)], [r])
    assert "OVERPAID" in txns[1].flags and txns[1].detail["excess_fen"] == 100
    assert reqs[r.id].state == "PAID"


def test_match_second_full_payment_is_duplicate():
    r = _req()
    txns, reqs = match([_txn(1, r), _txn(2, r)], [r])
    assert txns[1].flags == () and "DUPLICATE_PAYMENT" in txns[2].flags
    assert "DUPLICATE_PAYMENT" in reqs[r.id].flags


def test_match_late_by_one_second_does_not_count():
    r = _req()
    on_time = _txn(1, r, counted_at=DEADLINE)
    late = _txn(2, r, counted_at=DEADLINE + timedelta(seconds=1))
    txns, reqs = match([late], [r])
    assert "LATE" in txns[2].flags and not txns[2].counts and reqs[r.id].state == "LATE"
    txns, reqs = match([on_time], [r])
    assert txns[1].counts and reqs[r.id].state == "PAID"


def test_match_name_equal_after_nfkc_and_spaces_is_not_a_mismatch():
    r = _req(org_name="福州某某建设（集团）有限公司")
    txns, _ = match([_txn(1, r, payer_name=" 福州某某建设(集团)有限公司　")], [r])
    assert "NAME_MISMATCH" not in txns[1].flags
    assert normalise_name("ＡＢＣ　公司") == normalise_name("abc公司")


def test_match_similar_name_is_flagged_with_only_a_suggestion():
    r = _req(org_name="福州某某建设有限公司")
    txns, reqs = match([_txn(1, r, payer_name="福州某某建设有限责任公司")], [r])
    assert "NAME_MISMATCH" in txns[1].flags
    assert txns[1].detail["name_suggestion"]["registered"] == "福州某某建设有限公司"
    assert reqs[r.id].state == "PAID"  # a name is for a person to review; the money is there


def test_match_payment_from_other_account_is_invalid_payer():
    r = _req()
    txns, reqs = match([_txn(1, r, payer_account="6222999900000000001")], [r])
    assert "NOT_BASIC_ACCOUNT" in txns[1].flags and not txns[1].counts
    assert reqs[r.id].state == "INVALID_PAYER"


def test_match_basic_account_expired_on_value_date_is_refused():
    r = _req(basic_accounts=(BasicAccountIn("6222020200001234567", date(2020, 1, 1), date(2026, 3, 1)),))
    txns, _ = match([_txn(1, r)], [r])
    assert "NOT_BASIC_ACCOUNT" in txns[1].flags


def test_match_waived_basic_account_counts():
    r = _req()
    r = _req(id=r.id, virtual_accounts=r.virtual_accounts, waived=frozenset({(1, "NOT_BASIC_ACCOUNT")}))
    txns, reqs = match([_txn(1, r, payer_account="6222999900000000001")], [r])
    assert txns[1].counts and reqs[r.id].state == "PAID" and "NOT_BASIC_ACCOUNT" in txns[1].flags


def test_match_gov_procurement_does_not_require_basic_account():
    r = _req(basic_account_rule=False)
    txns, _ = match([_txn(1, r, payer_account="6222999900000000001")], [r])
    assert "NOT_BASIC_ACCOUNT" not in txns[1].flags and txns[1].counts


def test_match_unknown_account_goes_to_suspense():
    txns, _ = match([_txn(7, None)], [])
    assert txns[7].requirement_id is None and txns[7].flags == ("UNKNOWN_ACCOUNT",)


def test_match_same_payer_for_two_bidders_is_flagged_on_both():
    lot = uuid4()
    a, b = _req(lot_id=lot), _req(lot_id=lot, org_name="另一家公司")
    shared = "6222020200001234567"
    b = _req(id=b.id, lot_id=lot, org_name="另一家公司", virtual_accounts=b.virtual_accounts,
             basic_accounts=(BasicAccountIn(shared, date(2020, 1, 1), None),))
    txns, reqs = match([_txn(1, a), _txn(2, b, payer_name="另一家公司")], [a, b])
    for t in (1, 2):
        assert "SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS" in txns[t].flags
    for r in (a, b):
        assert "SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS" in reqs[r.id].flags


def test_match_same_payer_in_different_lots_is_not_collusion():
    a, b = _req(), _req(org_name="另一家公司")
    txns, _ = match([_txn(1, a), _txn(2, b, payer_name="另一家公司")], [a, b])
    assert "SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS" not in txns[1].flags + txns[2].flags


def test_match_pending_entry_is_not_money():
    r = _req()
    txns, reqs = match([_txn(1, r, status="INFO")], [r])
    assert not txns[1].counts and reqs[r.id].state == "MISSING"


def test_match_reversed_credit_reopens_the_requirement():
    r = _req()
    credit = _txn(1, r)
    reversal = _txn(2, r, direction="DBIT", reversal=True, reverses_id=1)
    txns, reqs = match([credit, reversal], [r])
    assert "REVERSED" in txns[1].flags and not txns[1].counts
    assert txns[2].requirement_id == r.id and txns[2].detail["reverses"] == 1
    assert reqs[r.id].state == "MISSING"


def test_match_guarantee_accepted_without_cash():
    r = _req(guarantee_ok=True)
    _, reqs = match([], [r])
    assert reqs[r.id].state == "GUARANTEE_ACCEPTED"


def test_match_foreign_currency_does_not_count():
    r = _req()
    txns, reqs = match([_txn(1, r, currency="EUR")], [r])
    assert "CURRENCY_MISMATCH" in txns[1].flags and reqs[r.id].state == "MISSING"


# ------------------------------------------------------------------ with the database

async def test_matching_run_twice_records_no_new_changes(scenario):
    b = await scenario.bidder()
    await scenario.pay(b)
    first = await scenario.match()
    second = await scenario.match()
    assert first["changed"] == 1 and second["changed"] == 0
    res = await scenario.result(b)
    assert res["txns"][0]["counts"] and res["txn_flags"] == set()


async def test_matching_moves_money_from_suspense_to_the_bidder_liability(scenario, pool):
    b = await scenario.bidder()
    await scenario.pay(b)
    await scenario.match()
    res = await scenario.result(b)
    async with pool.acquire() as c:
        held = await c.fetchval("SELECT sum(credit_fen - debit_fen) FROM ledger_postings WHERE account = $1",
                                f"deposit:{res['requirement_id']}")
        suspense = await c.fetchval("SELECT sum(credit_fen - debit_fen) FROM ledger_postings WHERE account LIKE "
                                    "'suspense:%'")
    assert held == 1_000_000 and suspense == 0


async def test_matching_freezes_states_at_the_deadline(scenario, clock):
    paid, late, missing, partial = (await scenario.bidder() for _ in range(4)) if False else (
        await scenario.bidder(), await scenario.bidder(), await scenario.bidder(), await scenario.bidder())
    await scenario.pay(paid)
    await scenario.pay(partial, "5000.00")
    await scenario.match()
    assert (await scenario.result(paid))["state"] is None  # not frozen before the deadline
    clock.set(scenario.deadline + timedelta(seconds=1))
    await scenario.pay(late, when=clock.now())
    await scenario.match()
    states = {k: (await scenario.result(v))["state"] for k, v in
              {"paid": paid, "late": late, "missing": missing, "partial": partial}.items()}
    assert states == {"paid": "PAID", "late": "LATE", "missing": "MISSING", "partial": "PARTIAL"}
    # a payment arriving after the freeze does not change the frozen state
    await scenario.pay(missing, when=clock.now())
    await scenario.match()
    assert (await scenario.result(missing))["state"] == "MISSING"


async def test_matching_unknown_account_credit_stays_in_suspense(scenario, pool):
    b = await scenario.bidder()
    await scenario.pay(b, account="95580000000000000")
    await scenario.match()
    async with pool.acquire() as c:
        row = await c.fetchrow("SELECT requirement_id, flags FROM deposit_matches")
        suspense = await c.fetchval("SELECT sum(credit_fen - debit_fen) FROM ledger_postings WHERE account LIKE "
                                    "'suspense:%'")
    assert row["requirement_id"] is None and list(row["flags"]) == ["UNKNOWN_ACCOUNT"] and suspense == 1_000_000


async def test_matching_same_payer_account_for_two_bidders_reaches_the_opening_record(scenario, pool):
    from deposits.subscriptions import deposit_column

    a = await scenario.bidder()
    b = await scenario.bidder(basic="6222020200001234567")
    await scenario.pay(a)
    await scenario.pay(b)
    await scenario.match()
    assert "SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS" in (await scenario.result(a))["flags"]
    async with pool.acquire() as c:
        column = await deposit_column(c, scenario.lot_id, [a["org"].id, b["org"].id])
    assert "第四十条" in column[a["org"].id] and column[a["org"].id].startswith("已缴纳")


async def test_matching_reversal_in_a_later_file_reopens_and_moves_money_back(scenario, pool):
    from tests.deposits.builders import camt, entry

    b = await scenario.bidder()
    await scenario.pay(b, ref="ORIG-1")
    await scenario.match()
    rev = entry("REV-1", "10000.00", account=b["va"], name=b["org"].name, direction="DBIT", reversal=True,
                when=scenario.clock.now().isoformat())
    await scenario.import_bytes(camt("camt.054.001.08", "BkToCstmrDbtCdtNtfctn", "Ntfctn", "R1", [rev]))
    await scenario.match()
    res = await scenario.result(b)
    assert "REVERSED" in res["txn_flags"] and not any(t["counts"] for t in res["txns"])
    async with pool.acquire() as c:
        held = await c.fetchval("SELECT coalesce(sum(credit_fen - debit_fen), 0) FROM ledger_postings "
                                "WHERE account = $1", f"deposit:{res['requirement_id']}")
    assert held == 0


async def test_flag_decision_is_a_new_row_and_waiver_counts(scenario, pool, clock, admin):
    from deposits import services
    from deposits.errors import FlagDecisionInvalid
    from deposits.schemas import FlagDecisionCreate

    b = await scenario.bidder()
    await scenario.pay(b, payer="6222999900000000001")
    await scenario.match()
    res = await scenario.result(b)
    txn_id = res["txns"][0]["txn_id"]
    user, _ = admin
    async with pool.acquire() as c, c.transaction():
        try:
            await services.decide_flag(c, clock, FlagDecisionCreate(flag="LATE", decision="waive", reason="x y",
                                                                    txn_id=txn_id), user=user)
        except FlagDecisionInvalid:
            pass
        else:
            raise AssertionError("LATE must not be waivable")
    async with pool.acquire() as c, c.transaction():
        await services.decide_flag(c, clock, FlagDecisionCreate(
            flag="NOT_BASIC_ACCOUNT", decision="waive", reason="境外投标人，无基本账户（第二十六条仅约束境内投标人）",
            txn_id=txn_id), user=user)
    await scenario.match()
    res = await scenario.result(b)
    assert res["txns"][0]["counts"]
    async with pool.acquire() as c:
        rows = await c.fetch("SELECT actor, reason FROM deposit_flag_decisions")
    assert len(rows) == 1 and rows[0]["actor"] == user.id


@pytest.fixture(params=["arguments", "stage"])
def write_path(monkeypatch, request):
    """Both ways a chunk's changes reach the set-based write: as statement arguments (a notification's few) and
    COPYed to the per-connection stage (a bulk run)."""
    from deposits import reconcile

    monkeypatch.setattr(reconcile, "SMALL_WRITE", 64 if request.param == "arguments" else 0)
    return request.param


async def test_matching_incremental_for_one_file_equals_a_full_run(scenario, pool, clock, write_path):
    from deposits.reconcile import run_matching

    a = await scenario.bidder()
    b = await scenario.bidder()
    await scenario.pay(a)
    await scenario.match()
    res = await scenario.pay(b)   # same payer account as a: collusion must reach a's requirement too
    async with pool.acquire() as c, c.transaction():
        inc = await run_matching(c, clock, file_id=res.file_id)
    assert inc["changed"] == 2
    assert "SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS" in (await scenario.result(a))["flags"]
    full = await scenario.match()
    assert full["changed"] == 0


async def test_matching_in_several_chunks_equals_one_chunk(scenario, pool, clock, factory, bank, monkeypatch,
                                                          write_path):
    # one lot per chunk and one unknown-account credit per page: chunk k is matched in the worker thread while
    # chunk k-1's results are written and chunk k+1 is read
    from deposits import reconcile
    from tests.deposits.conftest import Scenario

    other = Scenario(pool, clock, factory, bank, await factory.published_lot(deposit_yuan="10000.00"))
    other.files = 100  # its own file and message ids
    paid = [(scenario, await scenario.bidder()), (other, await other.bidder()), (scenario, await scenario.bidder())]
    for s, b in paid[:2]:
        await s.pay(b)
    await scenario.pay(paid[2][1], "9000.00")
    for n in range(2):
        await scenario.pay(paid[0][1], "500.00", account=f"621700000000000{n}")  # to no virtual account
    monkeypatch.setattr(reconcile, "REQUIREMENTS_PER_CHUNK", 1)
    monkeypatch.setattr(reconcile, "UNKNOWN_PAGE", 1)
    chunked = await scenario.match()
    assert chunked["changed"] == 5
    async with pool.acquire() as c:
        suspense = await c.fetch("SELECT m.flags, m.requirement_id FROM deposit_matches m JOIN bank_txns t "
                                 "ON t.id = m.txn_id WHERE t.account LIKE '6217%'")
        assert [(list(r["flags"]), r["requirement_id"]) for r in suspense] == [(["UNKNOWN_ACCOUNT"], None)] * 2
        assert await c.fetchval("SELECT sum(credit_fen - debit_fen) FROM ledger_postings WHERE account LIKE "
                                "'suspense:%'") == 100_000
        assert await c.fetchval("SELECT count(*) FROM deposit_match_history") == 5
    results = [await s.result(b) for s, b in paid]
    assert [r["txns"][0]["counts"] for r in results] == [True, True, True]
    assert [r["state"] for r in results] == [None, None, None]  # before the deadline nothing freezes
    assert "UNDERPAID" in results[2]["flags"] and "UNDERPAID" not in results[0]["flags"]
    async with pool.acquire() as c:
        held = [await c.fetchval("SELECT sum(credit_fen - debit_fen) FROM ledger_postings WHERE account = $1",
                                 f"deposit:{r['requirement_id']}") for r in results]
    assert held == [1_000_000, 1_000_000, 900_000]
    monkeypatch.setattr(reconcile, "REQUIREMENTS_PER_CHUNK", 10**6)
    assert (await scenario.match())["changed"] == 0


async def test_matching_result_references_are_enforced_by_the_database(scenario, pool):
    import asyncpg

    b = await scenario.bidder()
    await scenario.pay(b)
    await scenario.match()
    res = await scenario.result(b)
    async with pool.acquire() as c:
        for sql in ("UPDATE deposit_matches SET requirement_id = gen_random_uuid()",
                    """INSERT INTO deposit_matches (txn_id, requirement_id, counts, run_id, rule_version)
                       SELECT -txn_id, gen_random_uuid(), false, run_id, rule_version FROM deposit_matches"""):
            with pytest.raises(asyncpg.ForeignKeyViolationError, match="missing requirement"):
                async with c.transaction():
                    await c.execute(sql)
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="referenced by matches"):
            async with c.transaction():  # only the match still refers to it
                for table in ("virtual_accounts", "deposit_requirement_flags"):
                    await c.execute(f"DELETE FROM {table} WHERE requirement_id = $1", res["requirement_id"])
                await c.execute("DELETE FROM deposit_requirements WHERE id = $1", res["requirement_id"])
        assert await c.fetchval("SELECT count(*) FROM deposit_matches WHERE requirement_id = $1",
                                res["requirement_id"]) == 1


async def test_a_large_lot_is_matched_in_pages_with_its_collusion_map(scenario, pool, monkeypatch, write_path):
    """A lot with more credits than TXNS_PER_CHUNK is matched in pages of whole requirements (memory bounded
    whatever the file size), each page given the lot's collusion map: collusion is found between bidders in
    different pages, a reversed credit is left out of it, and a run in one chunk changes nothing afterwards."""
    from deposits import reconcile
    from tests.deposits.builders import camt, entry

    a, b, c, d = [await scenario.bidder() for _ in range(4)]
    await scenario.pay(a, payer="6222-0000-1111")
    await scenario.pay(c, payer="6222 0000 1111")  # the same account as a's, spelt otherwise: 条例 第四十条(六)
    await scenario.pay(b, ref="B-1", payer="6222000022220")
    await scenario.pay(d, payer="6222000022220")   # b's account too, but b's payment is reversed below
    rev = entry("REV-B", "10000.00", account=b["va"], name=b["org"].name, payer="6222000022220", direction="DBIT",
                reversal=True, when=scenario.clock.now().isoformat())
    await scenario.import_bytes(camt("camt.054.001.08", "BkToCstmrDbtCdtNtfctn", "Ntfctn", "R1", [rev]))
    monkeypatch.setattr(reconcile, "TXNS_PER_CHUNK", 1)
    async with pool.acquire() as conn:
        chunks = await reconcile._full_run_chunks(conn)
    assert [len(ch["requirement_ids"]) for ch in chunks] == [1, 1, 1, 1]  # one page per bidder
    assert {ch["lot_id"] for ch in chunks} == {scenario.lot_id}
    await scenario.match()
    flagged = ["SAME_PAYER_ACCOUNT_FOR_DIFFERENT_BIDDERS" in (await scenario.result(x))["flags"] for x in (a, b, c, d)]
    assert flagged == [True, False, True, False]
    assert "REVERSED" in (await scenario.result(b))["txn_flags"]
    monkeypatch.setattr(reconcile, "TXNS_PER_CHUNK", 10**6)
    async with pool.acquire() as conn:
        assert await reconcile._full_run_chunks(conn) == [{"lot_ids": [scenario.lot_id]}]
    assert (await scenario.match())["changed"] == 0
