"""Publicity (中标候选人公示) and award (中标通知书): each rule with its refusal."""
from __future__ import annotations

from uuid import UUID

import pytest

from evaluation import errors, services
from evaluation.schemas import AwardIn, ConfirmIn, ObjectionAnswerIn, ObjectionIn, PublicityIn
from tests.evaluation.test_services import _reviewed, tx
from trading import events


async def signed(make_lot, pool, clock, settings, **lot_kw):
    lot = await _reviewed(make_lot, pool, clock, **lot_kw)
    chair = lot["experts"][0]
    await tx(pool, services.appoint_chair, clock, lot["lot_id"], chair["member"].expert_id, actor=lot["agency_user"])
    table = await tx(pool, services.committee_table, lot["lot_id"], user=chair["user"], src=lot["roster"])
    await tx(pool, services.answer_flag, clock, lot["lot_id"], UUID(table["flags"][0]["id"]),
             services.FlagAnswerIn(action="confirm", reason="确有缺陷"), user=lot["experts"][4]["user"],
             src=lot["roster"])
    await tx(pool, services.draft_report, clock, lot["lot_id"], user=chair["user"], src=lot["roster"])
    for p in lot["experts"]:
        await tx(pool, services.confirm_report, clock, lot["lot_id"], ConfirmIn(agrees=True), user=p["user"],
                 settings=settings)
    return lot


async def published(make_lot, pool, clock, settings):
    lot = await signed(make_lot, pool, clock, settings)
    pub = await tx(pool, services.publish_candidates, clock, lot["lot_id"], PublicityIn(contact="0591-1"),
                   actor=lot["agency_user"])
    return lot, pub


def bidder_of(lot, bid_id):
    return next(u for (o, (u, _)), b in zip(lot["bidders"], lot["bid_ids"]) if str(b) == str(bid_id))


async def test_publicity_refused_before_report_is_signed(make_lot, pool, clock):
    lot = await _reviewed(make_lot, pool, clock)
    with pytest.raises(errors.EvaluationStateWrong):
        await tx(pool, services.publish_candidates, clock, lot["lot_id"], PublicityIn(contact="x"),
                 actor=lot["agency_user"])


async def test_publicity_refused_to_non_agency_and_shorter_than_three_days(make_lot, pool, clock, settings):
    lot = await signed(make_lot, pool, clock, settings)
    with pytest.raises(errors.AgencyRequired):
        await tx(pool, services.publish_candidates, clock, lot["lot_id"], PublicityIn(contact="x"),
                 actor=lot["experts"][0]["user"])
    with pytest.raises(errors.PublicityTooShort):
        await tx(pool, services.publish_candidates, clock, lot["lot_id"], PublicityIn(contact="x", days=2),
                 actor=lot["agency_user"])


async def test_publicity_lists_up_to_three_candidates_in_rank_order(make_lot, pool, clock, settings):
    lot, pub = await published(make_lot, pool, clock, settings)
    assert [c["rank"] for c in pub["candidates"]] == [1, 2, 3]
    assert str(lot["bid_ids"][3]) not in [c["bid_id"] for c in pub["candidates"]]   # the invalid bid


async def test_objection_refused_from_organisation_that_did_not_bid(make_lot, pool, clock, settings, factory):
    lot, _ = await published(make_lot, pool, clock, settings)
    org = await factory.org("bidder")
    stranger, _ = await factory.signed_in("bidder", org_id=org.id)
    with pytest.raises(errors.ObjectorNotEntitled):
        await tx(pool, services.file_objection, clock, lot["lot_id"], ObjectionIn(content="异议"), user=stranger,
                 src=lot["roster"])


async def test_award_refused_while_publicity_runs(make_lot, pool, clock, settings):
    lot, _ = await published(make_lot, pool, clock, settings)
    clock.advance(days=2, hours=23)
    with pytest.raises(errors.PublicityRunning):
        await tx(pool, services.issue_award, clock, lot["lot_id"], AwardIn(), actor=lot["agency_user"],
                 settings=settings, src=lot["roster"])


async def test_upheld_objection_blocks_award_and_answer_refused_twice(make_lot, pool, clock, settings):
    lot, pub = await published(make_lot, pool, clock, settings)
    objector = bidder_of(lot, pub["candidates"][1]["bid_id"])
    obj = await tx(pool, services.file_objection, clock, lot["lot_id"], ObjectionIn(content="第一名资质证书过期"),
                   user=objector, src=lot["roster"])
    await tx(pool, services.answer_objection, clock, lot["lot_id"], obj["id"],
             ObjectionAnswerIn(answer="经核查属实", upheld=True), actor=lot["agency_user"])
    with pytest.raises(errors.ObjectionAlreadyAnswered):
        await tx(pool, services.answer_objection, clock, lot["lot_id"], obj["id"],
                 ObjectionAnswerIn(answer="again"), actor=lot["agency_user"])
    clock.advance(days=3, seconds=1)
    with pytest.raises(errors.ObjectionUpheld):
        await tx(pool, services.issue_award, clock, lot["lot_id"], AwardIn(), actor=lot["agency_user"],
                 settings=settings, src=lot["roster"])


async def test_lower_candidate_needs_a_reason_and_non_candidate_refused(make_lot, pool, clock, settings):
    lot, pub = await published(make_lot, pool, clock, settings)
    clock.advance(days=3, seconds=1)
    second = UUID(pub["candidates"][1]["bid_id"])
    with pytest.raises(errors.WinnerNotCandidate):
        await tx(pool, services.issue_award, clock, lot["lot_id"], AwardIn(winner_bid_id=lot["bid_ids"][3]),
                 actor=lot["agency_user"], settings=settings, src=lot["roster"])
    with pytest.raises(errors.ReasonRequired):
        await tx(pool, services.issue_award, clock, lot["lot_id"], AwardIn(winner_bid_id=second),
                 actor=lot["agency_user"], settings=settings, src=lot["roster"])
    out = await tx(pool, services.issue_award, clock, lot["lot_id"],
                   AwardIn(winner_bid_id=second, reason="第一中标候选人放弃中标"), actor=lot["agency_user"],
                   settings=settings, src=lot["roster"])
    assert out["winner_bid_id"] == str(second)
    async with pool.acquire() as c:
        row = await c.fetchrow("SELECT rank, reason FROM award_notices WHERE lot_id = $1 AND kind = 'award'",
                               lot["lot_id"])
    assert (row["rank"], row["reason"]) == (2, "第一中标候选人放弃中标")


async def test_failing_awarded_handler_rolls_the_award_back(make_lot, pool, clock, settings):
    lot, _ = await published(make_lot, pool, clock, settings)
    clock.advance(days=3, seconds=1)

    async def refund_fails(conn, clock, payload):
        raise RuntimeError("bank link down")

    events.subscribe("lot.awarded", refund_fails)
    try:
        with pytest.raises(RuntimeError):
            await tx(pool, services.issue_award, clock, lot["lot_id"], AwardIn(), actor=lot["agency_user"],
                     settings=settings, src=lot["roster"])
    finally:
        events._HANDLERS["lot.awarded"].remove(refund_fails)
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT status FROM lots WHERE id = $1", lot["lot_id"]) == "publicity"
        assert await c.fetchval("SELECT count(*) FROM award_notices WHERE lot_id = $1", lot["lot_id"]) == 0


async def test_attachments_not_readable_after_evaluation(make_lot, pool, clock, settings):
    from trading.blobs import blob_store

    lot, _ = await published(make_lot, pool, clock, settings)
    bids = await tx(pool, services._bids, lot["lot_id"], lot["roster"])
    att = bids[0].attachments[0]
    with pytest.raises(errors.LotNotEvaluating):
        await tx(pool, services.download_attachment, clock, lot["lot_id"], bids[0].bid_id, att["sha256"],
                 user=lot["experts"][1]["user"], blobs=blob_store(settings), src=lot["roster"])


async def _sweep(pool, clock) -> int:
    return await tx(pool, services.flag_overdue_objections, clock)


async def test_result_objection_answer_due_in_three_days_and_overdue_logged_once(make_lot, pool, clock, settings,
                                                                                 client, factory):
    from datetime import datetime, timedelta

    import msgspec

    from trading.accounts.schemas import Role
    from trading.dates import local_date, start_of_day

    lot, pub = await published(make_lot, pool, clock, settings)
    objector = bidder_of(lot, pub["candidates"][1]["bid_id"])
    filed = clock.now()
    obj = await tx(pool, services.file_objection, clock, lot["lot_id"], ObjectionIn(content="第一名业绩造假"),
                   user=objector, src=lot["roster"])
    due = start_of_day(local_date(filed) + timedelta(days=4))  # day of receipt not counted, then 3 days
    assert datetime.fromisoformat(obj["answer_due"]) == due
    clock.set(due - timedelta(seconds=1))
    assert await _sweep(pool, clock) == 0
    clock.set(due)
    assert await _sweep(pool, clock) == 1
    assert await _sweep(pool, clock) == 0
    async with pool.acquire() as c:
        [entry] = [msgspec.json.decode(bytes(r["entry"])) for r in await c.fetch(
            "SELECT entry FROM log_entries WHERE tag = 'award:objection:overdue'")]
    assert entry["body"]["objection"] == str(obj["id"])
    _, regulator = await factory.signed_in(Role.REGULATOR)
    r = await client.get("/api/regulator/overdue-award-objections", headers=regulator)
    assert r.status_code == 200 and [o["id"] for o in r.json()] == [str(obj["id"])]
    agency = {"Authorization": f"Bearer {await factory.token(lot['agency_user'])}"}
    assert (await client.get("/api/regulator/overdue-award-objections", headers=agency)).status_code == 403
    await tx(pool, services.answer_objection, clock, lot["lot_id"], obj["id"],
             ObjectionAnswerIn(answer="经核查不属实", upheld=False), actor=lot["agency_user"])
    async with pool.acquire() as c:
        answer = msgspec.json.decode(bytes(await c.fetchval(
            "SELECT entry FROM log_entries WHERE tag = 'award:objection:answer'")))
    assert answer["body"]["late"] is True
    assert (await client.get("/api/regulator/overdue-award-objections", headers=regulator)).json() == []


async def test_result_objection_answered_in_time_is_not_late(make_lot, pool, clock, settings):
    import msgspec

    lot, pub = await published(make_lot, pool, clock, settings)
    objector = bidder_of(lot, pub["candidates"][1]["bid_id"])
    obj = await tx(pool, services.file_objection, clock, lot["lot_id"], ObjectionIn(content="异议"), user=objector,
                   src=lot["roster"])
    await tx(pool, services.answer_objection, clock, lot["lot_id"], obj["id"],
             ObjectionAnswerIn(answer="已答复", upheld=False), actor=lot["agency_user"])
    clock.advance(days=10)
    assert await _sweep(pool, clock) == 0
    async with pool.acquire() as c:
        answer = msgspec.json.decode(bytes(await c.fetchval(
            "SELECT entry FROM log_entries WHERE tag = 'award:objection:answer'")))
    assert answer["body"]["late"] is False
