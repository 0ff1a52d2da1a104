"""复核 after an upheld objection to the result (招标投标法实施条例 第五十四条): the committee evaluates again, a new
report and a new publicity follow, the earlier round is archived, and the award can then be issued."""
from __future__ import annotations

import pytest

from evaluation import errors, services
from evaluation.schemas import AwardIn, ConfirmIn, ObjectionAnswerIn, ObjectionIn, PublicityIn, ReviewIn
from tests.evaluation.test_award import bidder_of, published
from tests.evaluation.test_services import full_sheet, score_all, tx


async def _object(pool, clock, lot, pub, *, upheld: bool):
    objector = bidder_of(lot, pub["candidates"][1]["bid_id"])
    obj = await tx(pool, services.file_objection, clock, lot["lot_id"], ObjectionIn(content="第一名资质证书已过期"),
                   user=objector, src=lot["roster"])
    await tx(pool, services.answer_objection, clock, lot["lot_id"], obj["id"],
             ObjectionAnswerIn(answer="经核查属实" if upheld else "经核查不属实", upheld=upheld),
             actor=lot["agency_user"])
    return obj


async def test_upheld_objection_reopens_the_evaluation_and_the_new_result_is_awarded(make_lot, pool, clock,
                                                                                     settings, client):
    lot, pub = await published(make_lot, pool, clock, settings)
    first = pub["candidates"][0]["bid_id"]
    obj = await _object(pool, clock, lot, pub, upheld=True)
    out = await tx(pool, services.review_again, clock, lot["lot_id"], ReviewIn(reason="异议成立，原评标委员会复核"),
                   actor=lot["agency_user"])
    assert out == {"lot_id": str(lot["lot_id"]), "round": 2, "status": "scoring"}
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT status FROM lots WHERE id = $1", lot["lot_id"]) == "evaluation"
        [archived] = await c.fetch("SELECT * FROM evaluation_rounds WHERE lot_id = $1", lot["lot_id"])
        statuses = {r["status"] for r in await c.fetch("SELECT status FROM evaluation_sheets WHERE lot_id = $1",
                                                       lot["lot_id"])}
    assert archived["round"] == 1 and [o["id"] for o in archived["objections"]] == [str(obj["id"])]
    assert archived["publicity"]["candidates"][0]["bid_id"] == first and archived["report"]["signed_at"]
    assert statuses == {"draft"}
    assert (await client.get(f"/api/lots/{lot['lot_id']}/publicity")).status_code == 404  # no candidates shown now

    # The committee fails the first candidate this time (every member), submits; a new report and publicity.
    i = [str(b) for b in lot["bid_ids"]].index(first)
    sheet = full_sheet(lot["bid_ids"], fails={(i, "q1"), (3, "q2")})
    await score_all(pool, clock, lot, {n: sheet for n in range(5)})
    chair = lot["experts"][0]
    await tx(pool, services.draft_report, clock, lot["lot_id"], user=chair["user"], src=lot["roster"])
    for p in lot["experts"]:
        await tx(pool, services.confirm_report, clock, lot["lot_id"], ConfirmIn(agrees=True), user=p["user"],
                 settings=settings)
    pub2 = await tx(pool, services.publish_candidates, clock, lot["lot_id"], PublicityIn(contact="0591-1"),
                    actor=lot["agency_user"])
    assert first not in [c["bid_id"] for c in pub2["candidates"]]
    clock.advance(days=3, seconds=1)
    award = await tx(pool, services.issue_award, clock, lot["lot_id"], AwardIn(), actor=lot["agency_user"],
                     settings=settings, src=lot["roster"])
    assert award["winner_bid_id"] == pub2["candidates"][0]["bid_id"] != first
    async with pool.acquire() as c:
        tags = [r["tag"] for r in await c.fetch("SELECT tag FROM log_entries WHERE lot_id = $1 ORDER BY seq",
                                                lot["lot_id"])]
    assert tags.count("evaluation:report:sign") == 2 and tags.count("award:publicity:start") == 2
    assert "evaluation:session:review" in tags


async def test_review_refused_without_an_upheld_objection_or_by_another_agency(make_lot, pool, clock, settings,
                                                                              factory):
    lot, pub = await published(make_lot, pool, clock, settings)
    with pytest.raises(errors.ReviewNotAllowed):
        await tx(pool, services.review_again, clock, lot["lot_id"], ReviewIn(reason="复核"), actor=lot["agency_user"])
    await _object(pool, clock, lot, pub, upheld=False)
    with pytest.raises(errors.ReviewNotAllowed):
        await tx(pool, services.review_again, clock, lot["lot_id"], ReviewIn(reason="复核"), actor=lot["agency_user"])
    objector = bidder_of(lot, pub["candidates"][2]["bid_id"])
    await tx(pool, services.file_objection, clock, lot["lot_id"], ObjectionIn(content="另一异议"), user=objector,
             src=lot["roster"])
    with pytest.raises(errors.ObjectionsUnanswered):     # still unanswered
        await tx(pool, services.review_again, clock, lot["lot_id"], ReviewIn(reason="复核"), actor=lot["agency_user"])
    other = await factory.org("agency")
    stranger, _ = await factory.signed_in("agency", org_id=other.id)
    with pytest.raises(errors.AgencyRequired):
        await tx(pool, services.review_again, clock, lot["lot_id"], ReviewIn(reason="复核"), actor=stranger)


async def test_award_page_offers_the_review_once_an_objection_is_upheld(make_lot, pool, clock, settings, client,
                                                                       factory, monkeypatch):
    from evaluation import sources

    lot, pub = await published(make_lot, pool, clock, settings)
    monkeypatch.setattr(sources, "current", lot["roster"])
    cookie = {"Cookie": f"th_token={await factory.token(lot['agency_user'])}"}
    r = await client.get(f"/evaluation/lots/{lot['lot_id']}/award?lang=zh", headers=cookie)
    assert r.status_code == 200 and 'id="review"' not in r.text
    await _object(pool, clock, lot, pub, upheld=True)
    r = await client.get(f"/evaluation/lots/{lot['lot_id']}/award?lang=zh", headers=cookie)
    assert 'id="review"' in r.text and "复核" in r.text
    r = await client.post(f"/api/lots/{lot['lot_id']}/evaluation/review", json={"reason": "异议成立"},
                          headers={"Authorization": f"Bearer {await factory.token(lot['agency_user'])}"})
    assert r.status_code == 200 and r.json()["round"] == 2
