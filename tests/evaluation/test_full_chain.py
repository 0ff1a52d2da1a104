"""The whole chain with nothing stood in: bids sealed with seal/v2 and opened by two of three custodians
(trading.opening), the committee drawn with draw/v1 and confirmed (expert_pool), then evaluation, report,
publicity and award through the platform sources — and the tender archive verifying offline."""
from __future__ import annotations

from datetime import timedelta

from evaluation import services, sources
from evaluation.schemas import AwardIn, ConfirmIn, DeclarationIn, PublicityIn
from tests.evaluation.conftest import SCHEME
from tests.evaluation.test_services import full_sheet
from tests.trading.opening.conftest import Opening
from trading.blobs import blob_store
from trading.records.archive import stream_archive
from trading.records.keys import platform_verifier_key
from trading.records.verify import verify_archive


async def test_sealed_bids_opened_committee_drawn_evaluated_and_awarded(factory, pool, clock, settings, tmp_path,
                                                                        experts, awarded_calls):
    from expert_pool import repository as ep_repo
    from expert_pool import services as ep
    from tests.expert_pool.conftest import draw_request
    from trading.opening import services as opening_services

    opening = await Opening(factory, pool, clock, settings, tmp_path).setup()
    lot, lid = opening.lot, opening.lot_id
    agency = lot["agency_user"]

    team = await experts.pool_of(7)
    user_of = {e.id: u for u, e in team}
    async with pool.acquire() as c, c.transaction():
        req = draw_request(lid, clock, alternates=1, evaluation_at=opening.deadline + timedelta(days=1))
        view = await ep.request_draw(c, clock, agency, req)
        await ep.contribute(c, clock, agency, view.id, "agency-random-value-0001")
        for m in await ep_repo.list_members(c, view.id):
            if m["status"] == "invited":
                await ep.confirm_invitation(c, clock, user_of[m["expert_id"]], m["id"])

    bidders = [await opening.bidder() for _ in range(4)]
    proposal = b"%PDF-1.4 technical proposal\n" * 200
    for b, price in zip(bidders, ("1000000.00", "800000.00", "1250000.00", "900000.00")):
        await opening.submit(b, price, attachment=proposal if price == "1000000.00" else None)
    opening.after_deadline()
    await opening.start()
    await opening.release(0)
    await opening.release(1)
    await opening.unseal()
    async with pool.acquire() as c, c.transaction():
        await opening_services.close_opening(c, clock, settings, lid, agency)
    assert await opening.lot_status() == "evaluation"

    src = sources.PlatformSources()
    async with pool.acquire() as c, c.transaction():
        await services.set_scheme(c, clock, lid, SCHEME, actor=agency)
        await services.start_evaluation(c, clock, lid, actor=agency, src=src)
        bids = await src.opened_bids(c, lid)
        committee = await src.committee(c, lid)
    assert sorted(b.price_fen for b in bids) == [80_000_000, 90_000_000, 100_000_000, 125_000_000]
    bid_ids = [b.bid_id for b in bids]
    sitting = [user_of[m.expert_id] for m in committee]
    for i, u in enumerate(sitting):
        async with pool.acquire() as c, c.transaction():
            await services.declare(c, clock, lid, DeclarationIn(conflict=False), user=u, src=src)
            if i == 0:
                with_att = next(b for b in bids if b.attachments)
                name, data = await services.download_attachment(
                    c, clock, lid, with_att.bid_id, with_att.attachments[0]["sha256"], user=u,
                    blobs=blob_store(settings), src=src)
                assert data == proposal
            await services.save_sheet(c, clock, lid, full_sheet(bid_ids), user=u, src=src)
            out = await services.submit_sheet(c, clock, lid, user=u, src=src)
    assert out["revealed"]
    async with pool.acquire() as c, c.transaction():
        chair = next(m for m in committee if user_of[m.expert_id] == sitting[0])
        await services.appoint_chair(c, clock, lid, chair.expert_id, actor=agency)
        report = await services.draft_report(c, clock, lid, user=sitting[0], src=src)
    # equal points everywhere: the ranking is the price ranking
    by_id = {str(b.bid_id): b.price_fen for b in bids}
    assert [by_id[x] for x in report["candidates"]] == [80_000_000, 90_000_000, 100_000_000]
    for u in sitting:
        async with pool.acquire() as c, c.transaction():
            await services.confirm_report(c, clock, lid, ConfirmIn(agrees=True), user=u, settings=settings)
    async with pool.acquire() as c, c.transaction():
        await services.publish_candidates(c, clock, lid, PublicityIn(contact="0591-1"), actor=agency)
    clock.advance(days=3, seconds=1)
    async with pool.acquire() as c, c.transaction():
        award = await services.issue_award(c, clock, lid, AwardIn(), actor=agency, settings=settings, src=src)
    assert by_id[award["winner_bid_id"]] == 80_000_000 and len(award["notices"]) == 4
    assert len(awarded_calls) == 1

    archive = tmp_path / "archive.zip"
    with archive.open("wb") as f:
        async for chunk in stream_archive(pool, clock, settings, tender_id=lot["tender_id"]):
            f.write(chunk)
    checked = verify_archive(archive, trusted_keys=[platform_verifier_key(settings)])
    assert checked.ok, checked
