"""The winner loses the award before the contract (招标投标法实施条例 第五十五条; 政府采购法实施条例 第四十九条;
政府采购质疑和投诉办法 第十六条) over real HTTP on real PostgreSQL: the next candidate in rank order gets a new round
of signed notices, or the lot fails and is tendered again. Each rule with its refusal."""
from __future__ import annotations

import hashlib
import subprocess

import pytest

from evaluation import services, sources
from tests.evaluation.test_award import published
from tests.evaluation.test_gp_award import (
    assert_refused,
    bidder_user,
    cst,
    entries,
    headers,
    purchaser,
    signed_gp,
)
from tests.evaluation.test_services import tx
from trading import events
from trading.money import fen_to_yuan

PRICES = (100_000_000, 80_000_000, 125_000_000, 90_000_000)


@pytest.fixture
def failed_calls():
    calls = []

    async def on_failed(conn, clock, payload):
        calls.append(payload)

    events.subscribe("lot.failed", on_failed)
    yield calls
    events._HANDLERS["lot.failed"].remove(on_failed)


async def current_winner(pool, lot_id) -> str | None:
    async with pool.acquire() as c:
        bid = await c.fetchval("SELECT bid_id FROM award_notices WHERE lot_id = $1 AND kind = 'award'"
                               " AND superseded_at IS NULL", lot_id)
    return str(bid) if bid else None


async def rescind(client, pool, lot, body, headers):
    """POST award/rescind naming the winner in force (as the page does), unless the body names one."""
    winner = await current_winner(pool, lot["lot_id"]) or str(lot["bid_ids"][0])
    return await client.post(f"/api/lots/{lot['lot_id']}/award/rescind", json={"bid_id": winner, **body},
                             headers=headers)


async def awarded_bl(make_lot, pool, clock, settings, client, factory, monkeypatch, **kw):
    lot, pub = await published(make_lot, pool, clock, settings)
    monkeypatch.setattr(sources, "current", lot["roster"])
    clock.advance(days=3, seconds=1)
    r = await client.post(f"/api/lots/{lot['lot_id']}/award", json=kw,
                          headers=await headers(factory, lot["agency_user"]))
    assert r.status_code == 200, r.text
    return lot, pub["candidates"], r.json()


def price_of(lot, bid_id, prices=PRICES) -> int:
    return prices[[str(b) for b in lot["bid_ids"]].index(str(bid_id))]


async def notices(pool, lot_id):
    async with pool.acquire() as c:
        return await c.fetch("SELECT bid_id, kind, rank, award_round, superseded_at, pdf_sha256 FROM award_notices"
                             " WHERE lot_id = $1 ORDER BY award_round, kind", lot_id)


def pdf_text(settings, sha256: str) -> str:
    from trading.blobs import blob_store

    data = blob_store(settings).get_bytes(sha256)
    return subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()


async def test_next_candidate_in_rank_order_gets_new_notices_and_the_contract(make_lot, pool, clock, settings, client,
                                                                              factory, monkeypatch):
    lot, cands, award = await awarded_bl(make_lot, pool, clock, settings, client, factory, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    first, second, third = (c["bid_id"] for c in cands)
    assert award["winner_bid_id"] == first
    clock.advance(days=2)
    agency = await headers(factory, lot["agency_user"])
    r = await rescind(client, pool, lot, {"cause": "gave_up", "reason": "第一中标候选人书面声明放弃中标",
                                                         "outcome": "next_candidate"}, headers=agency)
    assert r.status_code == 201, r.text
    out = r.json()
    assert (out["winner_bid_id"], out["winner_rank"], out["award_round"], out["rescinded_round"]) == (second, 2, 2, 1)
    # the same request again (a double click, a stale page) names a winner no longer in force: refused, not a
    # second rescission of the new winner
    r = await client.post(f"{base}/award/rescind", json={"bid_id": first, "cause": "gave_up", "reason": "重复提交",
                                                         "outcome": "next_candidate"}, headers=agency)
    assert_refused(r, 409, "award_changed")
    assert out["lot_status"] == "awarded" and out["rescinded_bid_id"] == first
    rows = await notices(pool, lot["lot_id"])
    old = [n for n in rows if n["award_round"] == 1]
    new = [n for n in rows if n["award_round"] == 2]
    assert len(old) == len(new) == 4 and all(n["superseded_at"] is not None for n in old)
    assert all(n["superseded_at"] is None for n in new)
    assert [str(n["bid_id"]) for n in new if n["kind"] == "award"] == [second]
    # the notices are signed PDFs saying what happened: the new winner's replaces the old; the old winner is told why
    lost = next(n for n in new if str(n["bid_id"]) == first)
    assert "中标资格已取消" in pdf_text(settings, lost["pdf_sha256"])
    assert "放弃中标" in pdf_text(settings, lost["pdf_sha256"])
    won = next(n for n in new if n["kind"] == "award")
    assert "依次确定中标人" in pdf_text(settings, won["pdf_sha256"])
    [entry] = await entries(pool, "award:notice:rescind")
    assert entry["body"]["cause"] == "gave_up" and entry["body"]["next_bid"] == second
    assert entry["actor"] == str(lot["agency_user"].id)
    # the public result names the new winner; the rescissions are listed for the agency
    r = await client.get(f"{base}/award/result")
    assert r.status_code == 200 and r.json()["price_fen"] == price_of(lot, second)
    r = await client.get(f"{base}/award/rescissions", headers=agency)
    assert [x["cause"] for x in r.json()] == ["gave_up"]
    # the contract follows the new notice, on the new winner's price; the old winner's price is refused
    signed_at = clock.now().isoformat()
    r = await client.post(f"{base}/contract", json={"signed_at": signed_at, "price_yuan": fen_to_yuan(
        price_of(lot, first)), "performance_bond_yuan": "0"}, headers=agency)
    assert_refused(r, 422, "contract_terms_mismatch")
    r = await client.post(f"{base}/contract", json={"signed_at": signed_at, "price_yuan": fen_to_yuan(
        price_of(lot, second)), "performance_bond_yuan": "0"}, headers=agency)
    assert r.status_code == 201, r.text
    assert r.json()["bid_id"] == second
    # after the contract the award stands
    r = await rescind(client, pool, lot, {"cause": "gave_up", "reason": "x", "outcome": "retender"},
                          headers=agency)
    assert_refused(r, 409, "contract_already_recorded")
    assert third not in {str(n["bid_id"]) for n in await notices(pool, lot["lot_id"]) if n["kind"] == "award"}


async def test_candidates_follow_one_after_the_other_then_only_a_new_tender(make_lot, pool, clock, settings, client,
                                                                           factory, monkeypatch, failed_calls):
    lot, cands, _ = await awarded_bl(make_lot, pool, clock, settings, client, factory, monkeypatch)
    agency = await headers(factory, lot["agency_user"])
    body = {"cause": "no_performance_bond", "reason": "未在规定时间内提交履约保证金", "outcome": "next_candidate"}
    r = await rescind(client, pool, lot, body, headers=agency)
    assert r.json()["winner_rank"] == 2
    r = await rescind(client, pool, lot, {**body, "cause": "force_majeure"}, headers=agency)
    assert r.json()["winner_rank"] == 3 and r.json()["award_round"] == 3
    # the third candidate was the last: nobody is left to name, only a new tender
    r = await rescind(client, pool, lot, {**body, "cause": "unlawful"}, headers=agency)
    assert_refused(r, 409, "no_candidate_left")
    r = await rescind(client, pool, lot, {**body, "cause": "unlawful", "outcome": "retender"},
                          headers=agency)
    assert r.status_code == 201, r.text
    assert r.json()["lot_status"] == "failed"
    async with pool.acquire() as c:
        row = await c.fetchrow("SELECT status, status_reason FROM lots WHERE id = $1", lot["lot_id"])
        assert await c.fetchval("SELECT count(*) FROM award_notices WHERE lot_id = $1 AND superseded_at IS NULL",
                                lot["lot_id"]) == 0
    assert row["status"] == "failed" and "unlawful" in row["status_reason"]
    assert [str(p["lot_id"]) for p in failed_calls] == [str(lot["lot_id"])]
    assert [e["body"]["to"] for e in await entries(pool, "tender:lot:fail")] == ["failed"]
    # a failed lot has no award to rescind
    r = await rescind(client, pool, lot, body, headers=agency)
    assert_refused(r, 409, "award_not_issued")
    # its award page lists the three rescissions and offers no award or rescission any more
    page = (await client.get(f"/evaluation/lots/{lot['lot_id']}/award?lang=zh", headers=agency)).text
    assert page.count('class="rescission"') == 3 and "重新招标（本标段流标）" in page
    assert 'id="award"' not in page and 'id="rescind"' not in page


async def test_a_lower_first_winner_is_followed_by_the_next_rank_not_by_the_one_passed_over(
        make_lot, pool, clock, settings, client, factory, monkeypatch):
    lot, cands, award = await awarded_bl(make_lot, pool, clock, settings, client, factory, monkeypatch,
                                         winner_bid_id=None)
    agency = await headers(factory, lot["agency_user"])
    # first award to rank 1; rescind → rank 2; rescind → rank 3 (rank 1 never comes back)
    for rank in (2, 3):
        r = await rescind(client, pool, lot, {"cause": "gave_up", "reason": "放弃",
                                                             "outcome": "next_candidate"}, headers=agency)
        assert r.json()["winner_rank"] == rank and r.json()["winner_bid_id"] != cands[0]["bid_id"]


async def test_rescission_refusals(make_lot, pool, clock, settings, client, factory, monkeypatch):
    lot, pub = await published(make_lot, pool, clock, settings)
    monkeypatch.setattr(sources, "current", lot["roster"])
    base = f"/api/lots/{lot['lot_id']}"
    agency = await headers(factory, lot["agency_user"])
    body = {"cause": "gave_up", "reason": "放弃中标", "outcome": "next_candidate"}
    # nothing to rescind before the award notice
    assert_refused(await rescind(client, pool, lot, body, headers=agency), 409, "award_not_issued")
    clock.advance(days=3, seconds=1)
    agency = await headers(factory, lot["agency_user"])
    assert (await client.post(f"{base}/award", json={}, headers=agency)).status_code == 200
    # only the lot's agency; a bidder is refused
    winner = await headers(factory, bidder_user(lot, pub["candidates"][0]["bid_id"]))
    r = await rescind(client, pool, lot, body, headers=winner)
    assert r.status_code == 403
    # a cause the Bidding Law does not name, an unknown cause or outcome, an empty reason
    assert_refused(await rescind(client, pool, lot, {**body, "cause": "challenge_upheld"},
                                     headers=agency), 422, "rescission_cause_invalid")
    r = await rescind(client, pool, lot, {**body, "cause": "bored"}, headers=agency)
    assert r.status_code == 400
    r = await rescind(client, pool, lot, {**body, "outcome": "whatever"}, headers=agency)
    assert r.status_code == 400
    assert_refused(await rescind(client, pool, lot, {**body, "reason": "  "}, headers=agency),
                   422, "reason_required")
    # while the supervising authority's order to suspend stands (条例 第六十二条), nothing is decided
    async with pool.acquire() as c:
        await c.execute("UPDATE tenders SET regulator_suspended = true WHERE id = $1", lot["tender_id"])
    assert_refused(await rescind(client, pool, lot, body, headers=agency), 409, "tender_suspended")
    async with pool.acquire() as c:
        await c.execute("UPDATE tenders SET regulator_suspended = false WHERE id = $1", lot["tender_id"])
    # nothing was written by the refusals
    assert await entries(pool, "award:notice:rescind") == []
    assert all(n["award_round"] == 1 and n["superseded_at"] is None for n in await notices(pool, lot["lot_id"]))


async def test_overdue_contract_is_watched_again_from_the_new_notice(make_lot, pool, clock, settings, client, factory,
                                                                    monkeypatch):
    lot, cands, _ = await awarded_bl(make_lot, pool, clock, settings, client, factory, monkeypatch)
    clock.advance(days=32)
    await tx(pool, services.flag_overdue_duties, clock)
    assert len(await entries(pool, "award:contract:overdue")) == 1
    r = await rescind(client, pool, lot, {"cause": "gave_up", "reason": "逾期不签订合同",
                                                         "outcome": "next_candidate"},
                          headers=await headers(factory, lot["agency_user"]))
    assert r.status_code == 201, r.text
    clock.advance(days=10)
    await tx(pool, services.flag_overdue_duties, clock)
    assert len(await entries(pool, "award:contract:overdue")) == 1   # the new winner still has time
    clock.advance(days=21)
    await tx(pool, services.flag_overdue_duties, clock)
    overdue = await entries(pool, "award:contract:overdue")
    assert len(overdue) == 2 and overdue[1]["body"]["winner_org"] != overdue[0]["body"]["winner_org"]


# --- government procurement -----------------------------------------------------------------------------------

async def awarded_gp(make_lot, pool, clock, settings, client, factory, monkeypatch, **kw):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch, **kw)
    base = f"/api/lots/{lot['lot_id']}"
    clock.set(cst("2026-03-30T10:00"))
    det = (await client.post(f"{base}/award/report", headers=await headers(factory, lot["agency_user"]))).json()
    await client.post(f"{base}/award/decision", json={}, headers=await headers(factory, await purchaser(factory, lot)))
    clock.set(cst("2026-04-01T10:00"))
    r = await client.post(f"{base}/award", json={}, headers=await headers(factory, lot["agency_user"]))
    assert r.status_code == 200, r.text
    return lot, det["candidates"]


async def uphold_challenge(client, factory, lot, base, by_bid):
    r = await client.post(f"{base}/award/challenges", json={"content": "中标供应商资格证明过期"},
                          headers=await headers(factory, bidder_user(lot, by_bid)))
    assert r.status_code == 201, r.text
    r = await client.post(f"{base}/award/challenges/{r.json()['id']}/answer",
                          json={"answer": "经核查属实，质疑成立", "upheld": True},
                          headers=await headers(factory, lot["agency_user"]))
    assert r.status_code == 200, r.text


async def test_gp_upheld_challenge_names_another_winner_while_three_qualified_remain(
        make_lot, pool, clock, settings, client, factory, monkeypatch):
    prices = PRICES + (95_000_000,)
    lot, cands = await awarded_gp(make_lot, pool, clock, settings, client, factory, monkeypatch, prices=prices)
    base = f"/api/lots/{lot['lot_id']}"
    agency = await headers(factory, lot["agency_user"])
    body = {"cause": "challenge_upheld", "reason": "质疑成立：第一名资格证明过期", "outcome": "next_candidate"}
    # no 质疑 upheld yet: the cause is refused
    assert_refused(await rescind(client, pool, lot, body, headers=agency), 409, "challenge_not_upheld")
    clock.set(cst("2026-04-02T10:00"))
    await uphold_challenge(client, factory, lot, base, cands[1]["bid_id"])
    agency = await headers(factory, lot["agency_user"])
    r = await client.post(f"{base}/contract", json={"signed_at": clock.now().isoformat(), "price_yuan": "1.00",
                                                    "performance_bond_yuan": "0"}, headers=agency)
    assert_refused(r, 409, "challenge_upheld")
    clock.set(cst("2026-04-03T10:00"))
    agency = await headers(factory, lot["agency_user"])
    r = await rescind(client, pool, lot, body, headers=agency)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["winner_bid_id"] == cands[1]["bid_id"] and out["award_round"] == 2
    # a new result: determined again, announced again, a new 质疑 period (Fri 04-03 + 1 working day → 04-08 end)
    assert out["announcement_ends_at"] == cst("2026-04-08T00:00").isoformat()
    r = await client.get(f"{base}/award/determination", headers=agency)
    assert (r.json()["winner_bid_id"], r.json()["winner_rank"], r.json()["how"]) == (cands[1]["bid_id"], 2, "decided")
    # the upheld 质疑 was against the earlier award: the contract with the new winner goes ahead
    r = await client.post(f"{base}/contract", json={"signed_at": clock.now().isoformat(), "price_yuan": fen_to_yuan(
        price_of(lot, cands[1]["bid_id"], prices)), "performance_bond_yuan": "0"}, headers=agency)
    assert r.status_code == 201, r.text


async def test_gp_upheld_challenge_with_too_few_qualified_left_means_procurement_again(
        make_lot, pool, clock, settings, client, factory, monkeypatch, failed_calls):
    lot, cands = await awarded_gp(make_lot, pool, clock, settings, client, factory, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    clock.set(cst("2026-04-02T10:00"))
    await uphold_challenge(client, factory, lot, base, cands[1]["bid_id"])
    agency = await headers(factory, lot["agency_user"])
    body = {"cause": "challenge_upheld", "reason": "质疑成立", "outcome": "next_candidate"}
    # three valid bids, the winner's out: two qualified suppliers are fewer than the statutory three
    assert_refused(await rescind(client, pool, lot, body, headers=agency), 409, "retender_required")
    # force majeure is a Bidding-Law cause only
    assert_refused(await rescind(client, pool, lot, {**body, "cause": "force_majeure"},
                                     headers=agency), 422, "rescission_cause_invalid")
    r = await rescind(client, pool, lot, {**body, "outcome": "retender"}, headers=agency)
    assert r.status_code == 201, r.text
    assert r.json()["lot_status"] == "failed" and len(failed_calls) == 1


async def test_gp_winner_refusing_the_contract_is_followed_by_the_next_candidate(
        make_lot, pool, clock, settings, client, factory, monkeypatch):
    lot, cands = await awarded_gp(make_lot, pool, clock, settings, client, factory, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    clock.set(cst("2026-04-20T10:00"))
    r = await rescind(client, pool, lot, {"cause": "gave_up", "reason": "中标供应商书面拒绝签订合同",
                                                         "outcome": "next_candidate"},
                          headers=await headers(factory, lot["agency_user"]))
    assert r.status_code == 201, r.text
    # 政府采购法实施条例 第四十九条 asks no count of the qualified: the next in the report's order
    assert r.json()["winner_bid_id"] == cands[1]["bid_id"]
    assert r.json()["challenge_due"] > cst("2026-04-20T10:00").isoformat()
    objector = await headers(factory, bidder_user(lot, cands[2]["bid_id"]))
    r = await client.post(f"{base}/award/challenges", json={"content": "对新的中标结果提出质疑"}, headers=objector)
    assert r.status_code == 201, r.text


async def test_a_new_winner_owes_a_new_report_to_the_supervisor(make_lot, pool, clock, settings, client, factory,
                                                                monkeypatch):
    """招标投标法 第四十七条: within 15 days of determining the winner — the winner named after a rescission is
    determined anew, so its round gets its own report, which records the rescission."""
    lot, cands, _ = await awarded_bl(make_lot, pool, clock, settings, client, factory, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    agency = await headers(factory, lot["agency_user"])
    r = await client.post(f"{base}/supervisor-report", headers=agency)
    assert r.status_code == 201, r.text
    r = await rescind(client, pool, lot, {"cause": "gave_up", "reason": "书面放弃中标",
                                                         "outcome": "next_candidate"}, headers=agency)
    assert r.status_code == 201, r.text
    # the earlier round's report does not stand for the new winner: the sweep logs the missing one when due
    clock.advance(days=17)
    await tx(pool, services.flag_overdue_duties, clock)
    [overdue] = await entries(pool, "award:report:overdue")
    assert overdue["body"]["winner_org"] == next(str(o.id) for (o, _), b in zip(lot["bidders"], lot["bid_ids"])
                                                 if str(b) == cands[1]["bid_id"])
    agency = await headers(factory, lot["agency_user"])
    r = await client.post(f"{base}/supervisor-report", headers=agency)
    assert r.status_code == 201, r.text
    assert r.json()["late"] is True
    report = r.json()["pdf_sha256"]
    assert_refused(await client.post(f"{base}/supervisor-report", headers=agency), 409,
                   "supervisor_report_already_submitted")
    text = pdf_text(settings, report)
    first = next(o.name for (o, _), b in zip(lot["bidders"], lot["bid_ids"]) if str(b) == cands[0]["bid_id"])
    second = next(o.name for (o, _), b in zip(lot["bidders"], lot["bid_ids"]) if str(b) == cands[1]["bid_id"])
    assert "中标资格取消" in text and first in text and second in text
    r = await client.get(f"{base}/supervisor-report.pdf", headers=agency)    # the latest report
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == report
    submitted = await entries(pool, "award:report:submit")
    assert [e["body"].get("round") for e in submitted] == [None, 2]
