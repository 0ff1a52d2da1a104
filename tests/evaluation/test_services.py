"""Rules of evaluation on real PostgreSQL, each with the refusal of the bad case."""
from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest

from evaluation import errors, services
from evaluation.schemas import (
    ConfirmIn,
    DeclarationIn,
    FlagAnswerIn,
    MarkIn,
    ScoreIn,
    SheetIn,
)
from tests.evaluation.conftest import SCHEME


async def tx(pool, fn, *args, **kw):
    async with pool.acquire() as c, c.transaction():
        return await fn(c, *args, **kw)


def full_sheet(bid_ids, points=None, fails=()):
    """Every criterion passed (except `fails`), every item scored: points[bid index] = (t1, t2, c1)."""
    scores, marks = [], []
    for n, b in enumerate(bid_ids):
        t1, t2, c1 = (points or {}).get(n, (24, 16, 15))
        for item, v in (("t1", t1), ("t2", t2), ("c1", c1)):
            scores.append(ScoreIn(bid_id=b, item_id=item, points=str(v), comment="" if Decimal(v) >= Decimal(
                {"t1": 18, "t2": 12, "c1": 12}[item]) else "偏低"))
        for crit in ("q1", "q2"):
            failed = (n, crit) in fails
            marks.append(MarkIn(bid_id=b, criterion_id=crit, passed=not failed, comment="不符合" if failed else ""))
    return SheetIn(scores=scores, marks=marks)


async def declare_all(pool, clock, lot, people=None):
    for p in people or lot["experts"]:
        await tx(pool, services.declare, clock, lot["lot_id"], DeclarationIn(conflict=False, statement=""),
                 user=p["user"], src=lot["roster"])


async def score_all(pool, clock, lot, sheets=None, people=None):
    out = None
    for i, p in enumerate(people or lot["experts"]):
        sheet = (sheets or {}).get(i) or full_sheet(lot["bid_ids"])
        await tx(pool, services.save_sheet, clock, lot["lot_id"], sheet, user=p["user"], src=lot["roster"])
        out = await tx(pool, services.submit_sheet, clock, lot["lot_id"], user=p["user"], src=lot["roster"])
    return out


async def test_start_refuses_even_or_small_committee(make_lot, pool, clock):
    lot = await make_lot(experts=4, start=False)
    with pytest.raises(errors.CommitteeInvalid):
        await tx(pool, services.start_evaluation, clock, lot["lot_id"], actor=lot["agency_user"], src=lot["roster"])


async def test_start_refuses_without_scheme(make_lot, pool, clock):
    lot = await make_lot(scheme=None, start=False)
    with pytest.raises(errors.SchemeMissing):
        await tx(pool, services.start_evaluation, clock, lot["lot_id"], actor=lot["agency_user"], src=lot["roster"])


async def test_scheme_refuses_bad_weights_and_is_frozen_after_start(make_lot, pool, clock):
    lot = await make_lot()
    bad = SCHEME.__class__(**{**{f: getattr(SCHEME, f) for f in SCHEME.__struct_fields__}, "price_weight": "0.2"})
    with pytest.raises(errors.SchemeFrozen):
        await tx(pool, services.set_scheme, clock, lot["lot_id"], SCHEME, actor=lot["agency_user"])
    lot2 = await make_lot(start=False)
    with pytest.raises(errors.SchemeInvalid) as exc:
        await tx(pool, services.set_scheme, clock, lot2["lot_id"], bad, actor=lot2["agency_user"])
    assert "weights_invalid" in exc.value.extra["problems"]


async def test_scheme_refuses_low_price_weight_in_government_procurement(make_lot, pool, clock):
    lot = await make_lot(start=False, scheme=None, regime="gov_procurement", procurement_type="goods")
    low = SCHEME.__class__(**{**{f: getattr(SCHEME, f) for f in SCHEME.__struct_fields__},
                              "technical_weight": "0.6", "price_weight": "0.2"})
    with pytest.raises(errors.SchemeInvalid) as exc:
        await tx(pool, services.set_scheme, clock, lot["lot_id"], low, actor=lot["agency_user"])
    assert exc.value.extra["problems"] == ["price_weight_too_low"]


async def test_scheme_refuses_other_agency(make_lot, pool, clock, factory):
    lot = await make_lot(start=False, scheme=None)
    other_org = await factory.org("agency")
    other, _ = await factory.signed_in("agency", org_id=other_org.id)
    with pytest.raises(errors.AgencyRequired):
        await tx(pool, services.set_scheme, clock, lot["lot_id"], SCHEME, actor=other)


async def test_bids_hidden_until_declaration(make_lot, pool, clock):
    lot = await make_lot()
    expert = lot["experts"][0]["user"]
    with pytest.raises(errors.DeclarationRequired):
        await tx(pool, services.read_bids, clock, lot["lot_id"], user=expert, src=lot["roster"])
    await declare_all(pool, clock, lot, lot["experts"][:1])
    bids = await tx(pool, services.read_bids, clock, lot["lot_id"], user=expert, src=lot["roster"])
    assert len(bids) == 4


async def test_non_member_refused(make_lot, pool, clock, factory):
    lot = await make_lot()
    outsider, _ = await factory.signed_in("expert")
    with pytest.raises(errors.MemberRequired):
        await tx(pool, services.declare, clock, lot["lot_id"], DeclarationIn(conflict=False), user=outsider,
                 src=lot["roster"])


async def test_declaration_refused_twice(make_lot, pool, clock):
    lot = await make_lot()
    await declare_all(pool, clock, lot, lot["experts"][:1])
    with pytest.raises(errors.DeclarationAlreadySigned):
        await declare_all(pool, clock, lot, lot["experts"][:1])


async def test_conflict_replaces_member_and_voids_nothing_before_scores(make_lot, pool, clock):
    lot = await make_lot()
    first = lot["experts"][0]
    with pytest.raises(errors.ReasonRequired):
        await tx(pool, services.declare, clock, lot["lot_id"], DeclarationIn(conflict=True, statement=" "),
                 user=first["user"], src=lot["roster"])
    out = await tx(pool, services.declare, clock, lot["lot_id"],
                   DeclarationIn(conflict=True, statement="曾在投标人处任职"), user=first["user"], src=lot["roster"])
    assert out["replaced_by"] == str(lot["alternates"][0]["member"].expert_id)
    with pytest.raises(errors.MemberRequired):
        await tx(pool, services.read_bids, clock, lot["lot_id"], user=first["user"], src=lot["roster"])
    # the alternate sits and must declare like everyone else
    alt = lot["alternates"][0]
    await declare_all(pool, clock, lot, [alt])
    assert len(await tx(pool, services.read_bids, clock, lot["lot_id"], user=alt["user"], src=lot["roster"])) == 4


async def test_replacement_voids_submitted_scores_and_new_member_scores_again(make_lot, pool, clock):
    lot = await make_lot()
    await declare_all(pool, clock, lot)
    await score_all(pool, clock, lot, people=lot["experts"][:2])
    gone = lot["experts"][1]
    await tx(pool, services.replace_member, clock, lot["lot_id"], gone["member"].expert_id, reason="发现与投标人有利害关系",
             actor=lot["agency_user"], src=lot["roster"])
    async with pool.acquire() as c:
        status = await c.fetchval("SELECT status FROM evaluation_sheets WHERE expert_id = $1", gone["member"].expert_id)
        tags = [r["tag"] for r in await c.fetch("SELECT tag FROM log_entries WHERE lot_id = $1 ORDER BY seq",
                                                lot["lot_id"])]
    assert status == "void"
    assert "evaluation:score:void" in tags and "evaluation:member:replace" in tags
    sitting = [lot["experts"][0], *lot["experts"][2:], lot["alternates"][0]]
    await declare_all(pool, clock, lot, lot["alternates"][:1])
    out = await score_all(pool, clock, lot, people=sitting[1:])
    assert out["revealed"] is True


async def test_scores_validated_and_locked_after_submission(make_lot, pool, clock):
    lot = await make_lot()
    p = lot["experts"][0]
    await declare_all(pool, clock, lot, [p])
    too_high = SheetIn(scores=[ScoreIn(bid_id=lot["bid_ids"][0], item_id="t1", points="31")])
    with pytest.raises(errors.SheetInvalid):
        await tx(pool, services.save_sheet, clock, lot["lot_id"], too_high, user=p["user"], src=lot["roster"])
    low = SheetIn(scores=[ScoreIn(bid_id=lot["bid_ids"][0], item_id="t1", points="5")])
    with pytest.raises(errors.SheetInvalid) as exc:
        await tx(pool, services.save_sheet, clock, lot["lot_id"], low, user=p["user"], src=lot["roster"])
    assert exc.value.extra["problems"][0]["code"] == "comment_required"
    partial = SheetIn(scores=[ScoreIn(bid_id=lot["bid_ids"][0], item_id="t1", points="25")])
    await tx(pool, services.save_sheet, clock, lot["lot_id"], partial, user=p["user"], src=lot["roster"])
    with pytest.raises(errors.SheetInvalid):
        await tx(pool, services.submit_sheet, clock, lot["lot_id"], user=p["user"], src=lot["roster"])
    await tx(pool, services.save_sheet, clock, lot["lot_id"], full_sheet(lot["bid_ids"]), user=p["user"],
             src=lot["roster"])
    out = await tx(pool, services.submit_sheet, clock, lot["lot_id"], user=p["user"], src=lot["roster"])
    assert out["revealed"] is False
    with pytest.raises(errors.SheetLocked):
        await tx(pool, services.save_sheet, clock, lot["lot_id"], partial, user=p["user"], src=lot["roster"])
    with pytest.raises(errors.SheetLocked):
        await tx(pool, services.submit_sheet, clock, lot["lot_id"], user=p["user"], src=lot["roster"])


async def test_table_hidden_until_every_member_submits(make_lot, pool, clock):
    lot = await make_lot()
    await declare_all(pool, clock, lot)
    await score_all(pool, clock, lot, people=lot["experts"][:4])
    with pytest.raises(errors.ScoresHidden):
        await tx(pool, services.committee_table, lot["lot_id"], user=lot["experts"][0]["user"], src=lot["roster"])
    mine = await tx(pool, services.my_sheet, lot["lot_id"], user=lot["experts"][0]["user"], src=lot["roster"])
    assert {s["expert_id"] for s in [mine]} == {str(lot["experts"][0]["member"].expert_id)}
    await score_all(pool, clock, lot, people=lot["experts"][4:])
    table = await tx(pool, services.committee_table, lot["lot_id"], user=lot["experts"][0]["user"], src=lot["roster"])
    assert table["status"] == "review" and len(table["sheets"]) == 5


async def _reviewed(make_lot, pool, clock, **kw):
    """Bid 3 (index) invalid by majority on q2; expert 4 gives bid 0 an outlier t1 of 5 (others 24)."""
    lot = await make_lot(**kw)
    await declare_all(pool, clock, lot)
    sheets = {i: full_sheet(lot["bid_ids"], fails={(3, "q2")} if i < 3 else ()) for i in range(5)}
    sheets[4] = full_sheet(lot["bid_ids"], points={0: (5, 16, 15)})
    out = await score_all(pool, clock, lot, sheets)
    assert out["revealed"]
    return lot


async def test_aggregate_excludes_invalid_bid_and_flags_outlier(make_lot, pool, clock):
    lot = await _reviewed(make_lot, pool, clock)
    table = await tx(pool, services.committee_table, lot["lot_id"], user=lot["agency_user"], src=lot["roster"])
    by = {r["bid_id"]: r for r in table["results"]}
    invalid = by[str(lot["bid_ids"][3])]
    assert not invalid["valid"] and invalid["failures"][0]["reason_code"] == "non_responsive"
    # base price = 80,000,000 fen (bid 1) → bid 0 price score 80, bid 2 64
    assert by[str(lot["bid_ids"][0])]["price_score"] == "80.00"
    assert by[str(lot["bid_ids"][2])]["price_score"] == "64.00"
    assert [f["item_id"] for f in table["flags"]] == ["t1"]
    assert table["flags"][0]["expert_id"] == str(lot["experts"][4]["member"].expert_id)


async def test_report_refused_while_flag_open_then_drafted(make_lot, pool, clock):
    lot = await _reviewed(make_lot, pool, clock)
    chair = lot["experts"][0]
    for p in lot["experts"][:3]:
        await tx(pool, services.vote_chair, clock, lot["lot_id"], chair["member"].expert_id, user=p["user"])
    with pytest.raises(errors.ChairRequired):
        await tx(pool, services.draft_report, clock, lot["lot_id"], user=lot["experts"][1]["user"], src=lot["roster"])
    with pytest.raises(errors.FlagsOpen):
        await tx(pool, services.draft_report, clock, lot["lot_id"], user=chair["user"], src=lot["roster"])
    table = await tx(pool, services.committee_table, lot["lot_id"], user=chair["user"], src=lot["roster"])
    flag_id = table["flags"][0]["id"]
    with pytest.raises(errors.MemberRequired):
        await tx(pool, services.answer_flag, clock, lot["lot_id"], flag_id,
                 FlagAnswerIn(action="confirm", reason="x"), user=chair["user"], src=lot["roster"])
    with pytest.raises(errors.ReasonRequired):
        await tx(pool, services.answer_flag, clock, lot["lot_id"], flag_id, FlagAnswerIn(action="confirm", reason=""),
                 user=lot["experts"][4]["user"], src=lot["roster"])
    await tx(pool, services.answer_flag, clock, lot["lot_id"], flag_id,
             FlagAnswerIn(action="revise", reason="复核后调整", new_points="22"), user=lot["experts"][4]["user"],
             src=lot["roster"])
    with pytest.raises(errors.FlagAlreadyAnswered):
        await tx(pool, services.answer_flag, clock, lot["lot_id"], flag_id,
                 FlagAnswerIn(action="confirm", reason="x"), user=lot["experts"][4]["user"], src=lot["roster"])
    out = await tx(pool, services.draft_report, clock, lot["lot_id"], user=chair["user"], src=lot["roster"])
    assert len(out["candidates"]) == 3


async def test_reject_all_refused_with_three_valid_bids(make_lot, pool, clock):
    lot = await _reviewed(make_lot, pool, clock)
    chair = lot["experts"][0]
    await tx(pool, services.appoint_chair, clock, lot["lot_id"], chair["member"].expert_id, actor=lot["agency_user"])
    with pytest.raises(errors.RejectionNotAllowed):
        await tx(pool, services.reject_all, clock, lot["lot_id"], "竞争不足", user=chair["user"])


async def test_reject_all_fails_lot_with_fewer_than_three_valid_bids(make_lot, pool, clock):
    lot = await make_lot(prices=(100_000_000, 80_000_000, 125_000_000))
    await declare_all(pool, clock, lot)
    await score_all(pool, clock, lot, {i: full_sheet(lot["bid_ids"], fails={(2, "q1")}) for i in range(5)})
    chair = lot["experts"][2]
    await tx(pool, services.appoint_chair, clock, lot["lot_id"], chair["member"].expert_id, actor=lot["agency_user"])
    out = await tx(pool, services.reject_all, clock, lot["lot_id"], "有效投标不足三个，缺乏竞争", user=chair["user"])
    assert out == {"status": "rejected", "valid": 2}
    async with pool.acquire() as c:
        assert await c.fetchval("SELECT status FROM lots WHERE id = $1", lot["lot_id"]) == "failed"


async def test_report_confirmation_dissent_needs_text(make_lot, pool, clock, settings):
    lot = await _reviewed(make_lot, pool, clock)
    chair = lot["experts"][0]
    await tx(pool, services.appoint_chair, clock, lot["lot_id"], chair["member"].expert_id, actor=lot["agency_user"])
    table = await tx(pool, services.committee_table, lot["lot_id"], user=chair["user"], src=lot["roster"])
    await tx(pool, services.answer_flag, clock, lot["lot_id"], table["flags"][0]["id"],
             FlagAnswerIn(action="confirm", reason="该方案确有缺陷"), user=lot["experts"][4]["user"], src=lot["roster"])
    await tx(pool, services.draft_report, clock, lot["lot_id"], user=chair["user"], src=lot["roster"])
    with pytest.raises(errors.ReasonRequired):
        await tx(pool, services.confirm_report, clock, lot["lot_id"], ConfirmIn(agrees=False),
                 user=lot["experts"][1]["user"], settings=settings)
    await tx(pool, services.confirm_report, clock, lot["lot_id"], ConfirmIn(agrees=True), user=chair["user"],
             settings=settings)
    with pytest.raises(errors.ReportAlreadyConfirmed):
        await tx(pool, services.confirm_report, clock, lot["lot_id"], ConfirmIn(agrees=True), user=chair["user"],
                 settings=settings)


async def test_chair_elected_only_by_strict_majority(make_lot, pool, clock, factory):
    lot = await make_lot()
    candidate = lot["experts"][2]["member"].expert_id
    for p in lot["experts"][:2]:
        out = await tx(pool, services.vote_chair, clock, lot["lot_id"], candidate, user=p["user"])
    assert out == {"candidate": str(candidate), "votes": 2, "members": 5, "elected": False}
    out = await tx(pool, services.vote_chair, clock, lot["lot_id"], candidate, user=lot["experts"][3]["user"])
    assert out["elected"] is True
    outsider = lot["alternates"][0]["member"].expert_id       # drawn as an alternate, not sitting
    with pytest.raises(errors.MemberRequired):
        await tx(pool, services.vote_chair, clock, lot["lot_id"], outsider, user=lot["experts"][0]["user"])


async def test_lowest_price_method_ranks_by_price_with_qualification_only(make_lot, pool, clock, settings):
    from evaluation.schemas import CriterionIn, SchemeIn

    scheme = SchemeIn(criteria=[CriterionIn(id="q1", name="资质证书", reason_code="bidder_unqualified")])
    lot = await make_lot(method="lowest_price", scheme=scheme)
    await declare_all(pool, clock, lot)
    # the cheapest bid (index 1, ¥800,000) fails q1 with 3 of 5 experts
    for i, p in enumerate(lot["experts"]):
        marks = [MarkIn(bid_id=b, criterion_id="q1", passed=not (n == 1 and i < 3), comment="资质过期" if n == 1 and
                        i < 3 else "") for n, b in enumerate(lot["bid_ids"])]
        await tx(pool, services.save_sheet, clock, lot["lot_id"], SheetIn(marks=marks), user=p["user"],
                 src=lot["roster"])
        out = await tx(pool, services.submit_sheet, clock, lot["lot_id"], user=p["user"], src=lot["roster"])
    assert out["revealed"]
    table = await tx(pool, services.committee_table, lot["lot_id"], user=lot["agency_user"], src=lot["roster"])
    order = [(r["price_fen"], r["rank"], r["valid"]) for r in table["results"]]
    assert order == [(90_000_000, 1, True), (100_000_000, 2, True), (125_000_000, 3, True), (80_000_000, None, False)]
    assert table["flags"] == []
    await tx(pool, services.appoint_chair, clock, lot["lot_id"], lot["experts"][0]["member"].expert_id,
             actor=lot["agency_user"])
    await tx(pool, services.draft_report, clock, lot["lot_id"], user=lot["experts"][0]["user"], src=lot["roster"])
    for p in lot["experts"]:
        out = await tx(pool, services.confirm_report, clock, lot["lot_id"], ConfirmIn(agrees=True), user=p["user"],
                       settings=settings)
    assert out["status"] == "signed"


async def test_score_correction_only_after_totalling_with_reason_and_recomputes(make_lot, pool, clock, settings):
    from evaluation.schemas import CorrectionIn

    lot = await make_lot()
    await declare_all(pool, clock, lot)
    p = lot["experts"][1]
    fix = CorrectionIn(bid_id=lot["bid_ids"][0], item_id="t1", new_points="30", reason_code="adding_error",
                       reason="汇总时漏计一项")
    await score_all(pool, clock, lot, people=lot["experts"][:4])
    with pytest.raises(errors.EvaluationStateWrong):           # not before every member has submitted
        await tx(pool, services.correct_score, clock, lot["lot_id"], fix, user=p["user"], src=lot["roster"])
    await score_all(pool, clock, lot, people=lot["experts"][4:])
    before = await tx(pool, services.committee_table, lot["lot_id"], user=p["user"], src=lot["roster"])
    with pytest.raises(errors.ReasonRequired):
        await tx(pool, services.correct_score, clock, lot["lot_id"],
                 CorrectionIn(**{**{f: getattr(fix, f) for f in fix.__struct_fields__}, "reason": " "}),
                 user=p["user"], src=lot["roster"])
    with pytest.raises(errors.SheetInvalid):
        await tx(pool, services.correct_score, clock, lot["lot_id"],
                 CorrectionIn(**{**{f: getattr(fix, f) for f in fix.__struct_fields__}, "new_points": "31"}),
                 user=p["user"], src=lot["roster"])
    out = await tx(pool, services.correct_score, clock, lot["lot_id"], fix, user=p["user"], src=lot["roster"])
    assert (out["old_points"], out["new_points"]) == ("24.00", "30")
    after = await tx(pool, services.committee_table, lot["lot_id"], user=p["user"], src=lot["roster"])
    total = {r["bid_id"]: r["total"] for r in after["results"]}
    old_total = {r["bid_id"]: r["total"] for r in before["results"]}
    # +6 points of 50 technical for one of five experts: +100·6/50·0.5/5 = +1.20
    bid = str(lot["bid_ids"][0])
    assert Decimal(total[bid]) - Decimal(old_total[bid]) == Decimal("1.20")
    assert after["corrections"][0]["reason_code"] == "adding_error"


async def test_silent_members_are_deemed_to_agree_when_the_agency_closes_the_signing(make_lot, pool, clock, settings,
                                                                                    tmp_path):
    """招标投标法实施条例 第五十三条: refusing to sign without a written dissent counts as agreement."""
    import subprocess

    from trading.blobs import blob_store

    lot = await _reviewed(make_lot, pool, clock)
    chair = lot["experts"][0]
    await tx(pool, services.appoint_chair, clock, lot["lot_id"], chair["member"].expert_id, actor=lot["agency_user"])
    table = await tx(pool, services.committee_table, lot["lot_id"], user=chair["user"], src=lot["roster"])
    await tx(pool, services.answer_flag, clock, lot["lot_id"], UUID(table["flags"][0]["id"]),
             FlagAnswerIn(action="confirm", reason="确有缺陷"), user=lot["experts"][4]["user"], src=lot["roster"])
    await tx(pool, services.draft_report, clock, lot["lot_id"], user=chair["user"], src=lot["roster"])
    for p in lot["experts"][:3]:
        await tx(pool, services.confirm_report, clock, lot["lot_id"], ConfirmIn(agrees=True), user=p["user"],
                 settings=settings)
    with pytest.raises(errors.ReportSigningOpen):              # the members still have time
        await tx(pool, services.close_report_signing, clock, lot["lot_id"], actor=lot["agency_user"],
                 settings=settings)
    with pytest.raises(errors.AgencyRequired):
        await tx(pool, services.close_report_signing, clock, lot["lot_id"], actor=chair["user"], settings=settings)
    clock.advance(seconds=services.REPORT_SIGNING_PERIOD.total_seconds())
    out = await tx(pool, services.close_report_signing, clock, lot["lot_id"], actor=lot["agency_user"],
                   settings=settings)
    silent = {str(p["member"].expert_id) for p in lot["experts"][3:]}
    assert out["status"] == "signed" and set(out["deemed"]) == silent
    path = tmp_path / "report.pdf"
    path.write_bytes(blob_store(settings).get_bytes(out["pdf_sha256"]))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert text.count("视为同意") == 2
    with pytest.raises(errors.EvaluationStateWrong):            # signed: nothing left to close
        await tx(pool, services.close_report_signing, clock, lot["lot_id"], actor=lot["agency_user"],
                 settings=settings)
