"""Hand-computed examples for the evaluation arithmetic (evaluation/scoring.py)."""
from decimal import Decimal as D
from fractions import Fraction as F

import pytest

from evaluation.scoring import (
    Bid,
    Criterion,
    Item,
    Scheme,
    Sheet,
    aggregate,
    display,
    outliers,
    price_scores,
    qualification,
    scheme_problems,
    sheet_problems,
)

ITEMS = (Item("t1", "technical", D(30)), Item("t2", "technical", D(20)), Item("c1", "commercial", D(20)))
CRITERIA = (Criterion("q1", "bidder_unqualified"), Criterion("q2", "non_responsive"))
SCHEME = Scheme(method="comprehensive", items=ITEMS, criteria=CRITERIA, technical_weight=D("0.5"),
                commercial_weight=D("0.2"), price_weight=D("0.3"))


def sheet(expert, points, fails=()):
    bids = {b for b, _ in points}
    marks = {(b, c.id): (b, c.id) not in fails for b in bids for c in CRITERIA}
    pts = {}
    for bid, values in points.items() if isinstance(points, dict) else points:
        for item, v in zip(("t1", "t2", "c1"), values):
            pts[(bid, item)] = D(v)
    return Sheet(expert_id=expert, marks=marks, points=pts,
                 comments={k: "reason" for k, v in marks.items() if not v})


def _sheets(table, fails=None):
    return [sheet(e, list(rows.items()), (fails or {}).get(e, ())) for e, rows in table.items()]


# A 1,000,000.00; B 800,000.00 (lowest, base); C 1,250,000.00 — price scores 80, 100, 64.
BIDS = [Bid("A", 100_000_000), Bid("B", 80_000_000), Bid("C", 125_000_000)]
TABLE = {
    "e1": {"A": (24, 16, 15), "B": (21, 14, 12), "C": (27, 18, 18)},
    "e2": {"A": (25, 15, 16), "B": (20, 15, 14), "C": (28, 17, 17)},
    "e3": {"A": (26, 17, 14), "B": (22, 13, 13), "C": (26, 19, 16)},
}


def test_price_score_is_base_over_price_times_100():
    assert price_scores(BIDS) == {"A": F(80), "B": F(100), "C": F(64)}


def test_price_score_keeps_highest_and_lowest_prices():
    # 87号令 第五十五条: nothing is dropped; the base is the minimum of all valid prices.
    scores = price_scores([Bid("x", 300), Bid("y", 100), Bid("z", 200)])
    assert scores == {"x": F(100, 3), "y": F(100), "z": F(50)}
    assert display(scores["x"]) == D("33.33")


def test_price_score_refuses_non_positive_price():
    with pytest.raises(ValueError):
        price_scores([Bid("x", 0)])


def test_aggregate_hand_computed_totals_and_ranking():
    # A: experts 79, 80, 81 → 80; B: 77, 79, 78 → 78; C: 82.2, 81.2, 80.2 → 81.2 (see docs/evaluation.md).
    out = aggregate(SCHEME, BIDS, _sheets(TABLE))
    by = {r.bid_id: r for r in out.results}
    assert [t.total for t in by["A"].expert_totals] == [F(79), F(80), F(81)]
    assert [t.total for t in by["C"].expert_totals] == [F(822, 10), F(812, 10), F(802, 10)]
    assert by["A"].total == 80 and by["B"].total == 78 and by["C"].total == F(812, 10)
    assert by["C"].price_score == 64 and by["C"].technical == 45
    assert [(r.bid_id, r.rank) for r in out.results] == [("C", 1), ("A", 2), ("B", 3)]
    assert [r.bid_id for r in out.candidates()] == ["C", "A", "B"]
    assert not any(r.tied for r in out.results)


def test_aggregate_mean_is_exact_and_displayed_half_up():
    # e3 gives B (21, 14, 14): technical 35 → 35, commercial 14 → 14, price 30 → 79; totals 77, 79, 79 → 235/3.
    table = {**TABLE, "e3": {**TABLE["e3"], "B": (21, 14, 14)}}
    out = aggregate(SCHEME, BIDS, _sheets(table))
    b = next(r for r in out.results if r.bid_id == "B")
    assert b.total == F(235, 3)
    assert display(b.total) == D("78.33")
    assert display(F(78125, 1000)) == D("78.13")  # half up, not banker's rounding


def test_qualification_majority_and_invalid_bid_excluded_from_base_price():
    # D is the cheapest bid but fails q2 with two of three experts: invalid, so the base stays B's price.
    bids = BIDS + [Bid("D", 50_000_000)]
    table = {e: {**rows, "D": (30, 20, 20)} for e, rows in TABLE.items()}
    fails = {"e1": {("D", "q2")}, "e2": {("D", "q2")}, "e3": {("A", "q1")}}
    sheets = _sheets(table, fails)
    qual = qualification(SCHEME, bids, sheets)
    assert qual["A"] == []                      # q1 failed by one of three: passes
    assert [(f.criterion_id, f.reason_code, f.passes) for f in qual["D"]] == [("q2", "non_responsive", 1)]
    out = aggregate(SCHEME, bids, sheets)
    d = next(r for r in out.results if r.bid_id == "D")
    assert not d.valid and d.rank is None and d.total is None
    assert out.results[-1].bid_id == "D"
    assert next(r for r in out.results if r.bid_id == "B").price_score == 100


def test_qualification_tie_of_an_even_committee_is_not_a_majority():
    sheets = [Sheet(expert_id=e, marks={("A", "q1"): ok, ("A", "q2"): True}, points={})
              for e, ok in (("e1", True), ("e2", True), ("e3", False), ("e4", False))]
    assert [f.criterion_id for f in qualification(SCHEME, [Bid("A", 1)], sheets)["A"]] == ["q1"]


def _flat(scores: dict[str, dict[str, int]]):
    """One technical item per bid, max 100; scores[expert][bid]."""
    return [Sheet(expert_id=e, marks={}, points={(b, "t"): D(v) for b, v in rows.items()})
            for e, rows in scores.items()]


FLAT = Scheme(method="comprehensive", items=(Item("t", "technical", D(100)),), technical_weight=D("0.7"),
              price_weight=D("0.3"))


def test_tie_on_total_broken_by_lower_price():
    bids = [Bid("X", 300_000), Bid("Y", 100_000)]
    sheets = _flat({"e1": {"X": 90, "Y": 60}, "e2": {"X": 90, "Y": 60}, "e3": {"X": 90, "Y": 60}})
    # X: 0.7·90 + 0.3·(100/3) = 63 + 10 = 73 exactly; Y: 0.7·60 + 0.3·100 = 42 + 30 = 72.
    out = aggregate(FLAT, bids, sheets)
    assert next(r for r in out.results if r.bid_id == "X").total == 73
    half = Scheme(method="comprehensive", items=FLAT.items, technical_weight=D("0.5"), price_weight=D("0.5"))
    # X: 0.5·90 + 0.5·33⅓ = 45 + 16⅔ = 61⅔; Y: 0.5·t + 50 = 61⅔ → t = 23⅓ — average of experts 23, 23, 24.
    sheets = _flat({"e1": {"X": 90, "Y": 23}, "e2": {"X": 90, "Y": 23}, "e3": {"X": 90, "Y": 24}})
    out = aggregate(half, bids, sheets)
    x, y = (next(r for r in out.results if r.bid_id == b) for b in "XY")
    assert x.total == y.total == F(185, 3)      # an exact tie that 28-digit decimals would miss
    assert (y.rank, x.rank) == (1, 2)           # lower price first
    assert not x.tied and not y.tied


def test_tie_on_total_and_price_broken_by_higher_technical_score():
    scheme = Scheme(method="comprehensive", items=(Item("t", "technical", D(100)), Item("c", "commercial", D(100))),
                    technical_weight=D("0.4"), commercial_weight=D("0.4"), price_weight=D("0.2"))
    bids = [Bid("P", 1000), Bid("Q", 1000)]
    sheets = [Sheet(expert_id="e1", marks={}, points={("P", "t"): D(80), ("P", "c"): D(60),
                                                      ("Q", "t"): D(70), ("Q", "c"): D(70)})]
    out = aggregate(scheme, bids, sheets)
    p, q = out.results
    assert (p.bid_id, p.total, p.technical) == ("P", F(76), F(32))
    assert (q.bid_id, q.total, q.technical) == ("Q", F(76), F(28))
    assert (p.rank, q.rank) == (1, 2) and not p.tied


def test_full_tie_is_marked_for_the_committee():
    bids = [Bid("P", 1000), Bid("Q", 1000), Bid("R", 2000)]
    sheets = _flat({"e1": {"P": 50, "Q": 50, "R": 90}})
    out = aggregate(FLAT, bids, sheets)
    by = {r.bid_id: r for r in out.results}
    assert by["P"].rank == by["Q"].rank and by["P"].tied and by["Q"].tied and not by["R"].tied


def test_lowest_price_method_ranks_valid_bids_by_price():
    scheme = Scheme(method="lowest_price", criteria=CRITERIA)
    bids = [Bid("A", 300), Bid("B", 100), Bid("C", 200), Bid("D", 50)]
    marks = {(b.id, c.id): not (b.id == "D" and c.id == "q1") for b in bids for c in CRITERIA}
    sheets = [Sheet(expert_id=e, marks=marks, points={}, comments={("D", "q1"): "资质不符"}) for e in ("1", "2", "3")]
    out = aggregate(scheme, bids, sheets)
    assert [(r.bid_id, r.rank) for r in out.results] == [("B", 1), ("C", 2), ("A", 3), ("D", None)]
    assert out.results[-1].failures[0].reason_code == "bidder_unqualified"


def test_outlier_flagged_above_share_of_max_from_mean_of_others():
    scheme = Scheme(method="comprehensive", items=(Item("t", "technical", D(20)),), technical_weight=D(1))
    # 18 vs mean(10, 11) = 10.5 → 7.5 > 0.3·20 = 6: flagged; 10 vs 14.5 → 4.5 and 11 vs 14 → 3 are not.
    sheets = [Sheet(expert_id=e, marks={}, points={("A", "t"): D(v)}) for e, v in (("e1", 10), ("e2", 11), ("e3", 18))]
    found = outliers(scheme, ["A"], sheets)
    assert [(o.expert_id, o.points, o.others_mean) for o in found] == [("e3", D(18), F(21, 2))]


def test_outlier_not_flagged_at_exactly_the_share():
    scheme = Scheme(method="comprehensive", items=(Item("t", "technical", D(20)),), technical_weight=D(1))
    sheets = [Sheet(expert_id=e, marks={}, points={("A", "t"): D(v)}) for e, v in (("e1", 10), ("e2", 10), ("e3", 16))]
    assert outliers(scheme, ["A"], sheets) == []
    custom = Scheme(method="comprehensive", items=scheme.items, technical_weight=D(1), outlier_share=D("0.25"))
    assert [o.expert_id for o in outliers(custom, ["A"], sheets)] == ["e3"]


def test_scheme_refuses_weights_not_summing_to_one():
    bad = Scheme(method="comprehensive", items=ITEMS, technical_weight=D("0.5"), commercial_weight=D("0.2"),
                 price_weight=D("0.2"))
    assert [p.code for p in scheme_problems(bad)] == ["weights_invalid"]
    assert scheme_problems(SCHEME) == []


def test_scheme_refuses_unknown_reason_code_and_empty_group():
    bad = Scheme(method="comprehensive", items=(Item("t", "technical", D(10)),), criteria=(Criterion("q", "late"),),
                 technical_weight=D("0.5"), commercial_weight=D("0.2"), price_weight=D("0.3"))
    assert sorted(p.code for p in scheme_problems(bad)) == ["group_empty", "reason_code_unknown"]


def test_scheme_refuses_items_for_lowest_price():
    assert [p.code for p in scheme_problems(Scheme(method="lowest_price", items=ITEMS))] == ["items_not_allowed"]


def test_sheet_refuses_out_of_range_missing_and_uncommented_low_scores():
    s = Sheet(expert_id="e", marks={("A", "q1"): True, ("A", "q2"): False},
              points={("A", "t1"): D(31), ("A", "t2"): D(5), ("A", "c1"): D("10.125")})
    codes = sorted(p.code for p in sheet_problems(SCHEME, [Bid("A", 1)], s, complete=True))
    # t1 > max; t2 = 5 < 0.6·20 without comment; c1 has three decimals; q2 failed without a reason.
    assert codes == ["comment_required", "comment_required", "points_out_of_range", "points_out_of_range"]
    incomplete = Sheet(expert_id="e", marks={}, points={("A", "t1"): D(20)})
    codes = sorted(p.code for p in sheet_problems(SCHEME, [Bid("A", 1)], incomplete, complete=True))
    assert codes == ["mark_missing", "mark_missing", "points_missing", "points_missing"]
    assert sheet_problems(SCHEME, [Bid("A", 1)], incomplete, complete=False) == []


def test_sheet_accepts_low_score_with_comment():
    s = Sheet(expert_id="e", marks={("A", "q1"): True, ("A", "q2"): True},
              points={("A", "t1"): D(0), ("A", "t2"): D(20), ("A", "c1"): D("19.5")}, comments={("A", "t1"): "无方案"})
    assert sheet_problems(SCHEME, [Bid("A", 1)], s, complete=True) == []


def test_low_prices_points_at_a_price_below_four_fifths_of_the_others_mean():
    from evaluation.services import low_prices

    assert low_prices({"a": 100, "b": 100, "c": 81}) == []                       # 81 ≥ 0.8 × 100
    assert low_prices({"a": 100, "b": 100, "c": 79}) == [{"bid_id": "c", "price_fen": 79, "others_mean_fen": 100}]
    assert low_prices({"a": 100}) == []                                          # nothing to compare with
