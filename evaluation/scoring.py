"""The arithmetic of evaluation: pure functions, no I/O, exact.

Inputs are exact decimals (experts' points with at most two places, prices in integer fen). The only divisions —
a group's points over its maximum, the base price over a bid price, the mean over the experts — are done in
`fractions.Fraction`, so every total is the exact rational number the rules describe and two bids tie only when
their totals are truly equal. Values are rounded (half up, 2 places) only for display, by `display()`.

Methods (DESIGN §10):
- qualification review (资格审查/符合性审查): a bid passes a criterion when a strict majority of the experts pass
  it; a bid failing any criterion is invalid, the criterion's reason code (条例 第五十一条) recorded;
- comprehensive scoring (综合评估法, 87号令 第五十五条): group score F_g = 100 × Σ points / Σ maximum for the
  technical and commercial groups; price score F_p = (base price / bid price) × 100 with base price = the lowest
  price among valid bids; an expert's total = Σ F × A over the groups with their weights A (Σ A = 1);
- lowest evaluated price (经评审的最低投标价法): valid bids ranked by evaluated price.
Ranking: comprehensive by mean total desc, then lower price, then higher technical score (87号令 第五十七条);
lowest price by evaluated price asc, then lower price. A tie that survives the tie-breaks is marked `tied` and
left to the committee (ordered by bid id only for a stable display).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Literal

import msgspec

Method = Literal["comprehensive", "lowest_price"]
Group = Literal["technical", "commercial"]
GROUPS: tuple[Group, ...] = ("technical", "commercial")

# 招标投标法实施条例 第五十一条: the seven grounds on which the committee must reject a bid.
REASON_CODES: dict[str, tuple[str, str]] = {
    "unsigned": ("投标文件未经投标单位盖章和单位负责人签字", "bid not sealed or signed"),
    "consortium_agreement_missing": ("投标联合体没有提交共同投标协议", "consortium without a joint bidding agreement"),
    "bidder_unqualified": ("投标人不符合国家或者招标文件规定的资格条件", "bidder does not meet the qualifications"),
    "multiple_bids_or_prices": ("同一投标人提交两个以上不同的投标文件或者投标报价",
                                "two or more different bids or prices from one bidder"),
    "price_below_cost_or_above_max": ("投标报价低于成本或者高于招标文件设定的最高投标限价",
                                      "price below cost or above the maximum price"),
    "non_responsive": ("投标文件没有对招标文件的实质性要求和条件作出响应", "not responsive to substantive requirements"),
    "collusion_fraud_bribery": ("投标人有串通投标、弄虚作假、行贿等违法行为", "collusion, fraud or bribery"),
    # 政府采购货物和服务招标投标管理办法 第五十九条第二款: a corrected price the bidder does not confirm
    "price_correction_refused": ("投标人不确认修正后的报价", "the bidder did not confirm the corrected price"),
}

# 政府采购货物和服务招标投标管理办法 第五十九条 (and 评标委员会和评标方法暂行规定 第十九条 for works): the rules that change
# the evaluated price. Its first rule (the opening summary prevails over the rest of the bid) and third (a misplaced
# decimal point in a unit price: the summary's total prevails) keep the price as opened — on this platform the
# opening summary is the sealed form itself — so they need no correction.
PRICE_RULES: dict[str, tuple[str, str]] = {
    "words_over_figures": ("大写金额和小写金额不一致的，以大写金额为准", "words prevail over figures"),
    "unit_prices_over_total": ("总价金额与按照单价汇总金额不一致的，以单价金额计算结果为准",
                               "the sum of the unit prices prevails over the total"),
}

DEFAULT_OUTLIER_SHARE = Decimal("0.30")
DEFAULT_COMMENT_BELOW_SHARE = Decimal("0.60")
CENT = Decimal("0.01")
HUNDRED = Fraction(100)


class Item(msgspec.Struct, frozen=True):
    id: str
    group: Group
    max_points: Decimal
    name: str = ""


class Criterion(msgspec.Struct, frozen=True):
    id: str
    reason_code: str
    name: str = ""


class Scheme(msgspec.Struct, frozen=True, kw_only=True):
    method: Method
    items: tuple[Item, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    technical_weight: Decimal = Decimal(0)
    commercial_weight: Decimal = Decimal(0)
    price_weight: Decimal = Decimal(0)
    outlier_share: Decimal = DEFAULT_OUTLIER_SHARE
    comment_below_share: Decimal = DEFAULT_COMMENT_BELOW_SHARE

    def weight(self, group: str) -> Decimal:
        return {"technical": self.technical_weight, "commercial": self.commercial_weight,
                "price": self.price_weight}[group]


class Bid(msgspec.Struct, frozen=True):
    id: str
    price_fen: int


class Sheet(msgspec.Struct, frozen=True, kw_only=True):
    """One expert's submitted work: pass/fail marks and item points, keyed by (bid id, criterion/item id)."""

    expert_id: str
    marks: Mapping[tuple[str, str], bool]
    points: Mapping[tuple[str, str], Decimal]
    comments: Mapping[tuple[str, str], str] = {}


class Problem(msgspec.Struct, frozen=True):
    code: str
    message: str
    bid_id: str | None = None
    item_id: str | None = None


def display(value: Fraction | Decimal | int) -> Decimal:
    """Round half up to 2 places — for display only, never for comparison."""
    if isinstance(value, Fraction):
        q, r = divmod(abs(value) * 100, 1)
        cents = int(q) + (1 if r >= Fraction(1, 2) else 0)
        return (Decimal(cents) / 100 * (-1 if value < 0 else 1)).quantize(CENT)
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------------------------------- schemes

def scheme_problems(scheme: Scheme) -> list[Problem]:
    """Everything wrong with a scheme, as data (empty list = usable)."""
    out: list[Problem] = []
    ids = [i.id for i in scheme.items] + [c.id for c in scheme.criteria]
    if len(ids) != len(set(ids)):
        out.append(Problem("duplicate_id", "item and criterion ids must be unique"))
    for c in scheme.criteria:
        if c.reason_code not in REASON_CODES:
            out.append(Problem("reason_code_unknown", f"criterion {c.name or c.id}: reason code {c.reason_code!r} is "
                               f"not one of the grounds of 条例 第五十一条", item_id=c.id))
    for i in scheme.items:
        if i.group not in GROUPS:
            out.append(Problem("group_unknown", f"item {i.name or i.id}: group must be technical or commercial",
                               item_id=i.id))
        if not 0 < i.max_points < 100000 or i.max_points.as_tuple().exponent < -2:
            out.append(Problem("max_points_invalid", f"item {i.name or i.id}: maximum must be > 0 and < 100000 "
                               "with at most two decimals", item_id=i.id))
    for share, name in ((scheme.outlier_share, "outlier_share"), (scheme.comment_below_share, "comment_below_share")):
        if not Decimal(0) <= share <= Decimal(1):
            out.append(Problem("share_invalid", f"{name} must be between 0 and 1"))
    for name in ("technical_weight", "commercial_weight", "price_weight", "outlier_share", "comment_below_share"):
        if getattr(scheme, name).as_tuple().exponent < -4:
            out.append(Problem("precision_invalid", f"{name} has more than four decimals"))
    if scheme.method == "comprehensive":
        weights = (scheme.technical_weight, scheme.commercial_weight, scheme.price_weight)
        if any(w < 0 for w in weights) or sum(weights) != 1:
            out.append(Problem("weights_invalid", "the technical, commercial and price weights must be ≥ 0 and sum "
                               "to 1 (87号令 第五十五条)"))
        for g in GROUPS:
            has_items = any(i.group == g for i in scheme.items)
            if scheme.weight(g) > 0 and not has_items:
                out.append(Problem("group_empty", f"the {g} group has a weight but no items"))
            if scheme.weight(g) == 0 and has_items:
                out.append(Problem("group_unweighted", f"the {g} group has items but no weight"))
    elif scheme.items:
        out.append(Problem("items_not_allowed", "the lowest evaluated price method has no scored items"))
    return out


# ---------------------------------------------------------------------------------------------------- sheets

def sheet_problems(scheme: Scheme, bids: Sequence[Bid], sheet: Sheet, *, complete: bool) -> list[Problem]:
    """Validate an expert's sheet: every point within 0..max with ≤ 2 decimals, a comment below the configured
    share of the maximum and on every fail mark, and (when `complete`) every criterion marked and every item
    scored for every bid."""
    out: list[Problem] = []
    bid_ids = {b.id for b in bids}
    items = {i.id: i for i in scheme.items}
    criteria = {c.id for c in scheme.criteria}
    for (bid_id, item_id), pts in sheet.points.items():
        if bid_id not in bid_ids or item_id not in items:
            out.append(Problem("unknown_target", "a score names an unknown bid or item", bid_id, item_id))
            continue
        item = items[item_id]
        if not (Decimal(0) <= pts <= item.max_points) or pts.as_tuple().exponent < -2:
            out.append(Problem("points_out_of_range", f"{item.name or item.id}: {pts} is outside 0..{item.max_points}"
                               " (at most two decimals)", bid_id, item_id))
        elif pts < scheme.comment_below_share * item.max_points and not sheet.comments.get((bid_id, item_id), "").strip():
            out.append(Problem("comment_required", f"{item.name or item.id}: a score below "
                               f"{scheme.comment_below_share:%} of the maximum needs a comment", bid_id, item_id))
    for (bid_id, crit_id), passed in sheet.marks.items():
        if bid_id not in bid_ids or crit_id not in criteria:
            out.append(Problem("unknown_target", "a mark names an unknown bid or criterion", bid_id, crit_id))
        elif not passed and not sheet.comments.get((bid_id, crit_id), "").strip():
            out.append(Problem("comment_required", "a failed criterion needs a written reason", bid_id, crit_id))
    if complete:
        for b in bids:
            for c in scheme.criteria:
                if (b.id, c.id) not in sheet.marks:
                    out.append(Problem("mark_missing", f"criterion {c.name or c.id} not marked", b.id, c.id))
            for i in scheme.items:
                if (b.id, i.id) not in sheet.points:
                    out.append(Problem("points_missing", f"item {i.name or i.id} not scored", b.id, i.id))
    return out


# ------------------------------------------------------------------------------------------------ qualification

class Failure(msgspec.Struct, frozen=True):
    criterion_id: str
    reason_code: str
    passes: int
    experts: int


def qualification(scheme: Scheme, bids: Sequence[Bid], sheets: Sequence[Sheet]) -> dict[str, list[Failure]]:
    """bid id → failed criteria (empty = valid). A criterion passes on a strict majority of the experts."""
    n = len(sheets)
    out: dict[str, list[Failure]] = {}
    for b in bids:
        failures = []
        for c in scheme.criteria:
            passes = sum(1 for s in sheets if s.marks.get((b.id, c.id)) is True)
            if passes * 2 <= n:
                failures.append(Failure(c.id, c.reason_code, passes, n))
        out[b.id] = failures
    return out


# ------------------------------------------------------------------------------------------------------- price

def price_scores(bids: Iterable[Bid]) -> dict[str, Fraction]:
    """87号令 第五十五条: price score = (base price / bid price) × 100, base = the lowest valid price.
    Every valid price takes part: neither the highest nor the lowest is dropped."""
    bids = list(bids)
    if not bids:
        return {}
    if any(b.price_fen <= 0 for b in bids):
        raise ValueError("a bid price must be positive")
    base = min(b.price_fen for b in bids)
    return {b.id: Fraction(base, b.price_fen) * HUNDRED for b in bids}


# ------------------------------------------------------------------------------------------------------ totals

class ExpertTotal(msgspec.Struct, frozen=True):
    expert_id: str
    technical: Fraction      # F_tech × A_tech
    commercial: Fraction     # F_comm × A_comm
    price: Fraction          # F_price × A_price
    total: Fraction


def _coefficients(scheme: Scheme) -> list[tuple[str, tuple[str, ...], Fraction]]:
    """Per group: its item ids and c_g = 100 × A_g / Σ max_g, so that the weighted group score is Σ points × c_g."""
    out = []
    for g in GROUPS:
        items = [i for i in scheme.items if i.group == g]
        if items:
            top = sum((i.max_points for i in items), Decimal(0))
            out.append((g, tuple(i.id for i in items), HUNDRED * Fraction(scheme.weight(g)) / Fraction(top)))
    return out


def expert_total(scheme: Scheme, sheet: Sheet, bid_id: str, price_score: Fraction,
                 coefficients: list[tuple[str, tuple[str, ...], Fraction]] | None = None) -> ExpertTotal:
    parts = {"technical": Fraction(0), "commercial": Fraction(0)}
    points = sheet.points
    for g, ids, c in coefficients if coefficients is not None else _coefficients(scheme):
        got = sum([points[(bid_id, i)] for i in ids], Decimal(0))
        num, den = got.as_integer_ratio()
        parts[g] = Fraction(num * c.numerator, den * c.denominator)
    price = price_score * Fraction(scheme.price_weight)
    return ExpertTotal(sheet.expert_id, parts["technical"], parts["commercial"], price,
                       parts["technical"] + parts["commercial"] + price)


# ------------------------------------------------------------------------------------------------- aggregation

class BidResult(msgspec.Struct, kw_only=True):
    bid_id: str
    price_fen: int
    valid: bool
    failures: list[Failure]
    price_score: Fraction | None = None
    technical: Fraction | None = None        # mean of experts' weighted technical parts
    commercial: Fraction | None = None
    total: Fraction | None = None            # mean of experts' totals
    evaluated_price_fen: int | None = None
    expert_totals: list[ExpertTotal] = []
    rank: int | None = None
    tied: bool = False                       # equal to a neighbour after every tie-break


class Outcome(msgspec.Struct, kw_only=True):
    method: Method
    results: list[BidResult]                 # ranked valid bids first (rank 1..), then invalid bids

    @property
    def valid(self) -> list[BidResult]:
        return [r for r in self.results if r.valid]

    def candidates(self, limit: int = 3) -> list[BidResult]:
        """招标投标法实施条例 第五十三条: up to three ranked candidates."""
        return self.valid[:limit]


def _mean(values: Sequence[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def aggregate(scheme: Scheme, bids: Sequence[Bid], sheets: Sequence[Sheet], *,
              with_expert_totals: bool = True, excluded: Mapping[str, Sequence[Failure]] | None = None) -> Outcome:
    """Qualify, score and rank. Sheets must be complete and valid (`sheet_problems` empty). `excluded`: bids made
    invalid by the law whatever the marks (e.g. 条例 第三十四条), with the failures to report for them.

    The mean of the experts' totals equals Σ_g c_g · (Σ_experts points_g) / n + price part, so the exact mean
    needs only a few rational operations per bid; each expert's own total is added when `with_expert_totals`."""
    if not sheets:
        raise ValueError("no submitted sheets")
    n = len(sheets)
    qual = qualification(scheme, bids, sheets)
    for bid_id, failures in (excluded or {}).items():
        if bid_id in qual:
            qual[bid_id] = [*qual[bid_id], *failures]
    results = [BidResult(bid_id=b.id, price_fen=b.price_fen, valid=not qual[b.id], failures=qual[b.id])
               for b in bids]
    valid = [r for r in results if r.valid]
    if scheme.method == "comprehensive":
        scores = price_scores(Bid(r.bid_id, r.price_fen) for r in valid)
        coefficients = _coefficients(scheme)
        price_weight = Fraction(scheme.price_weight)
        all_points = [s.points for s in sheets]
        for r in valid:
            r.price_score = scores[r.bid_id]
            parts = {"technical": Fraction(0), "commercial": Fraction(0)}
            for g, ids, c in coefficients:
                keys = [(r.bid_id, i) for i in ids]
                got = sum([p[k] for p in all_points for k in keys], Decimal(0))
                num, den = got.as_integer_ratio()
                parts[g] = Fraction(num * c.numerator, den * c.denominator * n)
            r.technical, r.commercial = parts["technical"], parts["commercial"]
            r.total = r.technical + r.commercial + r.price_score * price_weight
            if with_expert_totals:
                r.expert_totals = [expert_total(scheme, s, r.bid_id, r.price_score, coefficients) for s in sheets]

        def key(r: BidResult) -> tuple:
            return (-r.total, r.price_fen, -r.technical)  # type: ignore[operator]
    else:
        for r in valid:
            r.evaluated_price_fen = r.price_fen

        def key(r: BidResult) -> tuple:
            return (r.evaluated_price_fen, r.price_fen)
    keys = {r.bid_id: key(r) for r in valid}
    valid.sort(key=lambda r: (keys[r.bid_id], r.bid_id))
    for i, r in enumerate(valid):
        if i and keys[valid[i - 1].bid_id] == keys[r.bid_id]:
            r.rank = valid[i - 1].rank
            r.tied = valid[i - 1].tied = True
        else:
            r.rank = i + 1
    invalid = sorted((r for r in results if not r.valid), key=lambda r: r.bid_id)
    return Outcome(method=scheme.method, results=valid + invalid)


# ----------------------------------------------------------------------------------------------------- outliers

class Outlier(msgspec.Struct, frozen=True):
    expert_id: str
    bid_id: str
    item_id: str
    points: Decimal
    others_mean: Fraction
    max_points: Decimal


def outliers(scheme: Scheme, bid_ids: Iterable[str], sheets: Sequence[Sheet]) -> list[Outlier]:
    """An item score more than `outlier_share` × the item's maximum away from the mean of the other experts'
    scores for the same bid and item. Compared exactly: |x·(n−1) − Σothers| > share·max·(n−1)."""
    n = len(sheets)
    if n < 2:
        return []
    out: list[Outlier] = []
    limits = [(item, scheme.outlier_share * item.max_points * (n - 1)) for item in scheme.items]
    all_points = [s.points for s in sheets]
    for bid_id in bid_ids:
        for item, limit in limits:
            key = (bid_id, item.id)
            pts = [p[key] for p in all_points]
            total = sum(pts, Decimal(0))
            # x·(n−1) − (total − x) = x·n − total
            low, high = total - limit, total + limit
            for s, x in zip(sheets, pts):
                xn = x * n
                if xn > high or xn < low:
                    out.append(Outlier(s.expert_id, bid_id, item.id, x, Fraction(total - x) / (n - 1),
                                       item.max_points))
    return out


def group_points(sheets: Iterable[Sheet]) -> dict[str, dict[tuple[str, str], Decimal]]:
    """expert id → points (a convenience for tables)."""
    out: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(dict)
    for s in sheets:
        out[s.expert_id].update(s.points)
    return dict(out)
