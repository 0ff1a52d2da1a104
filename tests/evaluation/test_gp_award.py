"""Government-procurement award (RULES 5.9; 政府采购货物和服务招标投标管理办法 第六十八、六十九条; 政府采购法 第五十二、
五十三条) over real HTTP on real PostgreSQL: no candidate publicity; the report to the purchaser, the purchaser's
decision (or rank 1 deemed after 5 working days), the award with its 1-working-day result announcement, 质疑 for 7
working days. Each rule with its refusal.

Dates (Asia/Shanghai, 2026): the report is signed on Saturday 03-28 (make_lot's clock); 04-04..04-06 are the 清明
holidays, so the working days after Monday 03-30 are 03-31, 04-01, 04-02, 04-03, 04-07, 04-08 ...
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from types import SimpleNamespace

import msgspec
import pytest

from evaluation import background, services, sources
from tests.evaluation.test_award import signed
from tests.evaluation.test_services import tx
from trading.accounts.schemas import Role
from trading.clock import SHANGHAI

GP = {"regime": "gov_procurement", "procurement_type": "goods"}


def cst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


async def headers(factory, user) -> dict[str, str]:
    """Tokens live 24 hours: a fresh one after each clock jump."""
    return {"Authorization": f"Bearer {await factory.token(user)}"}


async def signed_gp(make_lot, pool, clock, settings, monkeypatch, *, recordings: bool = True, **kw):
    """A GP lot signed by test_award.signed; bid index 3 invalid, candidates ranked 3 deep; with the recordings of
    its opening and evaluation filed (87号令 第三十九条; tests/evaluation/test_recordings.py files them over HTTP)."""
    lot = await signed(make_lot, pool, clock, settings, **{**GP, **kw})
    monkeypatch.setattr(sources, "current", lot["roster"])
    assert clock.now().astimezone(SHANGHAI).date().isoformat() == "2026-03-28"
    if recordings:
        await file_recordings(pool, clock, settings, lot)
    return lot


async def file_recordings(pool, clock, settings, lot, stages=("opening", "evaluation")) -> None:
    from evaluation.recordings import services as recordings
    from trading.blobs import blob_store

    for stage in stages:
        data = f"{stage} recording of lot {lot['lot_id']}".encode()
        digest = blob_store(settings).put_bytes(data)
        async with pool.acquire() as c, c.transaction():
            await recordings.file_recording(c, clock, lot["lot_id"], stage, user=lot["agency_user"],
                                            media_type="video/mp4", filename=f"{stage}.mp4", sha256=digest,
                                            size=len(data))


async def purchaser(factory, lot):
    user, _ = await factory.signed_in(org_id=lot["tenderer_org"].id, display_name="采购人经办人")
    return user


def bidder_user(lot, bid_id):
    return next(u for (o, (u, _)), b in zip(lot["bidders"], lot["bid_ids"]) if str(b) == str(bid_id))


async def entries(pool, tag: str) -> list[dict]:
    async with pool.acquire() as c:
        return [msgspec.json.decode(bytes(r["entry"])) for r in await c.fetch(
            "SELECT entry FROM log_entries WHERE tag = $1 ORDER BY seq", tag)]


def assert_refused(r, status: int, code: str) -> None:
    assert (r.status_code, r.json().get("code")) == (status, code), r.text


async def test_gp_whole_path_report_decision_award_announcement_challenge_answer(
        make_lot, pool, clock, settings, client, factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    buyer = await purchaser(factory, lot)

    clock.set(cst("2026-03-30T10:00"))
    agency = await headers(factory, lot["agency_user"])
    r = await client.post(f"{base}/award/report", headers=agency)
    assert r.status_code == 201, r.text
    det = r.json()
    # signed Saturday 03-28: due by the end of the 2nd working day after it (Tue 03-31)
    assert datetime.fromisoformat(det["send_due"]) == cst("2026-04-01T00:00") and det["sent_late"] is False
    # 5 working days after Mon 03-30 skip the 清明 holidays: 03-31, 04-01, 04-02, 04-03, 04-07
    assert datetime.fromisoformat(det["decision_due"]) == cst("2026-04-08T00:00")
    ranks = [c["rank"] for c in det["candidates"]]
    assert ranks == [1, 2, 3] and str(lot["bid_ids"][3]) not in [c["bid_id"] for c in det["candidates"]]
    first, second = det["candidates"][0]["bid_id"], det["candidates"][1]["bid_id"]

    clock.set(cst("2026-03-31T10:00"))
    r = await client.post(f"{base}/award/decision", json={}, headers=await headers(factory, buyer))
    assert r.status_code == 200, r.text
    assert (r.json()["how"], r.json()["winner_bid_id"], r.json()["winner_rank"]) == ("decided", first, 1)
    assert datetime.fromisoformat(r.json()["award_due"]) == cst("2026-04-03T00:00")
    r = await client.get(f"{base}/award/determination", headers=await headers(factory, buyer))
    assert r.status_code == 200 and r.json()["how"] == "decided"
    r = await client.get(f"{base}/award/report.pdf", headers=await headers(factory, buyer))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    assert hashlib.sha256(r.content).hexdigest() == det["report_pdf_sha256"]
    r = await client.get(f"{base}/award/report.pdf",
                         headers=await headers(factory, bidder_user(lot, lot["bid_ids"][0])))
    assert_refused(r, 403, "purchaser_required")

    clock.set(cst("2026-04-01T10:00"))
    agency = await headers(factory, lot["agency_user"])
    r = await client.post(f"{base}/award", json={}, headers=agency)
    assert r.status_code == 200, r.text
    award = r.json()
    assert award["winner_bid_id"] == first and award["late"] is False and award["determined"] == "decided"
    # the announcement lasts 1 working day (to the end of 04-02); 质疑 7 working days after that day
    assert datetime.fromisoformat(award["announcement_ends_at"]) == cst("2026-04-03T00:00")
    assert datetime.fromisoformat(award["challenge_due"]) == cst("2026-04-15T00:00")
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT status FROM lots WHERE id = $1", lot["lot_id"]) == "awarded"
        notices = {str(n["bid_id"]): n for n in await c.fetch(
            "SELECT bid_id, kind, rank FROM award_notices WHERE lot_id = $1", lot["lot_id"])}
    # 87号令 第六十九条: every other bidder is told its own rank (the invalid bid has none)
    assert notices[first]["kind"] == "award" and notices[second]["rank"] == 2
    assert len(notices) == 4

    r = await client.get(f"{base}/award/result")
    assert r.status_code == 200
    result = r.json()
    assert result["regime"] == "gov_procurement" and len(result["committee"]) == 5
    assert datetime.fromisoformat(result["announcement_ends_at"]) == cst("2026-04-03T00:00")

    # 质疑 on the last day of the period, by the second-ranked bidder
    clock.set(cst("2026-04-14T23:59"))
    objector = await headers(factory, bidder_user(lot, second))
    r = await client.post(f"{base}/award/challenges", json={"content": "第一名的业绩证明不实"}, headers=objector)
    assert r.status_code == 201, r.text
    challenge = r.json()
    # answered within 7 working days of receipt (政府采购法 第五十三条), the day of receipt not counted
    assert datetime.fromisoformat(challenge["answer_due"]) == cst("2026-04-24T00:00")
    clock.set(cst("2026-04-20T09:00"))
    r = await client.post(f"{base}/award/challenges/{challenge['id']}/answer",
                          json={"answer": "经核查，业绩证明真实有效", "upheld": False},
                          headers=await headers(factory, lot["agency_user"]))
    assert r.status_code == 200, r.text
    r = await client.post(f"{base}/award/challenges/{challenge['id']}/answer", json={"answer": "again"},
                          headers=await headers(factory, lot["agency_user"]))
    assert_refused(r, 409, "objection_already_answered")

    sent, decided, issued = [await entries(pool, t) for t in ("award:purchaser:send", "award:winner:decide",
                                                              "award:notice:issue")]
    assert sent[0]["body"]["late"] is False and sent[0]["body"]["purchaser_org"] == str(lot["tenderer_org"].id)
    assert decided[0]["body"]["bid"] == first and decided[0]["actor"] == str(buyer.id)
    assert issued[0]["body"]["challenge_due"] == cst("2026-04-15T00:00").isoformat()
    [answer] = await entries(pool, "award:objection:answer")
    assert answer["body"]["late"] is False


async def test_gp_publicity_refused(make_lot, pool, clock, settings, client, factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    r = await client.post(f"/api/lots/{lot['lot_id']}/publicity", json={"contact": "0591-1"},
                          headers=await headers(factory, lot["agency_user"]))
    assert_refused(r, 409, "not_in_gov_procurement")
    assert "87号令" in r.json()["detail"]
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM award_publicity WHERE lot_id = $1", lot["lot_id"]) == 0


async def test_gp_report_sent_late_is_recorded_not_refused_and_only_once(make_lot, pool, clock, settings, client,
                                                                          factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    bidder = await headers(factory, bidder_user(lot, lot["bid_ids"][0]))
    assert_refused(await client.post(f"{base}/award/report", headers=bidder), 403, "role_required")
    clock.set(cst("2026-04-01T09:00"))   # the 2 working days ended at 24:00 on 03-31
    agency = await headers(factory, lot["agency_user"])
    r = await client.post(f"{base}/award/report", headers=agency)
    assert r.status_code == 201 and r.json()["sent_late"] is True
    assert_refused(await client.post(f"{base}/award/report", headers=agency), 409, "report_already_sent")
    [sent] = await entries(pool, "award:purchaser:send")
    assert sent["body"]["late"] is True


async def test_gp_decision_refusals(make_lot, pool, clock, settings, client, factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    buyer = await purchaser(factory, lot)
    clock.set(cst("2026-03-30T10:00"))
    # before the report is sent
    r = await client.post(f"{base}/award/decision", json={}, headers=await headers(factory, buyer))
    assert_refused(r, 409, "report_not_sent")
    det = (await client.post(f"{base}/award/report", headers=await headers(factory, lot["agency_user"]))).json()
    second = det["candidates"][1]["bid_id"]
    # by anyone but the purchaser: the agency, a bidder, another tenderer
    other_tenderer = await factory.org("tenderer")
    outsider, _ = await factory.signed_in(org_id=other_tenderer.id)
    for user in (lot["agency_user"], bidder_user(lot, lot["bid_ids"][0]), outsider):
        r = await client.post(f"{base}/award/decision", json={}, headers=await headers(factory, user))
        assert_refused(r, 403, "purchaser_required")
    buyer_h = await headers(factory, buyer)
    # a bid that is not among the report's candidates (the invalid one)
    r = await client.post(f"{base}/award/decision", json={"winner_bid_id": str(lot["bid_ids"][3]), "reason": "x"},
                          headers=buyer_h)
    assert_refused(r, 422, "winner_not_candidate")
    # a lower candidate without a reason
    r = await client.post(f"{base}/award/decision", json={"winner_bid_id": second}, headers=buyer_h)
    assert_refused(r, 422, "reason_required")
    r = await client.post(f"{base}/award/decision", json={"winner_bid_id": second, "reason": "  "}, headers=buyer_h)
    assert_refused(r, 422, "reason_required")
    assert await entries(pool, "award:winner:decide") == []
    # a lower candidate with a reason
    r = await client.post(f"{base}/award/decision",
                          json={"winner_bid_id": second, "reason": "第一中标候选人放弃中标"}, headers=buyer_h)
    assert r.status_code == 200 and (r.json()["winner_rank"], r.json()["reason"]) == (2, "第一中标候选人放弃中标")
    # twice
    r = await client.post(f"{base}/award/decision", json={}, headers=buyer_h)
    assert_refused(r, 409, "winner_already_determined")
    # the award names the purchaser's winner, not another
    r = await client.post(f"{base}/award", json={"winner_bid_id": det["candidates"][0]["bid_id"]},
                          headers=await headers(factory, lot["agency_user"]))
    assert_refused(r, 409, "winner_already_determined")
    r = await client.post(f"{base}/award", json={}, headers=await headers(factory, lot["agency_user"]))
    assert r.status_code == 200 and r.json()["winner_bid_id"] == second
    async with pool.acquire() as c:
        row = await c.fetchrow("SELECT rank, reason FROM award_notices WHERE lot_id = $1 AND kind = 'award'",
                               lot["lot_id"])
    assert (row["rank"], row["reason"]) == (2, "第一中标候选人放弃中标")


async def test_gp_award_refused_before_the_winner_is_determined(make_lot, pool, clock, settings, client, factory,
                                                               monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    clock.set(cst("2026-03-30T10:00"))
    agency = await headers(factory, lot["agency_user"])
    assert_refused(await client.post(f"{base}/award", json={}, headers=agency), 409, "winner_not_determined")
    await client.post(f"{base}/award/report", headers=agency)
    clock.set(cst("2026-04-07T23:59:59"))   # the last moment of the purchaser's 5 working days
    agency = await headers(factory, lot["agency_user"])
    assert_refused(await client.post(f"{base}/award", json={}, headers=agency), 409, "winner_not_determined")
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT status FROM lots WHERE id = $1", lot["lot_id"]) == "evaluation"
        assert await c.fetchval("SELECT count(*) FROM award_notices WHERE lot_id = $1", lot["lot_id"]) == 0


async def test_gp_rank_one_deemed_by_the_sweep_after_five_working_days_once(make_lot, pool, clock, settings, client,
                                                                          factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    buyer = await purchaser(factory, lot)
    clock.set(cst("2026-03-30T10:00"))
    det = (await client.post(f"{base}/award/report", headers=await headers(factory, lot["agency_user"]))).json()

    async def sweep() -> int:
        before = len(await entries(pool, "award:winner:deem"))
        # the real sweep (its own connection and transaction) on this test's pool and clock
        await background.sweep(SimpleNamespace(state=SimpleNamespace(pool=pool, clock=clock)))
        return len(await entries(pool, "award:winner:deem")) - before

    clock.set(cst("2026-04-07T23:59:59"))  # not before the end of the 5th working day (清明 not counted)
    assert await sweep() == 0
    r = await client.get(f"{base}/award/determination", headers=await headers(factory, lot["agency_user"]))
    assert r.json()["how"] is None
    clock.set(cst("2026-04-08T00:00"))
    assert await sweep() == 1
    assert await sweep() == 0
    [deem] = await entries(pool, "award:winner:deem")
    assert deem["body"]["bid"] == det["candidates"][0]["bid_id"] and deem["actor"] is None
    r = await client.get(f"{base}/award/determination", headers=await headers(factory, buyer))
    out = r.json()
    assert (out["how"], out["winner_rank"], out["decided_by"]) == ("deemed", 1, None)
    # the award due within 2 working days of the period's last day (04-07): 04-08, 04-09
    assert datetime.fromisoformat(out["award_due"]) == cst("2026-04-10T00:00")
    # the purchaser can no longer choose
    r = await client.post(f"{base}/award/decision", json={}, headers=await headers(factory, buyer))
    assert_refused(r, 409, "winner_already_determined")
    r = await client.post(f"{base}/award", json={}, headers=await headers(factory, lot["agency_user"]))
    assert r.status_code == 200 and r.json()["determined"] == "deemed"
    assert r.json()["winner_bid_id"] == det["candidates"][0]["bid_id"]


async def test_gp_decision_after_five_working_days_refused_and_award_deems_rank_one(
        make_lot, pool, clock, settings, client, factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    buyer = await purchaser(factory, lot)
    clock.set(cst("2026-03-30T10:00"))
    det = (await client.post(f"{base}/award/report", headers=await headers(factory, lot["agency_user"]))).json()
    clock.set(cst("2026-04-08T08:00"))   # the sweep has not come by
    r = await client.post(f"{base}/award/decision",
                          json={"winner_bid_id": det["candidates"][1]["bid_id"], "reason": "迟到的决定"},
                          headers=await headers(factory, buyer))
    assert_refused(r, 409, "decision_period_over")
    r = await client.post(f"{base}/award", json={}, headers=await headers(factory, lot["agency_user"]))
    assert r.status_code == 200, r.text
    assert r.json()["winner_bid_id"] == det["candidates"][0]["bid_id"] and r.json()["determined"] == "deemed"
    assert len(await entries(pool, "award:winner:deem")) == 1


async def test_gp_challenge_refusals_and_upheld_challenge_blocks_the_contract(make_lot, pool, clock, settings,
                                                                             client, factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    buyer = await purchaser(factory, lot)
    clock.set(cst("2026-03-30T10:00"))
    det = (await client.post(f"{base}/award/report", headers=await headers(factory, lot["agency_user"]))).json()
    second = det["candidates"][1]["bid_id"]
    # no 质疑 to the result before it is announced, none through a publicity that does not exist
    objector = await headers(factory, bidder_user(lot, second))
    assert_refused(await client.post(f"{base}/award/challenges", json={"content": "质疑"}, headers=objector),
                   409, "challenge_period_closed")
    assert_refused(await client.post(f"{base}/publicity/objections", json={"content": "异议"}, headers=objector),
                   409, "not_in_gov_procurement")
    await client.post(f"{base}/award/decision", json={}, headers=await headers(factory, buyer))
    assert (await client.post(f"{base}/award", json={},
                              headers=await headers(factory, lot["agency_user"]))).status_code == 200
    # not by an organisation that did not bid
    org = await factory.org("bidder")
    _, stranger = await factory.signed_in(Role.BIDDER, org_id=org.id)
    assert_refused(await client.post(f"{base}/award/challenges", json={"content": "质疑"}, headers=stranger),
                   403, "objector_not_entitled")
    # an upheld 质疑 stops the contract step
    r = await client.post(f"{base}/award/challenges", json={"content": "第一名资格证明过期"}, headers=objector)
    assert r.status_code == 201, r.text
    agency = await headers(factory, lot["agency_user"])
    r = await client.post(f"{base}/award/challenges/{r.json()['id']}/answer",
                          json={"answer": "经核查属实", "upheld": True}, headers=agency)
    assert r.status_code == 200
    r = await client.post(f"{base}/contract", json={"signed_at": clock.now().isoformat(),
                                                    "price_yuan": "1000000.00", "performance_bond_yuan": "0"},
                          headers=agency)
    assert_refused(r, 409, "challenge_upheld")
    # 招标投标法 第四十七条's report to the supervisor is not a government-procurement duty
    assert_refused(await client.post(f"{base}/supervisor-report", headers=agency), 409, "not_in_gov_procurement")
    # after the 7 working days (from the end of the announcement on 03-31: 04-01 … 04-10)
    clock.set(cst("2026-04-11T00:00"))
    objector = await headers(factory, bidder_user(lot, det["candidates"][2]["bid_id"]))
    assert_refused(await client.post(f"{base}/award/challenges", json={"content": "迟到的质疑"}, headers=objector),
                   409, "challenge_period_closed")
    assert len(await entries(pool, "award:objection:file")) == 1


async def test_gp_unanswered_challenge_logged_overdue_once_after_seven_working_days(
        make_lot, pool, clock, settings, client, factory, monkeypatch):
    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    base = f"/api/lots/{lot['lot_id']}"
    buyer = await purchaser(factory, lot)
    clock.set(cst("2026-03-30T10:00"))
    det = (await client.post(f"{base}/award/report", headers=await headers(factory, lot["agency_user"]))).json()
    await client.post(f"{base}/award/decision", json={}, headers=await headers(factory, buyer))
    await client.post(f"{base}/award", json={}, headers=await headers(factory, lot["agency_user"]))
    clock.set(cst("2026-04-01T15:00"))
    r = await client.post(f"{base}/award/challenges", json={"content": "评分不公"},
                          headers=await headers(factory, bidder_user(lot, det["candidates"][2]["bid_id"])))
    due = datetime.fromisoformat(r.json()["answer_due"])
    assert due == cst("2026-04-14T00:00")   # 04-02, 04-03, 04-07, 04-08, 04-09, 04-10, 04-13
    clock.set(due - timedelta(seconds=1))
    assert await tx(pool, services.flag_overdue_objections, clock) == 0
    clock.set(due)
    assert await tx(pool, services.flag_overdue_objections, clock) == 1
    assert await tx(pool, services.flag_overdue_objections, clock) == 0


async def test_gp_steps_refused_for_a_bidding_law_lot(make_lot, pool, clock, settings, client, factory,
                                                      monkeypatch):
    from tests.evaluation.test_award import signed

    lot = await signed(make_lot, pool, clock, settings)
    base = f"/api/lots/{lot['lot_id']}"
    agency = await headers(factory, lot["agency_user"])
    assert_refused(await client.post(f"{base}/award/report", headers=agency), 409, "gov_procurement_only")
    buyer = await purchaser(factory, lot)
    assert_refused(await client.post(f"{base}/award/decision", json={}, headers=await headers(factory, buyer)),
                   409, "gov_procurement_only")
    objector = await headers(factory, bidder_user(lot, lot["bid_ids"][0]))
    assert_refused(await client.post(f"{base}/award/challenges", json={"content": "x"}, headers=objector),
                   409, "gov_procurement_only")
    # and the Bidding-Law lot cannot skip its publicity
    assert_refused(await client.post(f"{base}/award", json={}, headers=agency), 404, "publicity_not_found")


@pytest.mark.parametrize("who", ["agency", "purchaser"])
async def test_gp_award_page_shows_the_purchaser_steps(make_lot, pool, clock, settings, client, factory,
                                                      monkeypatch, who):
    from tests.evaluation.test_pages import _cookie

    lot = await signed_gp(make_lot, pool, clock, settings, monkeypatch)
    buyer = await purchaser(factory, lot)
    clock.set(cst("2026-03-30T10:00"))
    page = f"/evaluation/lots/{lot['lot_id']}/award"
    user = lot["agency_user"] if who == "agency" else buyer
    r = await client.get(page, headers=_cookie(await factory.token(user)))
    assert r.status_code == 200, r.text
    assert 'id="gp"' in r.text and 'id="publish"' not in r.text
    assert ('id="send-report"' in r.text) == (who == "agency")
    await client.post(f"/api/lots/{lot['lot_id']}/award/report", headers=await headers(factory, lot["agency_user"]))
    r = await client.get(page, headers=_cookie(await factory.token(user)))
    assert ('id="decide"' in r.text) == (who == "purchaser")
    assert 'id="decision-due"' in r.text and "2026-04-0" in r.text
    if who == "purchaser":
        await client.post(f"/api/lots/{lot['lot_id']}/award/decision", json={},
                          headers=await headers(factory, buyer))
        r = await client.get(page, headers=_cookie(await factory.token(lot["agency_user"])))
        assert 'id="determined"' in r.text and 'id="award"' in r.text


async def test_award_page_refused_to_a_purchaser_of_a_bidding_law_lot_and_to_bidders(
        make_lot, pool, clock, settings, client, factory):
    from tests.evaluation.test_award import signed
    from tests.evaluation.test_pages import _cookie

    lot = await signed(make_lot, pool, clock, settings)
    page = f"/evaluation/lots/{lot['lot_id']}/award"
    for user in (await purchaser(factory, lot), bidder_user(lot, lot["bid_ids"][0])):
        r = await client.get(page, headers=_cookie(await factory.token(user)))
        assert r.status_code == 403
