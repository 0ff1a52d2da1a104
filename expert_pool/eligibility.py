"""Who may sit on an evaluation committee, as pure functions over facts the repository gathers.

Checked on approval (the personal rules) and again at every draw and every re-draw (all rules), so an expert who
aged out, was suspended, or declared a conflict since is not drawn.
"""
from __future__ import annotations

import os
from datetime import date

import msgspec

SENIOR_LEVELS = frozenset({"senior_full", "senior_deputy", "equivalent"})
TITLE_LEVELS = ("senior_full", "senior_deputy", "equivalent", "intermediate", "junior")
MIN_YEARS = 8

# Reason codes (stable: they are stored with each draw's exclusions and shown to regulators).
REASONS: dict[str, tuple[str, str]] = {
    "not_approved": ("未入库或已退出", "not an approved expert"),
    "suspended": ("暂停抽取", "suspended"),
    "experience_short": ("从业不满8年", "fewer than 8 years in the field"),
    "title_not_senior": ("无高级职称或同等专业水平", "no senior title or equivalent"),
    "age_limit": ("超过年龄上限", "over the age limit"),
    "employee_tenderer": ("招标人员工（含3年内）", "employee of the tenderer (now or within 3 years)"),
    "employee_bidder": ("投标人/领取文件单位员工（含3年内）",
                        "employee of a bidder or document holder (now or within 3 years)"),
    "tenderer_repeat": ("12个月内为该招标人评标次数已达上限",
                        "already served this tenderer the maximum times in 12 months"),
    "unavailable": ("评标日不可参加", "unavailable on the evaluation date"),
    "conflict_declared": ("已申报利害关系", "declared a conflict of interest"),
}


class PoolRules(msgspec.Struct, frozen=True, kw_only=True):
    """The settings of the pool (local rules differ; each is a setting)."""

    age_limit: int = 70                 # an expert must be under this age (many local rules: 70) [RULES 4.2]
    min_years: int = MIN_YEARS          # 招标投标法 第三十七条: 从事相关领域工作满八年
    tenderer_repeat_limit: int = 3      # times an expert may serve one tenderer in 12 months
    employment_lookback_years: int = 3  # 政府采购法实施条例 第九条: employees within 3 years
    confirm_minutes: int = 30           # time to confirm an invitation


def load_rules(env: dict[str, str] | None = None) -> PoolRules:
    env = dict(os.environ if env is None else env)
    kw = {}
    for field, name in (("age_limit", "TENDERHALL_EXPERT_AGE_LIMIT"),
                        ("tenderer_repeat_limit", "TENDERHALL_EXPERT_TENDERER_REPEAT_LIMIT"),
                        ("confirm_minutes", "TENDERHALL_EXPERT_CONFIRM_MINUTES")):
        if env.get(name):
            kw[field] = int(env[name])
    return PoolRules(**kw)


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """What the repository knows about one candidate for one draw."""

    expert_id: str
    status: str
    title_level: str
    practice_since: date
    birth_date: date
    employee_tenderer: bool = False
    employee_bidder: bool = False
    tenderer_draws: int = 0
    unavailable: bool = False
    conflict: bool = False


def full_years(since: date, on: date) -> int:
    years = on.year - since.year
    if (on.month, on.day) < (since.month, since.day):
        years -= 1
    return years


def personal_reasons(*, title_level: str, practice_since: date, birth_date: date, on: date,
                     rules: PoolRules) -> list[str]:
    """The rules about the person, checked on approval and at each draw."""
    reasons = []
    # 招标投标法 第三十七条: 从事相关领域工作满八年并具有高级职称或者具有同等专业水平
    if full_years(practice_since, on) < rules.min_years:
        reasons.append("experience_short")
    if title_level not in SENIOR_LEVELS:
        reasons.append("title_not_senior")
    # Local rules: an upper age limit (a setting, default 70).
    if full_years(birth_date, on) >= rules.age_limit:
        reasons.append("age_limit")
    return reasons


def exclusion_reasons(f: Facts, on: date, rules: PoolRules) -> list[str]:
    """Every reason this candidate may not be drawn for this lot on the evaluation date `on` (empty: eligible)."""
    reasons = []
    if f.status == "suspended":
        reasons.append("suspended")
    elif f.status != "approved":
        reasons.append("not_approved")
    reasons += personal_reasons(title_level=f.title_level, practice_since=f.practice_since,
                                birth_date=f.birth_date, on=on, rules=rules)
    # 招标投标法 第三十七条 / 招标投标法实施条例 第四十六条 / 政府采购法实施条例 第九条: 与投标人有利害关系
    if f.employee_tenderer:
        reasons.append("employee_tenderer")
    if f.employee_bidder:
        reasons.append("employee_bidder")
    if f.tenderer_draws >= rules.tenderer_repeat_limit:
        reasons.append("tenderer_repeat")
    if f.unavailable:
        reasons.append("unavailable")
    if f.conflict:
        reasons.append("conflict_declared")
    return reasons
