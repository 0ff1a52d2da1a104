"""投诉 (complaints) to the supervising authority: 招标投标法实施条例 第六十、六十一、六十二条 (RULES 5.8) and, for
government procurement, 政府采购法 第五十五条 (recalled). The whole path for both regimes, and each refusal.

Dates (Asia/Shanghai, 2026): the factory's clock starts Monday 03-02 09:00 and publishes with the bid deadline on
Friday 03-27; make_lot's lots reach evaluation on Saturday 03-28. 04-04..04-06 are the 清明 holidays.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import msgspec
import pytest

from evaluation import services as evaluation
from evaluation.complaints import errors, services
from evaluation.complaints.schemas import (ComplaintDecisionIn, ComplaintIn, ComplaintReviewIn, ComplaintSuspendIn,
                                          ComplaintWithdrawIn, WithdrawalDecisionIn)
from evaluation.schemas import AwardIn, ObjectionAnswerIn, ObjectionIn
from tests.evaluation.test_award import bidder_of, published
from tests.evaluation.test_services import tx
from trading.accounts.schemas import Role
from trading.clock import SHANGHAI
from trading.tenders import services as tenders
from trading.tenders.errors import TenderSuspended
from trading.tenders.lifecycle import transition_lot
from trading.tenders.schemas import ObjectionCreate

GP = {"regime": "gov_procurement", "procurement_type": "goods"}
REQUEST = "请求责令招标人修改招标文件第三章的资格条件"
GROUNDS = "第三章要求投标人具有本市业绩，以不合理条件限制、排斥潜在投标人（条例 第三十二条）；附招标文件第12页"


def cst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def complaint_in(lot, matter="tender_documents", objection=None, **kw) -> ComplaintIn:
    return ComplaintIn(tender_id=lot["tender_id"], matter=matter,
                       objection_id=objection.id if hasattr(objection, "id") else objection,
                       request=kw.pop("request", REQUEST), grounds=kw.pop("grounds", GROUNDS), **kw)


async def entries(pool, tender_id, prefix="complaint:") -> list[dict]:
    async with pool.acquire() as c:
        rows = await c.fetch("SELECT tag, entry FROM log_entries WHERE tender_id = $1 AND tag LIKE $2 ORDER BY seq",
                             tender_id, prefix + "%")
    return [{"tag": r["tag"], **msgspec.json.decode(bytes(r["entry"]))} for r in rows]


async def written(pool) -> tuple[int, int]:
    async with pool.acquire() as c:
        return (await c.fetchval("SELECT count(*) FROM complaints"),
                await c.fetchval("SELECT count(*) FROM log_entries WHERE tag LIKE 'complaint:%'"))


async def flags(pool, tender_id) -> tuple[bool, bool]:
    async with pool.acquire() as c:
        row = await c.fetchrow("SELECT suspended, regulator_suspended FROM tenders WHERE id = $1", tender_id)
    return row["suspended"], row["regulator_suspended"]


async def documents_case(factory, pool, clock, **lot_kw):
    """A published lot, a bidder that obtained its documents and objected to them on 03-02 (answer due by 03-05
    under the Bidding Law, by 03-11 in GP)."""
    lot = await factory.published_lot(**lot_kw)
    org, user, _ = await factory.downloader(lot["lot_id"])
    objection = await tx(pool, tenders.file_objection, clock, lot["tender_id"],
                         ObjectionCreate(content="第三章资格条件排斥外地投标人"), user=user)
    regulator = await factory.user(Role.REGULATOR)
    return {**lot, "org": org, "user": user, "objection": objection, "regulator": regulator}


async def answer(pool, clock, case, objection=None):
    return await tx(pool, tenders.answer_objection, clock, case["tender_id"], (objection or case["objection"]).id,
                    "经研究，资格条件符合规定，不予修改", user=case["agency_user"])


async def accepted_complaint(factory, pool, clock, **lot_kw):
    """documents_case, its objection answered on 03-04, a complaint on it filed and accepted that day."""
    case = await documents_case(factory, pool, clock, **lot_kw)
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    return case, c


# ------------------------------------------------------------------------------------ Bidding Law: the whole path

async def test_bidding_law_whole_path_over_http(factory, pool, clock, client):
    case = await documents_case(factory, pool, clock)
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    bidder = {"Authorization": f"Bearer {await factory.token(case['user'])}"}
    body = {"tender_id": str(case["tender_id"]), "matter": "tender_documents",
            "objection_id": str(case["objection"].id), "request": REQUEST, "grounds": GROUNDS}
    r = await client.post("/api/complaints", json=body, headers=bidder)
    assert r.status_code == 201, r.text
    c = r.json()
    # known on 03-02 (documents obtained); the objection's answer period 03-02 → 03-04 (2 days) is not counted:
    # 03-02 + 12 = Saturday 03-14, rolled to Monday 03-16 (RULES G2)
    assert (c["known_on"], c["last_day"], c["status"]) == ("2026-03-02", "2026-03-16", "filed")
    # accepted within 3 working days of Wednesday 03-04: 03-05, 03-06, 03-09
    assert datetime.fromisoformat(c["accept_due"]) == cst("2026-03-10T00:00")

    reg = {"Authorization": f"Bearer {await factory.token(case['regulator'])}"}
    listed = (await client.get("/api/complaints", headers=reg)).json()
    assert c["id"] in [x["id"] for x in listed]
    page = await client.get("/regulator/complaints", headers=reg)
    assert page.status_code == 200 and "待受理" in page.text and "2026-03-09 24:00" in page.text

    r = await client.post(f"/api/complaints/{c['id']}/accept", headers=reg)
    assert r.status_code == 200, r.text
    c = r.json()
    # decided within 30 working days of acceptance (Wed 03-04), past the 清明 holidays: the last day is 04-16
    assert c["status"] == "accepted" and c["reviewed_late"] is False
    assert datetime.fromisoformat(c["decision_due"]) == cst("2026-04-17T00:00")
    r = await client.post(f"/api/complaints/{c['id']}/suspend", json={"reason": "待查明资格条件"}, headers=reg)
    assert r.status_code == 200 and r.json()["suspended_at"], r.text
    assert await flags(pool, case["tender_id"]) == (False, True)
    r = await client.post(f"/api/complaints/{c['id']}/decision",
                          json={"outcome": "upheld", "text": "责令招标人修改招标文件第三章资格条件"}, headers=reg)
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["status"], c["decision"], c["suspended_at"], c["decided_late"]) == ("decided", "upheld", None, False)
    assert await flags(pool, case["tender_id"]) == (False, False)   # the decision lifts its own order

    mine = await client.get(f"/api/complaints/{c['id']}", headers=bidder)
    assert mine.status_code == 200 and mine.json()["decision_text"] == "责令招标人修改招标文件第三章资格条件"
    tags = [e["tag"] for e in await entries(pool, case["tender_id"])]
    assert tags == ["complaint:case:file", "complaint:case:accept", "complaint:tender:suspend",
                    "complaint:case:decide", "complaint:tender:resume"]
    filed = (await entries(pool, case["tender_id"]))[0]
    assert filed["body"]["request_sha256"] and "org" not in filed["body"] and REQUEST not in str(filed)


async def test_candidates_complaint_suspension_blocks_the_award_until_decided(make_lot, pool, clock, settings,
                                                                              factory):
    lot, pub = await published(make_lot, pool, clock, settings)
    objector = bidder_of(lot, pub["candidates"][1]["bid_id"])
    obj = await tx(pool, evaluation.file_objection, clock, lot["lot_id"], ObjectionIn(content="第一名业绩造假"),
                   user=objector, src=lot["roster"])
    with pytest.raises(errors.ObjectionPending):
        await tx(pool, services.file_complaint, clock, complaint_in(lot, "candidates", obj["id"]), user=objector)
    await tx(pool, evaluation.answer_objection, clock, lot["lot_id"], obj["id"],
             ObjectionAnswerIn(answer="经核查，业绩真实"), actor=lot["agency_user"])
    c = await tx(pool, services.file_complaint, clock, complaint_in(lot, "candidates", obj["id"]), user=objector)
    # the publicity's first day Saturday 03-28; objection and answer the same day: nothing paused → 04-07
    assert (c.lot_id, c.known_on, c.last_day) == (lot["lot_id"], date(2026, 3, 28), date(2026, 4, 7))
    regulator = await factory.user(Role.REGULATOR)
    await tx(pool, services.accept_complaint, clock, c.id, user=regulator)
    await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=regulator)
    clock.advance(days=3, seconds=1)   # the publicity is over
    with pytest.raises(TenderSuspended) as refused:
        await tx(pool, evaluation.issue_award, clock, lot["lot_id"], AwardIn(), actor=lot["agency_user"],
                 settings=settings, src=lot["roster"])
    assert "第六十二条" in refused.value.message
    await tx(pool, services.decide_complaint, clock, c.id,
             ComplaintDecisionIn(outcome="dismissed", text="投诉缺乏事实根据，驳回"), user=regulator)
    out = await tx(pool, evaluation.issue_award, clock, lot["lot_id"], AwardIn(), actor=lot["agency_user"],
                   settings=settings, src=lot["roster"])
    assert out["winner_bid_id"] == pub["candidates"][0]["bid_id"]


async def test_other_matter_counts_from_the_stated_day_and_needs_no_objection(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    clock.set(cst("2026-03-20T10:00"))
    with pytest.raises(errors.KnownOnInvalid):
        await tx(pool, services.file_complaint, clock, complaint_in(case, "other"), user=case["user"])
    with pytest.raises(errors.KnownOnInvalid):   # in the future
        await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 21)),
                 user=case["user"])
    with pytest.raises(errors.KnownOnInvalid):   # before the tender's publication
        await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 1)),
                 user=case["user"])
    with pytest.raises(errors.ComplaintPeriodOver) as late:
        await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 9)),
                 user=case["user"])
    assert late.value.extra["last_day"] == "2026-03-19"
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 10)),
                 user=case["user"])
    assert (c.objection_id, c.last_day) == (None, date(2026, 3, 20))


# ------------------------------------------------------------------------------------------- GP: the whole path

async def test_gov_procurement_whole_path_after_the_challenge_answer(factory, pool, clock):
    case = await documents_case(factory, pool, clock, **GP)
    with pytest.raises(errors.ObjectionPending):   # answer due by 03-11 (7 working days)
        await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    with pytest.raises(errors.ObjectionRequired):   # a GP complaint always follows a 质疑
        await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 3)),
                 user=case["user"])
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    # 答复期满 03-11; 15 working days after it: 03-12 … 04-01 (政府采购法 第五十五条)
    assert (c.regime, c.known_on, c.last_day) == ("gov_procurement", date(2026, 3, 11), date(2026, 4, 1))
    # reviewed within 5 working days of 03-04 (办法 第二十一条, recalled): 03-05, 06, 09, 10, 11
    assert c.accept_due == cst("2026-03-12T00:00")
    regulator = case["regulator"]
    clock.set(cst("2026-03-06T10:00"))
    c = await tx(pool, services.accept_complaint, clock, c.id, user=regulator)
    # 30 working days from receipt (03-04), not from acceptance (政府采购法 第五十六条, recalled): last day 04-16
    assert c.decision_due == cst("2026-04-17T00:00")
    c = await tx(pool, services.decide_complaint, clock, c.id,
                 ComplaintDecisionIn(outcome="upheld", text="采购文件第三章违反规定，责令修改"), user=regulator)
    assert c.status == "decided"
    clock.set(cst("2026-04-02T09:00"))
    with pytest.raises(errors.ComplaintPeriodOver) as late:
        await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    assert late.value.extra["last_day"] == "2026-04-01" and "2026-04-01" in late.value.message
    assert [e["tag"] for e in await entries(pool, case["tender_id"])] == [
        "complaint:case:file", "complaint:case:accept", "complaint:case:decide"]


async def test_gov_procurement_complaint_after_an_unanswered_challenge_expired(factory, pool, clock):
    case = await documents_case(factory, pool, clock, **GP)
    clock.set(cst("2026-03-12T09:00"))   # the 7 working days ended with 03-11, unanswered
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    assert c.last_day == date(2026, 4, 1)


# ------------------------------------------------------------------------------------------------ the refusals

async def test_complaint_refused_after_ten_days_with_the_last_day_and_nothing_written(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    clock.set(cst("2026-03-17T09:00"))
    before = await written(pool)
    with pytest.raises(errors.ComplaintPeriodOver) as late:
        await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    assert late.value.extra["last_day"] == "2026-03-16" and "2026-03-16" in late.value.message
    assert late.value.status == 409 and late.value.code == "complaint_period_over"
    assert await written(pool) == before


async def test_complaint_refused_without_an_objection_or_with_another_organisations(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    other_org, other_user, _ = await factory.downloader(case["lot_id"])
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    before = await written(pool)
    with pytest.raises(errors.ObjectionRequired):
        await tx(pool, services.file_complaint, clock, complaint_in(case), user=other_user)
    with pytest.raises(errors.ObjectionRequired):   # someone else's objection
        await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=other_user)
    with pytest.raises(errors.ObjectionRequired):   # an objection of another stage
        await tx(pool, services.file_complaint, clock, complaint_in(case, "opening", case["objection"]),
                 user=case["user"])
    assert await written(pool) == before


async def test_complaint_refused_while_the_objection_awaits_its_answer(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    clock.set(cst("2026-03-05T23:00"))   # answer due by 03-05 24:00
    with pytest.raises(errors.ObjectionPending) as pending:
        await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    assert pending.value.code == "objection_pending"
    clock.set(cst("2026-03-06T09:00"))   # unanswered, but its answer period is over: the complaint is taken
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    # paused 03-02 → 03-05 (3 days): 03-02 + 13 = 03-15 (Sunday) → 03-16
    assert c.last_day == date(2026, 3, 16)


async def test_complaint_refused_with_empty_request_or_grounds(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    before = await written(pool)
    for kw, field in (({"request": "  "}, "request"), ({"grounds": ""}, "grounds")):
        with pytest.raises(errors.ComplaintIncomplete) as refused:
            await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"], **kw),
                     user=case["user"])
        assert refused.value.extra["field"] == field and refused.value.status == 422
    assert await written(pool) == before


async def test_complaint_refused_from_an_organisation_that_is_not_an_interested_party(factory, pool, clock, client):
    case = await documents_case(factory, pool, clock)
    org = await factory.org("bidder")
    stranger, headers = await factory.signed_in(Role.BIDDER, org_id=org.id)
    with pytest.raises(errors.NotInterestedParty):
        await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 2)),
                 user=stranger)
    r = await client.post("/api/complaints", headers=headers, json={
        "tender_id": str(case["tender_id"]), "matter": "other", "known_on": "2026-03-02", "request": REQUEST,
        "grounds": GROUNDS})
    assert (r.status_code, r.json()["code"]) == (403, "not_interested_party")


async def test_non_regulator_cannot_accept_refuse_suspend_or_decide(factory, pool, clock, client):
    case = await documents_case(factory, pool, clock)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 2)),
                 user=case["user"])
    for who in (case["agency_user"], case["user"], await factory.user(Role.ADMIN)):
        with pytest.raises(errors.RegulatorRequired):
            await tx(pool, services.accept_complaint, clock, c.id, user=who)
        with pytest.raises(errors.RegulatorRequired):
            await tx(pool, services.decide_complaint, clock, c.id, ComplaintDecisionIn(outcome="upheld", text="x"),
                     user=who)
    agency = {"Authorization": f"Bearer {await factory.token(case['agency_user'])}"}
    for action, body in (("accept", None), ("refuse", {"reason": "x"}), ("suspend", {}),
                         ("decision", {"outcome": "upheld", "text": "x"})):
        r = await client.post(f"/api/complaints/{c.id}/{action}", json=body, headers=agency)
        assert r.status_code == 403, r.text
    assert [e["tag"] for e in await entries(pool, case["tender_id"])] == ["complaint:case:file"]


async def test_refusal_needs_a_reason_and_is_final(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 2)),
                 user=case["user"])
    with pytest.raises(errors.ComplaintIncomplete):
        await tx(pool, services.refuse_complaint, clock, c.id, ComplaintReviewIn(), user=case["regulator"])
    c = await tx(pool, services.refuse_complaint, clock, c.id, ComplaintReviewIn(reason="不属于本部门管辖"),
                 user=case["regulator"])
    assert c.status == "refused" and c.refuse_reason == "不属于本部门管辖"
    with pytest.raises(errors.ComplaintAlreadyReviewed):
        await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    with pytest.raises(errors.ComplaintNotAccepted):
        await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=case["regulator"])


async def test_deciding_before_acceptance_and_twice_refused(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 2)),
                 user=case["user"])
    decision = ComplaintDecisionIn(outcome="dismissed", text="驳回")
    with pytest.raises(errors.ComplaintNotAccepted):
        await tx(pool, services.decide_complaint, clock, c.id, decision, user=case["regulator"])
    await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    with pytest.raises(errors.ComplaintIncomplete):   # the written decision is required
        await tx(pool, services.decide_complaint, clock, c.id, ComplaintDecisionIn(outcome="upheld"),
                 user=case["regulator"])
    await tx(pool, services.decide_complaint, clock, c.id, decision, user=case["regulator"])
    with pytest.raises(errors.ComplaintAlreadyDecided):
        await tx(pool, services.decide_complaint, clock, c.id, ComplaintDecisionIn(outcome="upheld", text="成立"),
                 user=case["regulator"])


async def test_late_acceptance_is_recorded_late_and_shown_overdue_before(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 2)),
                 user=case["user"])
    assert c.accept_due == cst("2026-03-06T00:00")   # Mon 03-02 + 03-03, 04, 05
    clock.set(cst("2026-03-06T09:00"))
    [seen] = [x for x in await tx(pool, services.list_complaints, clock, user=case["regulator"]) if x.id == c.id]
    assert seen.overdue == "accept"
    c = await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    assert c.reviewed_late is True and c.overdue is None
    accept = (await entries(pool, case["tender_id"]))[-1]
    assert accept["tag"] == "complaint:case:accept" and accept["body"]["late"] is True
    clock.set(cst("2026-04-21T09:00"))   # 30 working days after 03-06 end with 04-20
    seen = await tx(pool, services.get_complaint, clock, c.id, user=case["regulator"])
    assert seen.overdue == "decision"


# ----------------------------------------------------------------------------------------------- suspension

async def test_regulator_suspension_blocks_the_deadline_and_lifting_restores_it(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    with pytest.raises(errors.SuspensionStateWrong):
        await tx(pool, services.resume_tender, clock, c.id, user=case["regulator"])
    await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(reason="资格条件待查"),
             user=case["regulator"])
    with pytest.raises(errors.SuspensionStateWrong):
        await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=case["regulator"])
    clock.set(cst("2026-03-27T09:30"))   # past the bid deadline
    with pytest.raises(TenderSuspended):
        await tx(pool, transition_lot, clock, case["lot_id"], "closed", actor="platform")
    with pytest.raises(TenderSuspended):   # the opening's own path
        async with pool.acquire() as conn, conn.transaction():
            await transition_lot(conn, clock, case["lot_id"], "opening", actor="platform")
    await tx(pool, services.resume_tender, clock, c.id, user=case["regulator"])
    await tx(pool, transition_lot, clock, case["lot_id"], "closed", actor="platform")
    resume = (await entries(pool, case["tender_id"]))[-1]
    assert resume["tag"] == "complaint:tender:resume" and resume["body"]["lifted"] is True


async def test_gov_procurement_suspension_lapses_after_30_days_from_the_first_order(factory, pool, clock, client):
    """政府采购法 第五十七条: 暂停时间最长不得超过三十日 — the order stops holding the procurement at its end by the
    clock (no sweep needed), the sweep then lifts and logs it, and the complaint cannot suspend it again."""
    from trading.opening import repository as opening_repo

    case = await documents_case(factory, pool, clock, **GP)
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    clock.set(cst("2026-03-06T10:00"))
    await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    c = await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=case["regulator"])
    ends = cst("2026-04-05T10:00")
    assert c.suspension_ends_at == ends
    assert datetime.fromisoformat((await entries(pool, case["tender_id"]))[-1]["body"]["ends_at"]) == ends
    # lifting and ordering again does not restart the 30 days
    clock.set(cst("2026-03-10T10:00"))
    await tx(pool, services.resume_tender, clock, c.id, user=case["regulator"])
    clock.set(cst("2026-03-12T10:00"))
    c = await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=case["regulator"])
    assert c.suspension_ends_at == ends
    reg = {"Authorization": f"Bearer {await factory.token(case['regulator'])}"}
    page = (await client.get("/regulator/complaints", headers=reg)).text
    assert "暂停至（最长三十日）: 2026-04-05 10:00" in page
    assert case["deadline"] < ends
    clock.set(case["deadline"] + timedelta(minutes=1))   # past the deadline, the order stands: nothing moves
    with pytest.raises(TenderSuspended):
        await tx(pool, transition_lot, clock, case["lot_id"], "closed", actor="platform")
    async with pool.acquire() as conn:
        assert case["lot_id"] not in await opening_repo.list_lots_due(conn, clock.now())
    # at its end the order no longer holds, whether or not the sweep has come by
    clock.set(ends)
    async with pool.acquire() as conn:
        assert case["lot_id"] in await opening_repo.list_lots_due(conn, clock.now())
    await tx(pool, transition_lot, clock, case["lot_id"], "closed", actor="platform")
    assert await tx(pool, services.lapse_suspensions, clock) == 1
    assert await tx(pool, services.lapse_suspensions, clock) == 0   # once
    resume = (await entries(pool, case["tender_id"]))[-1]
    assert (resume["tag"], resume["actor"], resume["body"]["lapsed"], resume["body"]["lifted"]) == (
        "complaint:tender:resume", None, True, True)
    assert (await flags(pool, case["tender_id"]))[1] is False
    with pytest.raises(errors.SuspensionLimitReached):
        await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=case["regulator"])


async def test_bidding_law_suspension_has_no_time_limit(factory, pool, clock):
    case, c = await accepted_complaint(factory, pool, clock)
    c = await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=case["regulator"])
    assert c.suspension_ends_at is None
    clock.advance(days=60)
    assert await tx(pool, services.lapse_suspensions, clock) == 0
    with pytest.raises(TenderSuspended):
        await tx(pool, transition_lot, clock, case["lot_id"], "closed", actor="platform")


async def test_answering_an_objection_does_not_lift_the_regulators_suspension_nor_the_reverse(factory, pool,
                                                                                               clock):
    case = await documents_case(factory, pool, clock)
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=case["regulator"])
    # another bidder objects (条例 第二十二条 suspends), the agency answers: the regulator's order stands
    _, other, _ = await factory.downloader(case["lot_id"])
    second = await tx(pool, tenders.file_objection, clock, case["tender_id"], ObjectionCreate(content="工期过短"),
                      user=other)
    assert await flags(pool, case["tender_id"]) == (True, True)
    await answer(pool, clock, case, second)
    assert await flags(pool, case["tender_id"]) == (False, True)
    # a third objection, unanswered: lifting the regulator's order leaves the objection's suspension
    third = await tx(pool, tenders.file_objection, clock, case["tender_id"], ObjectionCreate(content="评分办法不明"),
                     user=other)
    await tx(pool, services.resume_tender, clock, c.id, user=case["regulator"])
    assert await flags(pool, case["tender_id"]) == (True, False)
    clock.set(cst("2026-03-27T09:30"))
    with pytest.raises(TenderSuspended):
        await tx(pool, transition_lot, clock, case["lot_id"], "closed", actor="platform")
    await answer(pool, clock, case, third)
    await tx(pool, transition_lot, clock, case["lot_id"], "closed", actor="platform")


async def test_a_decision_lifts_only_the_suspension_it_ordered(factory, pool, clock):
    case = await documents_case(factory, pool, clock)
    _, other, _ = await factory.downloader(case["lot_id"])
    ids = []
    for user in (case["user"], other):
        c = await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 2)),
                     user=user)
        await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
        await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=case["regulator"])
        ids.append(c.id)
    await tx(pool, services.decide_complaint, clock, ids[0], ComplaintDecisionIn(outcome="dismissed", text="驳回"),
             user=case["regulator"])
    assert await flags(pool, case["tender_id"]) == (True, True)   # the objection of documents_case, and ids[1]
    await tx(pool, services.decide_complaint, clock, ids[1], ComplaintDecisionIn(outcome="dismissed", text="驳回"),
             user=case["regulator"])
    assert (await flags(pool, case["tender_id"]))[1] is False


# -------------------------------------------------------------------------------------------------- withdrawal

async def test_gov_procurement_withdrawal_ends_the_handling_at_once_and_lifts_its_suspension(factory, pool, clock,
                                                                                            client):
    case, c = await accepted_complaint(factory, pool, clock, **GP)
    await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(), user=case["regulator"])
    bidder = {"Authorization": f"Bearer {await factory.token(case['user'])}"}
    # in writing, with reasons
    r = await client.post(f"/api/complaints/{c.id}/withdraw", json={"reason": " "}, headers=bidder)
    assert r.status_code == 422 and r.json()["code"] == "complaint_incomplete", r.text
    # nobody else withdraws it
    _, other, _ = await factory.downloader(case["lot_id"])
    with pytest.raises(errors.ComplaintNotFound):
        await tx(pool, services.withdraw_complaint, clock, c.id, ComplaintWithdrawIn(reason="撤回"), user=other)
    r = await client.post(f"/api/complaints/{c.id}/withdraw", json={"reason": "经与采购人沟通，问题已解决"},
                          headers=bidder)
    assert r.status_code == 200 and r.json()["status"] == "withdrawn", r.text
    assert await flags(pool, case["tender_id"]) == (False, False)   # its order is lifted with it
    tags = [e["tag"] for e in await entries(pool, case["tender_id"])][-2:]
    assert tags == ["complaint:case:withdraw", "complaint:tender:resume"]
    with pytest.raises(errors.ComplaintNotAccepted):
        await tx(pool, services.decide_complaint, clock, c.id, ComplaintDecisionIn(outcome="upheld", text="成立"),
                 user=case["regulator"])
    with pytest.raises(errors.ComplaintClosed):
        await tx(pool, services.withdraw_complaint, clock, c.id, ComplaintWithdrawIn(reason="再次撤回"),
                 user=case["user"])
    # the same objection is not complained of again
    with pytest.raises(errors.ComplaintWithdrawnBefore):
        await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    reg = {"Authorization": f"Bearer {await factory.token(case['regulator'])}"}
    page = (await client.get("/regulator/complaints", headers=reg)).text
    assert "已撤回" in page and "经与采购人沟通，问题已解决" in page


async def test_bidding_law_withdrawal_before_acceptance_is_at_once_after_it_needs_the_authority(factory, pool,
                                                                                               clock):
    case = await documents_case(factory, pool, clock)
    clock.set(cst("2026-03-04T10:00"))
    await answer(pool, clock, case)
    first = await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 3)),
                     user=case["user"])
    first = await tx(pool, services.withdraw_complaint, clock, first.id, ComplaintWithdrawIn(reason="提交有误"),
                     user=case["user"])
    assert (first.status, first.reviewed_at) == ("withdrawn", None)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, objection=case["objection"]),
                 user=case["user"])
    await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    c = await tx(pool, services.withdraw_complaint, clock, c.id, ComplaintWithdrawIn(reason="已协商解决"),
                 user=case["user"])
    assert (c.status, c.withdraw_reason) == ("accepted", "已协商解决") and c.withdraw_requested_at is not None
    with pytest.raises(errors.WithdrawalPending):
        await tx(pool, services.withdraw_complaint, clock, c.id, ComplaintWithdrawIn(reason="再次申请"),
                 user=case["user"])
    with pytest.raises(errors.RegulatorRequired):
        await tx(pool, services.decide_withdrawal, clock, c.id, WithdrawalDecisionIn(allow=True), user=case["user"])
    # refused only with the violation found; the handling goes on
    with pytest.raises(errors.ComplaintIncomplete):
        await tx(pool, services.decide_withdrawal, clock, c.id, WithdrawalDecisionIn(allow=False),
                 user=case["regulator"])
    c = await tx(pool, services.decide_withdrawal, clock, c.id,
                 WithdrawalDecisionIn(allow=False, reason="已查实资格条件明显违法"), user=case["regulator"])
    assert (c.status, c.withdraw_requested_at, c.withdraw_refuse_reason) == ("accepted", None, "已查实资格条件明显违法")
    with pytest.raises(errors.WithdrawalNotRequested):
        await tx(pool, services.decide_withdrawal, clock, c.id, WithdrawalDecisionIn(allow=True),
                 user=case["regulator"])
    # asked again and allowed: the handling ends
    await tx(pool, services.withdraw_complaint, clock, c.id, ComplaintWithdrawIn(reason="补充说明后再次申请"),
             user=case["user"])
    c = await tx(pool, services.decide_withdrawal, clock, c.id, WithdrawalDecisionIn(allow=True),
                 user=case["regulator"])
    assert c.status == "withdrawn" and c.withdrawn_at == clock.now()
    tags = [e["tag"] for e in await entries(pool, case["tender_id"])]
    assert tags.count("complaint:withdraw:request") == 2 and tags.count("complaint:withdraw:refuse") == 1
    assert tags.count("complaint:case:withdraw") == 2
    allowed = [e for e in await entries(pool, case["tender_id"]) if e["tag"] == "complaint:case:withdraw"][-1]
    assert allowed["actor"] == str(case["regulator"].id) and allowed["body"]["allowed"] is True


# ---------------------------------------------------------------------------------------------- confidentiality

async def test_complaint_visible_to_complainant_regulators_and_once_accepted_the_agency_and_tenderer(
        factory, pool, clock, client):
    case = await documents_case(factory, pool, clock)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 2)),
                 user=case["user"])
    colleague = await factory.user(Role.BIDDER, org_id=case["org"].id)
    _, other_bidder, _ = await factory.downloader(case["lot_id"])
    tenderer = await factory.user(Role.BIDDER, org_id=case["tenderer_org"].id)
    expert = await factory.user(Role.EXPERT)
    outsiders = [other_bidder, expert, await factory.user(Role.ADMIN)]

    async def sees(user) -> bool:
        listed = c.id in [x.id for x in await tx(pool, services.list_complaints, clock, user=user)]
        try:
            await tx(pool, services.get_complaint, clock, c.id, user=user)
            got = True
        except errors.ComplaintNotFound:
            got = False
        assert listed == got
        return got

    assert await sees(colleague) and await sees(case["regulator"])
    for user in (case["agency_user"], tenderer, *outsiders):
        assert not await sees(user)
    await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    assert await sees(case["agency_user"]) and await sees(tenderer)
    for user in outsiders:
        assert not await sees(user)
    # before the bid deadline the agency does not learn who obtained the documents (招标投标法 第二十二条)
    seen = await tx(pool, services.get_complaint, clock, c.id, user=case["agency_user"])
    assert (seen.org_id, seen.org_name) == (None, None)
    assert (await tx(pool, services.get_complaint, clock, c.id, user=case["regulator"])).org_id == case["org"].id
    headers = {"Authorization": f"Bearer {await factory.token(other_bidder)}"}
    r = await client.get(f"/api/complaints/{c.id}", headers=headers)
    assert (r.status_code, r.json()["code"]) == (404, "complaint_not_found")
    clock.set(cst("2026-03-27T09:30"))
    seen = await tx(pool, services.get_complaint, clock, c.id, user=case["agency_user"])
    assert seen.org_id == case["org"].id


async def test_after_the_award_the_suspension_holds_the_contract(make_lot, pool, clock, settings, factory):
    from datetime import timedelta

    from evaluation.schemas import ContractIn
    from tests.evaluation.test_contract import awarded
    from trading.money import fen_to_yuan

    lot, out, price = await awarded(make_lot, pool, clock, settings)
    loser = next(u for (o, (u, _)), b in zip(lot["bidders"], lot["bid_ids"]) if str(b) != out["winner_bid_id"])
    regulator = await factory.user(Role.REGULATOR)
    c = await tx(pool, services.file_complaint, clock,
                 complaint_in(lot, "other", known_on=clock.now().astimezone(SHANGHAI).date()), user=loser)
    await tx(pool, services.accept_complaint, clock, c.id, user=regulator)
    await tx(pool, services.suspend_tender, clock, c.id, ComplaintSuspendIn(reason="中标人资格待查"), user=regulator)
    clock.advance(hours=1)
    contract = ContractIn(signed_at=clock.now() - timedelta(minutes=5), price_yuan=fen_to_yuan(price))
    with pytest.raises(TenderSuspended):
        await tx(pool, evaluation.record_contract, clock, lot["lot_id"], contract, actor=lot["agency_user"],
                 src=lot["roster"])
    await tx(pool, services.resume_tender, clock, c.id, user=regulator)
    await tx(pool, evaluation.record_contract, clock, lot["lot_id"], contract, actor=lot["agency_user"],
             src=lot["roster"])


# ---------------------------------------------------------------------------------------------- evidence (证明材料)

async def test_evidence_added_by_the_complainant_read_by_who_sees_the_complaint(factory, pool, clock, client):
    case = await documents_case(factory, pool, clock)
    c = await tx(pool, services.file_complaint, clock, complaint_in(case, "other", known_on=date(2026, 3, 2)),
                 user=case["user"])
    bidder = {"Authorization": f"Bearer {await factory.token(case['user'])}"}
    pdf = b"%PDF-1.4 \xe6\x8b\x9b\xe6\xa0\x87\xe6\x96\x87\xe4\xbb\xb6\xe7\xac\xac12\xe9\xa1\xb5"
    r = await client.post(f"/api/complaints/{c.id}/evidence", headers=bidder,
                          files={"file": ("招标文件第12页.pdf", pdf, "application/pdf")})
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["filename"] == "招标文件第12页.pdf" and ev["size"] == len(pdf)
    r = await client.post(f"/api/complaints/{c.id}/evidence", headers=bidder,
                          files={"file": ("empty.txt", b"", "text/plain")})
    assert (r.status_code, r.json()["code"]) == (422, "complaint_incomplete")
    _, other, _ = await factory.downloader(case["lot_id"])
    other_h = {"Authorization": f"Bearer {await factory.token(other)}"}
    r = await client.post(f"/api/complaints/{c.id}/evidence", headers=other_h,
                          files={"file": ("x.txt", b"x", "text/plain")})
    assert (r.status_code, r.json()["code"]) == (404, "complaint_not_found")

    reg = {"Authorization": f"Bearer {await factory.token(case['regulator'])}"}
    seen = (await client.get(f"/api/complaints/{c.id}", headers=reg)).json()
    assert [e["sha256"] for e in seen["evidence"]] == [ev["sha256"]]
    r = await client.get(f"/api/complaints/{c.id}/evidence/{ev['sha256']}", headers=reg)
    assert r.status_code == 200 and r.content == pdf and "attachment" in r.headers["content-disposition"]
    r = await client.get(f"/api/complaints/{c.id}/evidence/{ev['sha256']}", headers=other_h)
    assert r.status_code == 404
    [added] = [e for e in await entries(pool, case["tender_id"]) if e["tag"] == "complaint:evidence:add"]
    assert added["body"]["sha256"] == ev["sha256"]

    await tx(pool, services.accept_complaint, clock, c.id, user=case["regulator"])
    await tx(pool, services.decide_complaint, clock, c.id, ComplaintDecisionIn(outcome="dismissed", text="驳回"),
             user=case["regulator"])
    r = await client.post(f"/api/complaints/{c.id}/evidence", headers=bidder,
                          files={"file": ("late.pdf", b"%PDF late", "application/pdf")})
    assert (r.status_code, r.json()["code"]) == (409, "complaint_closed")
