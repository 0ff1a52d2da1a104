"""The opening on real PostgreSQL with real seal/v2 bids: deadline, failure, release, unsealing, attribution."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import msgspec
import pytest

from trading.opening import custodian as client
from trading.opening import repository as repo
from trading.opening import services
from trading.opening.errors import (
    OpeningBeforeDeadline,
    OpeningFailed,
    OpeningNotFound,
    OpeningObjectionsUnanswered,
    ReleaseInvalid,
)
from trading.opening.release import ShareRelease
from trading.pages import page_context  # noqa: F401 - labels are registered on import of the pages


async def _three_bids(opening, prices=("950000.00", "980000.00", "1010000.00")):
    bidders = []
    for p in prices:
        b = await opening.bidder()
        await opening.submit(b, p)
        bidders.append(b)
    return bidders


async def test_pass_deadline_refused_before_deadline(opening):
    await _three_bids(opening)
    opening.clock.set(opening.deadline - timedelta(seconds=1))
    with pytest.raises(OpeningBeforeDeadline):
        await opening.start()
    assert "lot:deadline:pass" not in await opening.tags()
    assert await opening.lot_status() == "published"


async def test_pass_deadline_with_fewer_than_three_bids_fails_lot_and_unseals_nothing(opening):
    for p in ("950000.00", "990000.00"):
        await opening.submit(await opening.bidder(), p)
    opening.after_deadline()
    session = await opening.start()
    assert session.status == "failed"
    assert await opening.lot_status() == "failed"
    tags = await opening.tags()
    assert "lot:deadline:pass" in tags and "opening:lot:fail" in tags
    assert "opening:session:start" not in tags
    with pytest.raises(OpeningFailed):
        await opening.bundle(0)
    async with opening.pool.acquire() as c:
        assert await c.fetchval("SELECT count(*) FROM opening_bids") == 0
        assert await c.fetchval("SELECT count(*) FROM opened_bids") == 0
        record = await repo.find_record(c, opening.lot_id)
    # 招标投标法 第三十六条: a record is made even for 流标 — outcome and count, no names, nothing unsealed.
    assert record.record["outcome"] == "failed" and record.record["bidder_count"] == 2
    assert record.record["bids"] == [] and record.pdf_sha256


async def test_pass_deadline_is_idempotent(opening):
    await _three_bids(opening)
    opening.after_deadline()
    first = await opening.start()
    second = await opening.start()
    assert first.start_seq == second.start_seq
    assert (await opening.tags()).count("opening:session:start") == 1


async def test_opening_with_two_of_three_custodians_opens_every_bid_and_publishes_record(opening):
    bidders = await _three_bids(opening)
    await opening.submit(bidders[0], "940000.00", attachment=b"%PDF-1.4 technical proposal " * 1000)  # replace
    opening.after_deadline()
    session = await opening.start()
    assert session.status == "unsealing" and await opening.lot_status() == "opening"
    r0 = await opening.release(0)
    assert r0.accepted == 3 and not r0.rejected
    report = await opening.unseal()
    assert report.opened == 0 and report.pending == 3  # one custodian is not enough
    await opening.release(2)
    report = await opening.unseal()
    assert (report.opened, report.pending, report.status) == (3, 0, "published")
    opened = await opening.opened()
    prices = sorted(o.price_fen for o in opened)
    assert prices == [94000000, 98000000, 101000000]  # the replaced 950000.00 is never opened
    first = next(o for o in opened if o.bidder_org_id == bidders[0].org.id)
    assert first.attachments and first.attachments[0]["size"] == len(b"%PDF-1.4 technical proposal " * 1000)
    assert first.form["duration_days"] == 180
    async with opening.pool.acquire() as c:
        record = await repo.find_record(c, opening.lot_id)
        entries = [msgspec.json.decode(bytes(r["entry"])) for r in await c.fetch(
            "SELECT entry FROM log_entries WHERE tag = 'bid:unseal:ok' AND lot_id = $1", opening.lot_id)]
    assert len(entries) == 3 and all(len(bytes.fromhex(e["body"]["dek"])) == 32 for e in entries)
    row = next(r for r in record.record["bids"] if r["bidder_org_id"] == str(bidders[0].org.id))
    assert row["price_capital"] == "玖拾肆万元整" and row["deposit_status"]
    from trading.blobs import blob_store

    pdf = blob_store(opening.settings).get_bytes(record.pdf_sha256)
    assert pdf.startswith(b"%PDF") and b"/ByteRange" in pdf
    assert "opening:record:publish" in await opening.tags()


async def test_custodian_client_refuses_before_deadline_by_its_own_clock(opening):
    await _three_bids(opening)
    opening.after_deadline()
    await opening.start()
    bundle = await opening.bundle(0)
    with pytest.raises(client.BundleRefused, match="has not passed"):
        client.check_bundle(bundle, lot_id=str(opening.lot_id), now=opening.deadline - timedelta(minutes=5))


async def test_release_before_deadline_refused_by_server(opening):
    await _three_bids(opening)
    opening.clock.set(opening.deadline - timedelta(minutes=1))
    with pytest.raises(OpeningNotFound):
        await opening.bundle(0)
    with pytest.raises((OpeningNotFound, OpeningBeforeDeadline)):
        await opening.release(0)


async def test_custodian_client_refuses_a_list_with_a_withdrawn_bid(opening):
    bidders = await _three_bids(opening)
    opening.after_deadline()
    await opening.start()
    bundle = await opening.bundle(0)
    # The server (or someone between) adds a withdrawal entry for a listed bid: the client refuses to release.
    w = msgspec.json.decode(bundle.bid_entries[0])
    w.update(tag="bid:seal:withdraw", seq=w["seq"])
    forged = msgspec.structs.replace(bundle, bid_entries=[*bundle.bid_entries, msgspec.json.encode(w)])
    with pytest.raises(client.BundleRefused, match="withdrawn"):
        client.check_bundle(forged, lot_id=str(opening.lot_id), now=opening.clock.now())
    dropped = msgspec.structs.replace(bundle, manifests=bundle.manifests[1:])
    with pytest.raises(client.BundleRefused, match="start entry lists"):
        client.check_bundle(dropped, lot_id=str(opening.lot_id), now=opening.clock.now())
    assert bidders


async def test_bad_share_rejected_and_logged_without_blocking_others(opening):
    bidders = await _three_bids(opening)
    opening.after_deadline()
    await opening.start()

    def corrupt_first(statement: bytes) -> bytes:
        rel = msgspec.json.decode(statement, type=ShareRelease)
        bad = msgspec.structs.replace(rel.shares[0], share=rel.shares[0].share[::-1])
        return msgspec.json.encode(msgspec.structs.replace(rel, shares=[bad, *rel.shares[1:]]))

    result = await opening.release(0, mutate=corrupt_first)
    assert result.accepted == 2 and [r["cause"] for r in result.rejected] == ["share_commit_mismatch"]
    assert "opening:share:reject" in await opening.tags()
    await opening.release(1)
    report = await opening.unseal()
    assert report.opened == 2 and report.pending == 1  # the bid with the bad share waits for a third share
    await opening.release(2)
    report = await opening.unseal()
    assert report.opened == 3 and report.status == "published"
    assert bidders


async def test_release_for_another_start_entry_refused(opening):
    await _three_bids(opening)
    opening.after_deadline()
    await opening.start()

    def other_list(statement: bytes) -> bytes:
        rel = msgspec.json.decode(statement, type=ShareRelease)
        return msgspec.json.encode(msgspec.structs.replace(rel, start_entry_sha256="00" * 32))

    with pytest.raises(ReleaseInvalid):
        await opening.release(0, mutate=other_list)


async def test_key_commit_mismatch_is_the_bidders_fault_and_revoked(opening):
    bidders = await _three_bids(opening)
    cheat = await opening.bidder()
    await opening.submit(cheat, "900000.00",
                         tamper=lambda m: msgspec.structs.replace(m, key_commit=bytes(32)))
    opening.after_deadline()
    await opening.start()
    await opening.release(0)
    await opening.release(1)
    report = await opening.unseal()
    assert (report.opened, report.revoked, report.status) == (3, 1, "published")
    bad = next(o for o in await opening.opened() if o.bidder_org_id == cheat.org.id)
    assert (bad.status, bad.cause, bad.price_fen) == ("revoked", "key_commit_mismatch", None)
    assert "bid:unseal:fail" in await opening.tags()
    assert bidders


async def test_fewer_than_k_custodians_in_window_treated_as_withdrawn(opening):
    await _three_bids(opening)
    opening.after_deadline()
    await opening.start()
    await opening.release(1)
    report = await opening.unseal()
    assert report.pending == 3 and report.status == "unsealing"
    opening.clock.advance(services.DECRYPTION_WINDOW + timedelta(seconds=1))
    report = await opening.unseal()
    assert (report.withdrawn, report.pending, report.status) == (3, 0, "published")
    assert {o.cause for o in await opening.opened()} == {"custodians_absent"}


async def test_restart_mid_opening_resumes_from_stored_shares(opening, database_url):
    from trading import db

    await _three_bids(opening)
    opening.after_deadline()
    await opening.start()
    await opening.release(0)
    await opening.release(2)
    # Settle one bid, then "crash": the other two stay pending with their shares stored.
    async with opening.pool.acquire() as c, c.transaction():
        assert await services.settle_next_bid(c, opening.clock, opening.settings, opening.lot_id)
    fresh = await db.create_pool(database_url, min_size=1, max_size=3)  # a new process after the restart
    try:
        report = await services.run_unsealing(fresh, opening.clock, opening.settings, opening.lot_id)
        again = await services.run_unsealing(fresh, opening.clock, opening.settings, opening.lot_id)
    finally:
        await fresh.close()
    assert (report.opened, report.status) == (3, "published")
    assert again == report
    tags = await opening.tags()
    assert tags.count("bid:unseal:ok") == 3 and tags.count("opening:record:publish") == 1


async def test_close_refused_while_objection_unanswered_then_lot_goes_to_evaluation(opening):
    from trading.events import subscribe

    seen = []

    async def on_opened(conn, clock, payload):
        seen.append(payload)

    subscribe("lot.opened", on_opened)
    bidders = await _three_bids(opening)
    opening.after_deadline()
    await opening.start()
    await opening.release(0)
    await opening.release(1)
    await opening.unseal()
    agency = opening.lot["agency_user"]
    async with opening.pool.acquire() as c, c.transaction():
        await services.sign_in(c, opening.clock, opening.lot_id, bidders[1].user)
        await services.confirm_record(c, opening.clock, opening.lot_id, bidders[1].user)
        objection = await services.raise_objection(c, opening.clock, opening.lot_id, bidders[0].user,
                                                   "第二名报价大写与小写是否一致？")
    with pytest.raises(OpeningObjectionsUnanswered):
        async with opening.pool.acquire() as c, c.transaction():
            await services.close_opening(c, opening.clock, opening.settings, opening.lot_id, agency)
    assert await opening.lot_status() == "opening"
    async with opening.pool.acquire() as c, c.transaction():
        await services.answer_objection(c, opening.clock, opening.lot_id, objection, agency, "一致，见开标记录表。")
        session = await services.close_opening(c, opening.clock, opening.settings, opening.lot_id, agency)
    assert session.status == "closed"
    assert await opening.lot_status() == "evaluation"
    async with opening.pool.acquire() as c:
        final = (await repo.find_record(c, opening.lot_id)).final_record
    assert sorted(final["unconfirmed"]) == sorted([bidders[0].org.name, bidders[2].org.name])
    assert [o["answer"] for o in final["objections"]] == ["一致，见开标记录表。"]
    assert seen and seen[-1]["lot_id"] == opening.lot_id
    tags = await opening.tags()
    for tag in ("opening:bidder:signin", "opening:record:confirm", "opening:objection:raise",
                "opening:objection:answer", "opening:session:close"):
        assert tag in tags


async def test_hall_hides_names_until_record_published(opening):
    from trading.opening.pages import hall_view

    bidders = await _three_bids(opening)
    opening.after_deadline()
    await opening.start()
    async with opening.pool.acquire() as c, c.transaction():
        await services.sign_in(c, opening.clock, opening.lot_id, bidders[0].user)
        view = await hall_view(c, opening.clock, opening.lot_id, bidders[1].user)
    assert view["signin_count"] == 1 and view["signins"] == [] and view["record"] is None
    await opening.release(0)
    await opening.release(1)
    await opening.unseal()
    async with opening.pool.acquire() as c:
        view = await hall_view(c, opening.clock, opening.lot_id, bidders[1].user)
    assert [s.org_id for s in view["signins"]] == [bidders[0].org.id]
    assert {r["bidder_name"] for r in view["record"]["bids"]} == {b.org.name for b in bidders}


async def test_custodian_client_refuses_a_replaced_version_on_the_list(opening):
    bidders = await _three_bids(opening)
    old = bidders[0].bids[-1]
    await opening.submit(bidders[0], "930000.00")
    opening.after_deadline()
    await opening.start()
    bundle = await opening.bundle(0)
    assert client.check_bundle(bundle, lot_id=str(opening.lot_id), now=opening.clock.now())
    # Swap the latest version for the replaced one, in the list and in the start entry.
    new_sha = bidders[0].bids[-1].manifest_sha256.hex()
    start = msgspec.json.decode(bundle.start_entry)
    for m in start["body"]["manifests"]:
        if m["manifest_sha256"] == new_sha:
            m["manifest_sha256"] = old.manifest_sha256.hex()
    import hashlib

    manifests = [old.manifest_bytes if hashlib.sha256(d).hexdigest() == new_sha else d for d in bundle.manifests]
    forged = msgspec.structs.replace(bundle, start_entry=msgspec.json.encode(start), manifests=manifests)
    with pytest.raises(client.BundleRefused, match="replaced"):
        client.check_bundle(forged, lot_id=str(opening.lot_id), now=opening.clock.now())
    hidden = msgspec.structs.replace(forged, accepted_manifests=[d for d in bundle.accepted_manifests
                                                                 if hashlib.sha256(d).hexdigest() != new_sha])
    with pytest.raises(client.BundleRefused, match="missing from the bundle"):
        client.check_bundle(hidden, lot_id=str(opening.lot_id), now=opening.clock.now())


async def test_record_deposit_column_comes_from_registered_lookup_else_not_checked(opening):
    from trading.opening import deposit_status

    bidders = await _three_bids(opening)
    opening.after_deadline()
    await opening.start()
    await opening.release(0)
    await opening.release(1)
    await opening.unseal()
    saved = deposit_status._lookup

    async def lookup(conn, lot_id, org_ids):
        return {bidders[0].org.id: "已缴纳（银行转账）"}

    try:
        deposit_status.register_deposit_lookup(lookup)
        async with opening.pool.acquire() as c:
            record = await services.build_record(c, opening.clock, opening.lot_id)
        by_org = {r["bidder_org_id"]: r["deposit_status"] for r in record["bids"]}
        assert by_org[str(bidders[0].org.id)] == "已缴纳（银行转账）"
        assert by_org[str(bidders[1].org.id)] == "未核验"
        deposit_status.register_deposit_lookup(None)
        async with opening.pool.acquire() as c:
            record = await services.build_record(c, opening.clock, opening.lot_id)
        assert {r["deposit_status"] for r in record["bids"]} == {"未核验"}
    finally:
        deposit_status.register_deposit_lookup(saved)


async def test_failed_lot_hall_shows_outcome_without_names(opening, factory):
    from trading.accounts.schemas import Role
    from trading.opening.pages import hall_view

    for p in ("950000.00", "990000.00"):
        await opening.submit(await opening.bidder(), p)
    opening.after_deadline()
    await opening.start()
    viewer = await factory.user(Role.BIDDER, org_id=(await factory.org("bidder")).id)
    async with opening.pool.acquire() as c:
        view = await hall_view(c, opening.clock, opening.lot_id, viewer)
    assert view["status"] == "failed" and view["record"]["outcome"] == "failed"
    assert view["bids"] == [] and view["record"]["bids"] == []


async def test_custodian_client_refuses_entries_not_in_the_signed_log(opening):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from trading.records.keys import verifier_key

    await _three_bids(opening)
    opening.after_deadline()
    await opening.start()
    bundle = await opening.bundle(0)
    now = opening.clock.now()
    assert bundle.checkpoint and len(bundle.proofs) == 2 + len(bundle.bid_entries)
    assert client.check_bundle(bundle, lot_id=str(opening.lot_id), now=now, log_key=opening.log_key())
    # An entry the platform never logged (same shape, altered body) is caught by its inclusion proof.
    start = msgspec.json.decode(bundle.start_entry)
    start["body"]["k"] = 3
    forged = msgspec.structs.replace(bundle, start_entry=msgspec.json.encode(start))
    with pytest.raises(client.BundleRefused, match="not in the signed log"):
        client.check_bundle(forged, lot_id=str(opening.lot_id), now=now, log_key=opening.log_key())
    # A checkpoint the custodian cannot verify with the key it holds is refused.
    other = verifier_key(opening.settings.origin, Ed25519PrivateKey.generate())
    with pytest.raises(client.BundleRefused, match="not signed by the platform"):
        client.check_bundle(bundle, lot_id=str(opening.lot_id), now=now, log_key=other)
    unsigned = msgspec.structs.replace(bundle, checkpoint=None)
    with pytest.raises(client.BundleRefused, match="no signed checkpoint"):
        client.check_bundle(unsigned, lot_id=str(opening.lot_id), now=now, log_key=opening.log_key())


async def test_unsealing_from_two_processes_at_once_settles_each_bid_once(opening, database_url):
    from trading import db

    await _three_bids(opening, prices=("950000.00", "980000.00", "1010000.00", "1020000.00", "1030000.00"))
    opening.after_deadline()
    await opening.start()
    await opening.release(0)
    await opening.release(1)
    other = await db.create_pool(database_url, min_size=1, max_size=4)  # a second app process
    try:
        a, b = await asyncio.gather(
            services.run_unsealing(opening.pool, opening.clock, opening.settings, opening.lot_id),
            services.run_unsealing(other, opening.clock, opening.settings, opening.lot_id))
    finally:
        await other.close()
    assert "published" in (a.status, b.status)  # whichever settled the last bid published the record
    async with opening.pool.acquire() as c:
        final = await services.unseal_report(c, opening.lot_id)
    assert (final.opened, final.pending, final.status) == (5, 0, "published")
    tags = await opening.tags()
    assert tags.count("bid:unseal:ok") == 5 and tags.count("opening:record:publish") == 1
