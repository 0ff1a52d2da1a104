"""Eligibility rules as pure functions: each refuses the bad case and admits the good one."""
from __future__ import annotations

from datetime import date

import pytest

from expert_pool.eligibility import Facts, PoolRules, exclusion_reasons, full_years, load_rules, personal_reasons

ON = date(2026, 3, 2)
RULES = PoolRules()


def facts(**kw) -> Facts:
    base = dict(expert_id="e", status="approved", title_level="senior_deputy", practice_since=date(2010, 1, 1),
                birth_date=date(1970, 1, 1))
    base.update(kw)
    return Facts(**base)


def test_full_years_counts_birthdays():
    assert full_years(date(2018, 3, 2), ON) == 8
    assert full_years(date(2018, 3, 3), ON) == 7


def test_eligible_expert_has_no_reasons():
    assert exclusion_reasons(facts(), ON, RULES) == []


def test_experience_under_8_years_is_refused():
    # 招标投标法 第三十七条: 从事相关领域工作满八年
    assert "experience_short" in exclusion_reasons(facts(practice_since=date(2018, 3, 3)), ON, RULES)
    assert "experience_short" not in exclusion_reasons(facts(practice_since=date(2018, 3, 2)), ON, RULES)


@pytest.mark.parametrize("level", ["intermediate", "junior"])
def test_title_below_senior_is_refused(level):
    assert "title_not_senior" in exclusion_reasons(facts(title_level=level), ON, RULES)


@pytest.mark.parametrize("level", ["senior_full", "senior_deputy", "equivalent"])
def test_senior_title_or_equivalent_is_admitted(level):
    assert "title_not_senior" not in exclusion_reasons(facts(title_level=level), ON, RULES)


def test_age_limit_is_refused_on_the_birthday():
    assert "age_limit" in exclusion_reasons(facts(birth_date=date(1956, 3, 2)), ON, RULES)
    assert "age_limit" not in exclusion_reasons(facts(birth_date=date(1956, 3, 3)), ON, RULES)


def test_age_limit_is_a_setting():
    rules = load_rules({"TENDERHALL_EXPERT_AGE_LIMIT": "65"})
    assert rules.age_limit == 65
    assert personal_reasons(title_level="senior_full", practice_since=date(2000, 1, 1), birth_date=date(1960, 1, 1),
                            on=ON, rules=rules) == ["age_limit"]


def test_suspended_and_unapproved_are_refused():
    assert exclusion_reasons(facts(status="suspended"), ON, RULES) == ["suspended"]
    assert exclusion_reasons(facts(status="retired"), ON, RULES) == ["not_approved"]


@pytest.mark.parametrize("flag,reason", [("employee_tenderer", "employee_tenderer"),
                                         ("employee_bidder", "employee_bidder"),
                                         ("unavailable", "unavailable"), ("conflict", "conflict_declared")])
def test_avoidance_flags_are_refused(flag, reason):
    assert exclusion_reasons(facts(**{flag: True}), ON, RULES) == [reason]


def test_tenderer_repeat_limit_refuses_at_the_limit():
    assert exclusion_reasons(facts(tenderer_draws=2), ON, RULES) == []
    assert exclusion_reasons(facts(tenderer_draws=3), ON, RULES) == ["tenderer_repeat"]
