"""Per-regime rule settings (RULES.md G1): the Bidding Law (招标投标法 + 实施条例) or government procurement
(政府采购法 + 实施条例 + 财政部令第87号). Numbers and day units live here, the checks in services.py.
"""
from __future__ import annotations

from fractions import Fraction

import msgspec

from trading.dates import Unit


class RegimeRules(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    # Minimum period from the documents' first issue to the bid deadline, per procurement type.
    # 招标投标法 第二十四条 (依法必须招标: ≥ 20 日); 政府采购法 第三十五条 (≥ 20 日).
    min_bid_days: dict[str, int]
    min_bid_unit: Unit
    # Documents available for at least (招标投标法实施条例 第十六条: 5 日; 87号令 第十八条: 5 个工作日).
    min_docs_days: int
    min_docs_unit: Unit
    # A clarification/amendment affecting bid preparation needs this many days before the deadline
    # (招标投标法 第二十三条, 条例 第二十一条: 15 日; 87号令 第二十七条: 15 日).
    amendment_days: int
    amendment_unit: Unit
    # Objections to the documents. "before_deadline": up to objection_days before the bid deadline (条例 第二十二条:
    # 10 日). "after_obtaining": within objection_days of obtaining the documents (政府采购法 第五十二条,
    # 采购条例 第五十三条: 质疑 within 7 个工作日 of receiving the procurement documents).
    objection_days: int
    objection_unit: Unit
    objection_from: str = "before_deadline"
    # The answer to an objection is due within answer_days of receiving it, the day of receipt not counted
    # (条例 第二十二条: 自收到异议之日起3日内作出答复; 政府采购法 第五十三条: 收到书面质疑后七个工作日内作出答复).
    answer_days: int
    answer_unit: Unit
    # Bid deposit cap as a fraction of the lot's estimated price (条例 第二十六条; 采购条例 第三十三条: 2%).
    deposit_max: Fraction


BIDDING_LAW = RegimeRules(
    name="bidding_law",
    min_bid_days={"works": 20, "goods": 20, "services": 20},
    min_bid_unit="calendar",
    min_docs_days=5, min_docs_unit="calendar",
    amendment_days=15, amendment_unit="calendar",
    objection_days=10, objection_unit="calendar",
    answer_days=3, answer_unit="calendar",
    deposit_max=Fraction(2, 100),
)

GOV_PROCUREMENT = RegimeRules(
    name="gov_procurement",
    min_bid_days={"works": 20, "goods": 20, "services": 20},
    min_bid_unit="calendar",
    min_docs_days=5, min_docs_unit="working",
    amendment_days=15, amendment_unit="calendar",
    objection_days=7, objection_unit="working", objection_from="after_obtaining",
    answer_days=7, answer_unit="working",
    deposit_max=Fraction(2, 100),
)

REGIMES: dict[str, RegimeRules] = {r.name: r for r in (BIDDING_LAW, GOV_PROCUREMENT)}


def rules_for(regime: str) -> RegimeRules:
    return REGIMES[regime]
